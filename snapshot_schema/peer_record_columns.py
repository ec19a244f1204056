"""Column tests (see `column_checks.py`) for the structures spec version 2 added: peer records,
address expiries, typed metadata and IP networks. Each judges a whole column as the record
constructors judge one value (`tests/schema/test_fast_path_agreement.py` holds them equal)."""

from __future__ import annotations

import math
import operator
from functools import partial
from itertools import chain, compress, repeat
from typing import Any

from snapshot_schema.checks import U64_MAX
from snapshot_schema.column_checks import (
    U64S,
    Column,
    all_of,
    any_bytes,
    column,
    each_unique,
    names,
    rows_of,
)
from snapshot_schema.peer_record_checks import I64_MIN, key_mismatch, public_key_problem

_ED25519_KEY_PREFIX = bytes.fromhex("08011220")  # PublicKey{Type: Ed25519, Data: 32 bytes}
_ED25519_KEY_SIZE = 36
_IDENTITY_PREFIX = bytes.fromhex("0024")  # identity multihash of a 36-byte key
_first = operator.itemgetter(0)
_is_not_none = partial(operator.is_not, None)
_METADATA_TYPES = frozenset({str, int, float, bool, bytes, type(None)})


def public_keys(keys: Column) -> bool:
    """Every key is a canonical public key protobuf (`public_key_problem`); the usual column,
    all Ed25519, in a few C passes."""
    if not keys:
        return True
    if all_of(keys, bytes) and set(map(len, keys)) == {_ED25519_KEY_SIZE}:
        joined = b"".join(keys)
        if all(
            joined[offset::_ED25519_KEY_SIZE] == bytes([byte]) * len(keys)
            for offset, byte in enumerate(_ED25519_KEY_PREFIX)
        ):
            return True
    return not any(map(public_key_problem, keys))


def keys_match_peers(peers: Column, keys: Column) -> bool:
    """Every key that is not `None` matches its peer (`key_mismatch`): for identity PeerIds of
    Ed25519 keys, one comparison each."""
    present = tuple(map(operator.is_not, keys, repeat(None)))
    peers = tuple(compress(peers, present))
    keys = tuple(compress(keys, present))
    if all(map(operator.eq, peers, map(_IDENTITY_PREFIX.__add__, keys))):
        return True
    return not any(map(key_mismatch, peers, keys))


def protocol_lists(lists: Column) -> bool:
    """Tuples of names, each sorted strictly ascending."""
    if not all_of(lists, tuple):
        return False
    items = tuple(chain.from_iterable(lists))
    return (
        names(items)
        and all(map(operator.eq, lists, map(tuple, map(sorted, lists))))
        and each_unique(lists, items)
    )


def expiry_lists(lists: Column) -> bool:
    """Tuples of u64s and `None`s."""
    if not all_of(lists, tuple):
        return False
    items = tuple(chain.from_iterable(lists))
    return U64S(tuple(filter(_is_not_none, items)))


def metadata_lists(lists: Column) -> bool:
    """Tuples of `(key, value)` pairs: keys names, strictly ascending within each tuple; values
    metadata values (`metadata_value_problem`)."""
    if not all_of(lists, tuple):
        return False
    pairs = tuple(chain.from_iterable(lists))
    if not rows_of(pairs, 2):
        return False
    keys = column(pairs, 0)
    if not names(keys):
        return False
    key_lists = tuple(map(tuple, map(map, repeat(_first), lists)))
    if not (
        all(map(operator.eq, key_lists, map(tuple, map(sorted, key_lists))))
        and each_unique(key_lists, keys)
    ):
        return False
    return metadata_values(column(pairs, 1))


def metadata_values(values: Column) -> bool:
    """Every value is a metadata value: exact types, integers in -2**63..2**64-1, no NaN or
    -0.0, strings UTF-8 can encode."""
    kinds = list(map(type, values))
    if not set(kinds) <= _METADATA_TYPES:
        return False
    ints = tuple(compress(values, map(operator.is_, kinds, repeat(int))))
    if ints and not (min(ints) >= I64_MIN and max(ints) <= U64_MAX):
        return False
    floats = tuple(compress(values, map(operator.is_, kinds, repeat(float))))
    if not all(map(operator.eq, floats, floats)):  # NaN equals nothing
        return False
    zeros = tuple(filter(operator.not_, floats))
    if any(map(operator.lt, map(math.copysign, repeat(1.0), zeros), repeat(0.0))):
        return False
    text = "".join(compress(values, map(operator.is_, kinds, repeat(str))))
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return False
    return True


def optional_nonempty_bytes(values: Column) -> bool:
    present = tuple(filter(_is_not_none, values))
    return any_bytes(present) and all(present)


def optional_u64s(values: Column) -> bool:
    return U64S(tuple(filter(_is_not_none, values)))


def optional_public_keys(values: Column) -> bool:
    return public_keys(tuple(filter(_is_not_none, values)))


_big_endian = partial(int.from_bytes, byteorder="big")
_BITS = {4: 32, 16: 128}
_HOST_MASKS: dict[tuple[int, Any], int] = {
    (size, prefix): (1 << (bits - prefix)) - 1
    for size, bits in _BITS.items()
    for prefix in range(bits + 1)
}


def ip_networks(rows: Column) -> bool:
    """`[address, prefix_length]` rows of valid networks (`ip_network_problem`), sorted
    strictly ascending."""
    if not rows_of(rows, 2):
        return False
    addresses, prefixes = column(rows, 0), column(rows, 1)
    if not (all_of(addresses, bytes) and all_of(prefixes, int)):
        return False
    sizes = tuple(map(len, addresses))
    masks = tuple(map(_HOST_MASKS.get, zip(sizes, prefixes, strict=True)))
    if None in masks:  # a size other than 4 or 16, or a prefix out of range
        return False
    values = map(_big_endian, addresses)
    if any(map(operator.and_, values, masks)):
        return False
    return all(map(operator.lt, rows, rows[1:]))
