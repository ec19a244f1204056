"""Frames and envelopes: round trips, the size limit, truncation, malformed envelopes."""

from __future__ import annotations

import asyncio

import pytest

from node_runtime import Identity
from node_runtime.host import (
    Envelope,
    EnvelopeError,
    FrameTooLargeError,
    TruncatedFrameError,
    decode_ack,
    decode_frame,
    encode_ack,
    encode_frame,
    read_frame,
)

PEER = Identity.from_private_bytes(b"\x01" * 32).peer_id


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def _read_all(data: bytes, max_size: int = 1 << 20) -> list[bytes]:
    reader = _reader(data)
    frames = []
    while (frame := await read_frame(reader, max_size=max_size)) is not None:
        frames.append(frame)
    return frames


def test_frames_round_trip() -> None:
    payloads = [b"", b"a", bytes(range(256)) * 10]
    data = b"".join(encode_frame(p) for p in payloads)
    assert encode_frame(b"ab") == b"\x00\x00\x00\x02ab"
    rest, decoded = data, []
    while rest:
        payload, rest = decode_frame(rest)
        decoded.append(payload)
    assert decoded == payloads
    assert asyncio.run(_read_all(data)) == payloads


def test_oversize_frames_are_refused_before_the_payload() -> None:
    with pytest.raises(FrameTooLargeError):
        encode_frame(b"x" * 11, max_size=10)
    header_only = (11).to_bytes(4, "big")  # refused on the header: no payload needed
    with pytest.raises(FrameTooLargeError):
        decode_frame(header_only, max_size=10)
    with pytest.raises(FrameTooLargeError):
        asyncio.run(_read_all(header_only, max_size=10))
    assert asyncio.run(_read_all(encode_frame(b"x" * 10), max_size=10)) == [b"x" * 10]


@pytest.mark.parametrize("cut", [1, 3, 4, 6])
def test_truncated_frames(cut: int) -> None:
    data = encode_frame(b"hello")[:cut]
    with pytest.raises(TruncatedFrameError):
        decode_frame(data)
    with pytest.raises(TruncatedFrameError):
        asyncio.run(_read_all(data))


def test_read_frame_times_out() -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"\x00\x00")  # half a header, then silence
        with pytest.raises(TimeoutError):
            await read_frame(reader, timeout=0.01)

    asyncio.run(main())


def test_envelope_and_ack_round_trip() -> None:
    envelope = Envelope(PEER, 2**64 - 1, b"payload")
    data = envelope.encode()
    assert data[:2] == bytes([0x10, 38])
    assert data[2:40] == PEER.to_bytes()
    assert data[40:48] == b"\xff" * 8
    assert Envelope.decode(data) == envelope
    assert encode_ack(5) == b"\x11" + (5).to_bytes(8, "big")
    assert decode_ack(encode_ack(5)) == 5


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x11" + bytes(8),  # an ack is not an envelope
        Envelope(PEER, 1, b"").encode()[:-1],  # truncated seq
        bytes([0x10, 3, 0, 0, 0]) + bytes(8),  # bad PeerId
        Envelope(PEER, 1, b"").encode()[:-8] + bytes(8),  # seq 0
    ],
    ids=["empty", "ack", "truncated", "bad-peer-id", "seq-0"],
)
def test_malformed_envelopes(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        Envelope.decode(data)


def test_malformed_ack() -> None:
    with pytest.raises(EnvelopeError):
        decode_ack(b"\x11" + bytes(7))
