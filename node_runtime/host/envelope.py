"""Envelopes (application messages) and acknowledgements: the frames after the handshake.

An envelope's encoding is both what `Node.outbound` stores and, unchanged, a frame's payload:

    0x10 ‖ u8 len(destination) ‖ destination PeerId bytes ‖ u64 BE seq ‖ payload

- The destination lets one FIFO (`Node.outbound`) hold envelopes for many peers.
- The sender is not written: it is the PeerId the connection's handshake proved.
- The message ID is `(sender, seq)`. `seq` is minted by the sending host, strictly increasing
  across all of its envelopes (see `host.py` for why it survives crashes), and is stored inside
  the queued bytes: an envelope resent after a restore carries the ID it was first given, so the
  receiver can tell it is a duplicate.

An acknowledgement, sent by the receiver on the same connection, is

    0x11 ‖ u64 BE seq

meaning "every envelope from you to me with a seq up to `seq` has been delivered".
"""

from __future__ import annotations

from typing import Final

import attrs

from node_runtime.errors import InvalidPeerIdError
from node_runtime.peer_id import PeerId

ENVELOPE_KIND: Final = 0x10
ACK_KIND: Final = 0x11
_SEQ_SIZE: Final = 8
_U64_MAX: Final = 2**64 - 1


class EnvelopeError(ValueError):
    """Bytes that are not a well-formed envelope or acknowledgement."""


@attrs.frozen
class Envelope:
    """A payload for `destination`, numbered `seq` (1..2**64-1) by its sender."""

    destination: PeerId
    seq: int
    payload: bytes

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.seq <= _U64_MAX:
            raise EnvelopeError(f"seq must be in 1..{_U64_MAX}, got {self.seq}")

    def encode(self) -> bytes:
        destination = self.destination.to_bytes()
        return b"".join(
            (
                bytes((ENVELOPE_KIND, len(destination))),
                destination,
                self.seq.to_bytes(_SEQ_SIZE, "big"),
                self.payload,
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        """The envelope `data` encodes; `EnvelopeError` for anything else."""
        if len(data) < 2 or data[0] != ENVELOPE_KIND:
            raise EnvelopeError("not an envelope")
        seq_at = 2 + data[1]
        if len(data) < seq_at + _SEQ_SIZE:
            raise EnvelopeError("envelope truncated")
        try:
            destination = PeerId.from_bytes(data[2:seq_at])
        except InvalidPeerIdError as error:
            raise EnvelopeError(f"bad destination: {error}") from None
        payload_at = seq_at + _SEQ_SIZE
        return cls(destination, int.from_bytes(data[seq_at:payload_at], "big"), data[payload_at:])


def encode_ack(seq: int) -> bytes:
    return bytes((ACK_KIND,)) + seq.to_bytes(_SEQ_SIZE, "big")


def decode_ack(data: bytes) -> int:
    """The seq an acknowledgement carries; `EnvelopeError` for anything else."""
    if len(data) != 1 + _SEQ_SIZE or data[0] != ACK_KIND:
        raise EnvelopeError("not an acknowledgement")
    return int.from_bytes(data[1:], "big")
