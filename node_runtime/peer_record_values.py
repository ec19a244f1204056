"""Tests of the values a peer record holds, for restored rows: whole-row tests that judge the
usual row (already canonical, as `PeerRecordBook.entries()` writes it) in a few passes in C,
so a restore checks 100k rows in a fraction of the time the per-value checks would take. A row
a test does not pass is checked value by value, which finds and names the culprit.

Each test is exact in one direction only: True means every check would pass; False means only
that the row must be checked in full.
"""

from __future__ import annotations

from operator import itemgetter, lt
from typing import Final

from snapshot_schema.peer_record_checks import metadata_value_problem

_STR: Final = frozenset({str})
_PAIR: Final = frozenset({tuple})
_TWO: Final = frozenset({2})
_ED25519_KEY_PREFIX: Final = bytes([0x08, 0x01, 0x12, 0x20])
_ED25519_PEER_PREFIX: Final = bytes([0x00, 36])


def size_of(value: str | bytes) -> int:
    """Bytes of a value as a snapshot stores it (UTF-8 for text)."""
    if isinstance(value, bytes):
        return len(value)
    return len(value) if value.isascii() else len(value.encode())


def is_inlined_ed25519_key(peer: bytes, key: object) -> bool:
    """Whether `key` is the Ed25519 `PublicKey` protobuf that `peer` (an identity multihash)
    inlines: the usual key, which then needs no further check."""
    return (
        type(key) is bytes
        and len(key) == 36
        and key.startswith(_ED25519_KEY_PREFIX)
        and peer.startswith(_ED25519_PEER_PREFIX)
        and peer[2:] == key
    )


def are_canonical_names(names: object, max_count: int, max_size: int) -> bool:
    """Whether `names` is a tuple of at most `max_count` non-empty ASCII names, each within
    `max_size` bytes, sorted strictly ascending (so each once): protocols as a book holds them."""
    return (
        type(names) is tuple
        and len(names) <= max_count
        and set(map(type, names)) <= _STR
        and all(names)
        and all(map(str.isascii, names))
        and max(map(len, names), default=0) <= max_size
        and all(map(lt, names, names[1:]))
    )


def is_canonical_metadata(
    metadata: object, max_count: int, max_name_size: int, max_value_size: int
) -> bool:
    """Whether `metadata` is a tuple of `(key, value)` pairs as a book holds it: keys as
    `are_canonical_names` wants them, each value within its domain and `max_value_size`."""
    if type(metadata) is not tuple or len(metadata) > max_count:
        return False
    if not metadata:
        return True
    if set(map(type, metadata)) != _PAIR or set(map(len, metadata)) != _TWO:
        return False
    keys = tuple(map(itemgetter(0), metadata))
    return are_canonical_names(keys, max_count, max_name_size) and all(
        _fits(value, max_value_size) for _, value in metadata
    )


def _fits(value: object, max_size: int) -> bool:
    """A metadata value in its domain (the schema's rule) and within `max_size` bytes; text
    only when ASCII, whose size is its length."""
    if metadata_value_problem(value) is not None:
        return False
    if type(value) is str:
        return value.isascii() and len(value) <= max_size
    return type(value) is not bytes or len(value) <= max_size
