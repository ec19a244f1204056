"""The pubsub blacklist as a node extension: `libp2p/pubsub-blacklist`.

The bytes are a msgpack array of the blacklisted peers' PeerIds, each as its multihash bytes
(msgpack `bin`), sorted ascending, each once: equal blacklists give equal bytes. A node holds
no such extension while the blacklist is empty. A later layout would take a new namespace, so
these bytes never change meaning. Pure: libp2p is not needed to read or write them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgpack

from node_runtime.errors import InvalidPeerIdError
from node_runtime.peer_id import PeerId

BLACKLIST_EXTENSION: Final = "libp2p/pubsub-blacklist"


class MalformedBlacklistError(ValueError):
    """Bytes that are not a pubsub blacklist as `encode_blacklist` writes it."""


def encode_blacklist(peers: Iterable[bytes]) -> bytes:
    """The extension bytes of a blacklist of peers (PeerId multihash bytes; repeats count
    once)."""
    return msgpack.packb(sorted(set(peers)), use_bin_type=True)


def decode_blacklist(data: bytes) -> tuple[bytes, ...]:
    """The PeerIds (multihash bytes, sorted) `data` lists. Raises `MalformedBlacklistError` for
    anything `encode_blacklist` would not write: not one msgpack array of `bin` with the
    shortest headers, out of order or repeated, holding bytes that are no PeerId, or trailing
    bytes.

    The bytes come from a snapshot, so they may be hostile: they are read header by header,
    each entry checked as it is reached, so a bad entry is refused before the rest is read and
    memory stays within a small multiple of `len(data)`.
    """
    count, at = _header(data, 0, _ARRAY_HEADERS, "the array")
    peers: list[bytes] = []
    for index in range(count):
        size, at = _header(data, at, _BIN_HEADERS, f"entry {index}")
        if size > MAX_PEER_ID_SIZE:
            raise MalformedBlacklistError(f"entry {index}: {size} bytes is no PeerId")
        if at + size > len(data):
            raise MalformedBlacklistError(f"entry {index}: truncated")
        peer = data[at : at + size]
        at += size
        try:
            PeerId.from_bytes(peer)
        except InvalidPeerIdError as error:
            raise MalformedBlacklistError(f"entry {index}: {error}") from None
        if peers and peers[-1] >= peer:
            raise MalformedBlacklistError(f"entry {index}: not sorted ascending, or repeated")
        peers.append(peer)
    if at != len(data):
        raise MalformedBlacklistError(f"{len(data) - at} bytes after the array")
    return tuple(peers)


MAX_PEER_ID_SIZE: Final = 128
"""Far above any PeerId's multihash (an identity multihash holds at most 42 bytes of key)."""

# (first byte or range, extra length bytes, smallest length that needs this header)
_ARRAY_HEADERS: Final = ((0x90, 0x9F, 0, 0), (0xDC, 0xDC, 2, 16), (0xDD, 0xDD, 4, 1 << 16))
_BIN_HEADERS: Final = ((0xC4, 0xC4, 1, 0), (0xC5, 0xC5, 2, 1 << 8), (0xC6, 0xC6, 4, 1 << 16))


def _header(
    data: bytes, at: int, headers: tuple[tuple[int, int, int, int], ...], what: str
) -> tuple[int, int]:
    """The length a msgpack array or bin header at `at` gives, and where its content starts;
    a header longer than its length needs is refused (equal blacklists, equal bytes)."""
    if at >= len(data):
        raise MalformedBlacklistError(f"{what}: truncated")
    first = data[at]
    for low, high, extra, smallest in headers:
        if low <= first <= high:
            if extra == 0:
                return first - low, at + 1
            end = at + 1 + extra
            if end > len(data):
                raise MalformedBlacklistError(f"{what}: truncated header")
            length = int.from_bytes(data[at + 1 : end], "big")
            if length < smallest:
                raise MalformedBlacklistError(f"{what}: a longer header than its length needs")
            return length, end
    raise MalformedBlacklistError(f"{what}: unexpected msgpack byte 0x{first:02x}")
