"""The `libp2p/pubsub-blacklist` extension bytes (docs/FORMAT.md, "Extensions"): what
`encode_blacklist` writes reads back exactly, and anything else, hostile bytes included, is a
`MalformedBlacklistError` found without reading past the first bad entry."""

from __future__ import annotations

import tracemalloc

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node_runtime import Identity
from node_runtime.libp2p_adapter import MalformedBlacklistError, decode_blacklist, encode_blacklist


def peer(n: int) -> bytes:
    return Identity.from_private_bytes(n.to_bytes(32, "big")).peer_id.to_bytes()


PEERS = [peer(n) for n in range(1, 40)]  # 39 peers: past a fixarray's 15 entries


@given(st.sets(st.sampled_from(PEERS)))
def test_what_encode_writes_decodes_to_the_same_peers_sorted(peers: set[bytes]) -> None:
    data = encode_blacklist(peers)
    assert decode_blacklist(data) == tuple(sorted(peers))
    assert msgpack.unpackb(data, use_list=False) == tuple(sorted(peers))


def test_the_bytes_are_those_format_md_specifies() -> None:
    # An array header, then each PeerId as `bin 8` (0xc4, length, bytes), sorted bytewise.
    first, second = sorted(PEERS[:2])
    assert encode_blacklist([second, first]) == (
        b"\x92" + b"\xc4" + bytes([len(first)]) + first + b"\xc4" + bytes([len(second)]) + second
    )
    many = sorted(PEERS[:16])  # past 15 entries the array header is `array 16`
    assert encode_blacklist(many)[:3] == b"\xdc\x00\x10"


def test_repeats_count_once_and_order_does_not_matter() -> None:
    assert encode_blacklist([PEERS[1], PEERS[0], PEERS[1]]) == encode_blacklist(PEERS[:2])


SORTED = sorted(PEERS[:2])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the array: truncated"),
        (msgpack.packb({}), "unexpected msgpack byte 0x80"),
        (msgpack.packb(["text"]), "entry 0: unexpected msgpack byte"),
        (msgpack.packb([1]), "entry 0: unexpected msgpack byte"),
        (msgpack.packb(SORTED[::-1]), "entry 1: not sorted ascending, or repeated"),
        (msgpack.packb([SORTED[0], SORTED[0]]), "entry 1: not sorted ascending, or repeated"),
        (msgpack.packb([b"\x00\x01"]), "entry 0: invalid PeerId"),
        (msgpack.packb([bytes(200)]), "entry 0: 200 bytes is no PeerId"),
        (msgpack.packb(SORTED) + b"\x00", "1 bytes after the array"),
        (msgpack.packb(SORTED)[:-1], "entry 1: truncated$"),
        (b"\x92\xc4", "entry 0: truncated header"),
        (b"\xdc\x00\x01" + msgpack.packb(SORTED[0]), "the array: a longer header than"),
        (b"\x91\xc5\x00\x26" + SORTED[0], "entry 0: a longer header than"),
    ],
)
def test_anything_encode_would_not_write_is_refused_with_the_place(
    data: bytes, message: str
) -> None:
    with pytest.raises(MalformedBlacklistError, match=message):
        decode_blacklist(data)


def test_a_hostile_count_is_refused_at_the_first_bad_entry_without_reading_the_rest() -> None:
    # An array32 header claiming 2**32 - 1 entries, then 64 MiB of empty `bin`s: a whole-value
    # msgpack read would build 32 million objects before any check.
    data = b"\xdd\xff\xff\xff\xff" + b"\xc4\x00" * (32 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(MalformedBlacklistError, match="entry 0: invalid PeerId"):
            decode_blacklist(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
