"""The envelope protocol's bytes, as docs/envelope-protocol.md gives them: unsigned-varint
length prefixes with a limit checked before the body, envelope and acknowledgement bodies."""

from __future__ import annotations

from typing import cast

import pytest
import trio
from envelope_hosts import A, B
from libp2p.abc import INetStream
from libp2p.network.stream.exceptions import StreamEOF

from node_runtime.libp2p_adapter.envelope_wire import (
    ENVELOPE_PROTOCOL_ID,
    Envelope,
    MalformedMessageError,
    MessageReader,
    MessageTooLargeError,
    TruncatedMessageError,
    decode_ack,
    encode_ack,
    encode_message,
    read_message,
)


class ScriptedStream:
    """Reads as a py-libp2p stream does: what was written, in the given chunks, then
    `StreamEOF`. Counts the bytes read, to show what a reader did not read."""

    def __init__(self, *chunks: bytes) -> None:
        self._data = b"".join(chunks)
        self.consumed = 0

    async def read(self, n: int | None = None) -> bytes:
        if self.consumed == len(self._data):
            raise StreamEOF()
        end = len(self._data) if n is None else self.consumed + min(n, 7)  # short reads
        chunk = self._data[self.consumed : end]
        self.consumed += len(chunk)
        return chunk


def stream(*chunks: bytes) -> tuple[INetStream, ScriptedStream]:
    scripted = ScriptedStream(*chunks)
    return cast(INetStream, scripted), scripted


def test_the_protocol_id_is_versioned() -> None:
    assert ENVELOPE_PROTOCOL_ID == "/nodesnap/envelopes/1.0.0"


def test_an_envelope_is_kind_destination_seq_and_payload() -> None:
    envelope = Envelope(B.peer_id, 0x0102030405060708, b"hi")
    destination = B.peer_id.to_bytes()
    assert envelope.encode() == (
        b"\x10" + bytes([len(destination)]) + destination + bytes(range(1, 9)) + b"hi"
    )
    assert Envelope.decode(envelope.encode()) == envelope
    assert len(Envelope(B.peer_id, 1, b"").encode()) == 48  # an Ed25519 PeerId is 38 bytes


def test_an_ack_is_kind_and_seq() -> None:
    assert encode_ack(258) == b"\x11" + (258).to_bytes(8, "big")
    assert decode_ack(encode_ack(2**64 - 1)) == 2**64 - 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x11" + bytes(8), id="ack"),
        pytest.param(b"\x10", id="no-destination-length"),
        pytest.param(b"\x10\x26" + bytes(10), id="truncated"),
        pytest.param(b"\x10\x03abc" + bytes(8), id="bad-destination"),
        pytest.param(Envelope(A.peer_id, 1, b"").encode()[:-8] + bytes(8), id="seq-zero"),
    ],
)
def test_a_malformed_envelope_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        Envelope.decode(body)


@pytest.mark.parametrize(
    "body", [b"", b"\x11" + bytes(7), b"\x10" + bytes(8), encode_ack(1) + b"x"]
)
def test_a_malformed_ack_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        decode_ack(body)


@pytest.mark.parametrize("seq", [0, 2**64])
def test_an_envelope_seq_is_a_nonzero_u64(seq: int) -> None:
    with pytest.raises(ValueError, match="seq"):
        Envelope(B.peer_id, seq, b"")


def test_a_message_is_an_unsigned_varint_length_then_the_body() -> None:
    assert encode_message(b"abc") == b"\x03abc"
    assert encode_message(bytes(300)) == b"\xac\x02" + bytes(300)  # 300 = 0b10_0101100
    with pytest.raises(MessageTooLargeError):
        encode_message(bytes(11), max_size=10)


def test_messages_are_read_back_across_short_reads_until_a_clean_end() -> None:
    net, _ = stream(encode_message(b"first"), encode_message(bytes(300)), encode_message(b""))

    async def main() -> list[bytes | None]:
        return [await read_message(net, 1000) for _ in range(4)]

    assert trio.run(main) == [b"first", bytes(300), b"", None]


def test_a_length_over_the_limit_is_refused_before_the_body_is_read() -> None:
    net, scripted = stream(encode_message(bytes(1000)))

    async def main() -> None:
        await MessageReader(net, 999, chunk_size=16).read_message()

    with pytest.raises(MessageTooLargeError):
        trio.run(main)
    assert scripted.consumed <= 16  # one chunk at most, not the body


def test_a_reader_reads_in_chunks_and_knows_when_a_whole_message_is_buffered() -> None:
    net, scripted = stream(encode_message(b"one"), encode_message(b"two"), encode_message(b"3"))

    async def main() -> list[tuple[bytes | None, bool]]:
        reader = MessageReader(net, 100, chunk_size=64)
        read = []
        for _ in range(4):
            message = await reader.read_message()
            read.append((message, reader.holds_a_message()))
        return read

    # The fake stream answers 7 bytes a read: the first holds "one" and part of "two", the
    # second the rest of "two" and all of "3".
    assert trio.run(main) == [(b"one", False), (b"two", True), (b"3", False), (None, False)]
    assert scripted.consumed == 10


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(b"\x80", TruncatedMessageError, id="inside-the-prefix"),
        pytest.param(b"\x05abc", TruncatedMessageError, id="inside-the-body"),
        pytest.param(b"\xff" * 10 + b"\x01", MalformedMessageError, id="prefix-over-10-bytes"),
        pytest.param(b"\xff" * 9 + b"\x7f", MalformedMessageError, id="prefix-over-64-bits"),
    ],
)
def test_a_broken_message_is_refused(data: bytes, error: type[Exception]) -> None:
    net, scripted = stream(data)

    async def main() -> None:
        await read_message(net, 1 << 20)

    with pytest.raises(error):
        trio.run(main)
    assert scripted.consumed <= len(data)


def test_a_stream_that_ends_before_a_message_ends_cleanly() -> None:
    net, _ = stream()

    async def main() -> int | None:
        return await MessageReader(net, 10).read_length()

    assert trio.run(main) is None
