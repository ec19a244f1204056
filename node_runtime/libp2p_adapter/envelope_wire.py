"""The bytes of the envelope protocol, `/nodesnap/envelopes/1.0.0` (docs/envelope-protocol.md).

A stream carries messages, each `uvarint(len(body)) ‖ body`: the unsigned varint of libp2p
(multiformats unsigned-varint, as identify and multistream-select frame theirs), at most 10
bytes, then a body of at most `max_message_size` bytes. A reader checks the length against its
limit before it reads the body. The first body byte is the kind:

    ENVELOPE  0x10 ‖ u8 len(destination) ‖ destination PeerId ‖ u64 BE seq ‖ payload
    ACK       0x11 ‖ u64 BE seq

An envelope's body is exactly what `Node.outbound` stores, so one queue holds envelopes for
many peers and a snapshot keeps each envelope's ID `(sender, seq)`. The sender is not written:
it is the PeerId the connection's secure channel (Noise) proved. An ACK, sent back on the same
stream, means "every envelope from you to me with a seq up to `seq` has been delivered".
"""

from __future__ import annotations

from typing import Final

import attrs
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.exceptions import ParseError
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.utils.varint import decode_uvarint, encode_uvarint

from node_runtime.errors import InvalidPeerIdError
from node_runtime.peer_id import PeerId

ENVELOPE_PROTOCOL_ID: Final = TProtocol("/nodesnap/envelopes/1.0.0")
DEFAULT_MAX_MESSAGE_SIZE: Final = 1 << 20
"""The largest body a peer may send (1 MiB): checked before the body is read."""
ENVELOPE_KIND: Final = 0x10
ACK_KIND: Final = 0x11
ACK_SIZE: Final = 9
_SEQ_SIZE: Final = 8
_U64_MAX: Final = 2**64 - 1
_MAX_VARINT_BYTES: Final = 10  # a u64


class MalformedMessageError(ValueError):
    """Bytes from a peer that are not a well-formed message of this protocol."""


class MessageTooLargeError(MalformedMessageError):
    """A length prefix above the reader's limit (or a body above the writer's)."""


class TruncatedMessageError(MalformedMessageError):
    """The stream ended inside a message."""


@attrs.frozen
class Envelope:
    """A payload for `destination`, numbered `seq` (1..2**64-1) by its sender."""

    destination: PeerId
    seq: int
    payload: bytes

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.seq <= _U64_MAX:
            raise ValueError(f"seq must be in 1..{_U64_MAX}, got {self.seq}")

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
        """The envelope `data` encodes; `MalformedMessageError` for anything else."""
        if len(data) < 2 or data[0] != ENVELOPE_KIND:
            raise MalformedMessageError("not an envelope")
        seq_at = 2 + data[1]
        if len(data) < seq_at + _SEQ_SIZE:
            raise MalformedMessageError("envelope truncated")
        try:
            destination = PeerId.from_bytes(data[2:seq_at])
        except InvalidPeerIdError as error:
            raise MalformedMessageError(f"bad destination: {error}") from None
        payload_at = seq_at + _SEQ_SIZE
        seq = int.from_bytes(data[seq_at:payload_at], "big")
        if seq == 0:
            raise MalformedMessageError("envelope seq 0")
        return cls(destination, seq, data[payload_at:])


def encode_ack(seq: int) -> bytes:
    return bytes((ACK_KIND,)) + seq.to_bytes(_SEQ_SIZE, "big")


def decode_ack(data: bytes) -> int:
    """The seq an acknowledgement carries; `MalformedMessageError` for anything else."""
    if len(data) != ACK_SIZE or data[0] != ACK_KIND:
        raise MalformedMessageError("not an acknowledgement")
    return int.from_bytes(data[1:], "big")


def encode_message(body: bytes, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> bytes:
    """`uvarint(len(body)) ‖ body`; `MessageTooLargeError` above `max_size`."""
    if len(body) > max_size:
        raise MessageTooLargeError(f"a body of {len(body)} bytes exceeds the limit of {max_size}")
    return encode_uvarint(len(body)) + body


DEFAULT_CHUNK_SIZE: Final = 1 << 14
"""How much a `MessageReader` asks the stream for at once (it buffers at most this much beyond
the message it reads)."""


class MessageReader:
    """Reads a stream's messages through a small buffer: a read from py-libp2p's stream costs
    far more than a byte, so a reader never asks for one byte at a time. It holds at most
    `chunk_size` bytes beyond the message it is reading."""

    def __init__(
        self, stream: INetStream, max_size: int, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        self._stream = stream
        self._max_size = max_size
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._ended = False

    async def _fill(self) -> bool:
        """Read more into the buffer; False at the end of the stream (py-libp2p raises
        `StreamEOF` there)."""
        if not self._ended:
            try:
                chunk = await self._stream.read(self._chunk_size)
            except StreamEOF:
                chunk = b""
            self._ended = not chunk
            self._buffer += chunk
        return not self._ended

    def _prefix(self) -> tuple[int, int] | None:
        """The buffered length prefix, decoded, and its size; `None` if incomplete."""
        for index, byte in enumerate(self._buffer[:_MAX_VARINT_BYTES]):
            if not byte & 0x80:
                try:
                    return decode_uvarint(bytes(self._buffer[: index + 1])), index + 1
                except ParseError as error:
                    raise MalformedMessageError(f"bad length prefix: {error}") from None
        if len(self._buffer) >= _MAX_VARINT_BYTES:
            raise MalformedMessageError("a length prefix over 10 bytes")
        return None

    async def read_length(self) -> int | None:
        """The next message's body length, `None` if the stream ended cleanly before it.

        `MessageTooLargeError` above `max_size`, before the body is read;
        `TruncatedMessageError` for a stream ending inside the prefix; `MalformedMessageError`
        for a prefix over 10 bytes or 64 bits."""
        while (prefix := self._prefix()) is None:
            if not await self._fill():
                if self._buffer:
                    raise TruncatedMessageError("the stream ended inside a length prefix")
                return None
        length, size = prefix
        if length > self._max_size:
            raise MessageTooLargeError(
                f"a body of {length} bytes exceeds the limit of {self._max_size}"
            )
        del self._buffer[:size]
        return length

    async def read_body(self, length: int) -> bytes:
        """Exactly `length` bytes; `TruncatedMessageError` if the stream ends first."""
        while len(self._buffer) < length:
            if not await self._fill():
                raise TruncatedMessageError(
                    f"the stream ended {len(self._buffer)} bytes into a {length}"
                )
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return body

    async def read_message(self) -> bytes | None:
        """The next message's body, `None` if the stream ended cleanly before it."""
        length = await self.read_length()
        return None if length is None else await self.read_body(length)

    def holds_a_message(self) -> bool:
        """Whether a whole message is buffered already (its reader need not wait for it)."""
        try:
            prefix = self._prefix()
        except MalformedMessageError:
            return True  # reading it fails at once
        return prefix is not None and len(self._buffer) >= prefix[1] + prefix[0]


async def read_message(stream: INetStream, max_size: int) -> bytes | None:
    """The next message's body on `stream`, `None` if it ended cleanly before one; for a
    one-off read (a `MessageReader` may buffer past the message)."""
    return await MessageReader(stream, max_size, chunk_size=1).read_message()
