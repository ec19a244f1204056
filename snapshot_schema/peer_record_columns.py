"""Column tests (see `column_checks.py`) for the structures spec version 2 added: peer records,
address expiries, typed metadata and IP networks. Each judges a whole column as the record
constructors judge one value (`tests/schema/test_fast_path_agreement.py` holds them equal)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from functools import partial
from itertools import accumulate, chain, compress, islice, repeat
from typing import Any

from snapshot_schema.checks import U64_MAX, Path
from snapshot_schema.column_checks import (
    U64S,
    Column,
    ColumnTest,
    all_of,
    any_bytes,
    column,
    failing_window,
    names,
    rows_of,
    strictly_ascending,
)
from snapshot_schema.peer_record_checks import (
    I64_MIN,
    check_metadata,
    check_protocols,
    key_mismatch,
    public_key_problem,
)

_ED25519_KEY_PREFIX = bytes.fromhex("08011220")  # PublicKey{Type: Ed25519, Data: 32 bytes}
_ED25519_KEY_SIZE = 36
_IDENTITY_PREFIX = bytes.fromhex("0024")  # identity multihash of a 36-byte key
_is_not_none = partial(operator.is_not, None)
_METADATA_TYPES = frozenset({str, int, float, bool, bytes, type(None)})
_TEXT_TYPES = frozenset({str, bytes, type(None)})
_STR = frozenset({str})
_TUPLE = frozenset({tuple})


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
    Ed25519 keys, the peers end to end are the keys end to end, each after the identity
    prefix (a comparison of two joined strings)."""
    absent = keys.count(None)
    if absent == len(keys):
        return True
    if absent:
        present = tuple(map(operator.is_not, keys, repeat(None)))
        peers = tuple(compress(peers, present))
        keys = tuple(compress(keys, present))
    if set(map(len, peers)) == {len(_IDENTITY_PREFIX) + _ED25519_KEY_SIZE} and set(
        map(len, keys)
    ) == {_ED25519_KEY_SIZE}:
        prefixed = chain.from_iterable(zip(repeat(_IDENTITY_PREFIX), keys))
        if b"".join(peers) == b"".join(prefixed):
            return True
    return not any(map(key_mismatch, peers, keys))


def each_strictly_ascending(lists: Column, items: Column) -> bool:
    """Each tuple of `lists` holds its items strictly ascending, so each once, given `items`:
    the tuples' items end to end (all of them must compare). Every neighbour in `items` that
    does not ascend must be the first item of a tuple: one comparison per item, and a set of
    tuple starts only when some neighbours do not ascend, never a sort or a set per tuple."""
    descents = tuple(
        compress(range(1, len(items)), map(operator.ge, items, islice(items, 1, None)))
    )
    return not descents or set(accumulate(map(len, lists))).issuperset(descents)


def protocol_lists(lists: Column) -> bool:
    """Tuples of names, each sorted strictly ascending. Peers share protocol sets: once every
    item is known to be exactly a `str` (one pass over the items, none copied), equal tuples
    pass or fail alike, so the rules are checked on each distinct tuple once."""
    if not (all_of(lists, tuple) and _item_types(lists) <= _STR):
        return False
    distinct = tuple(set(lists))
    items = tuple(chain.from_iterable(distinct))
    return names(items) and each_strictly_ascending(distinct, items)


def expiry_lists(lists: Column) -> bool:
    """Tuples of u64s and `None`s (every address permanent, as version 1's all are: one pass)."""
    if not all_of(lists, tuple):
        return False
    items = tuple(chain.from_iterable(lists))
    return all_of(items, type(None)) or U64S(tuple(filter(_is_not_none, items)))


def metadata_lists(lists: Column) -> bool:
    """Tuples of `(key, value)` pairs: keys names, strictly ascending within each tuple; values
    metadata values (`metadata_value_problem`). Peers share much of their metadata, and when
    every pair is exactly a `tuple` and every key and value exactly a `str`, `bytes` or `None`,
    equal tuples are identical in type and pass or fail alike: the rules are then checked on
    each distinct tuple once. Numbers do not qualify: `1`, `1.0` and `True` are equal, as are
    `2**64` (refused) and `2.0**64` (valid), and `-0.0` (refused) and `0.0`."""
    if not (all_of(lists, tuple) and _item_types(lists) <= _TUPLE):
        return False
    if _item_types(chain.from_iterable(lists)) <= _TEXT_TYPES:
        lists = tuple(set(lists))
    return _metadata_pairs(lists)


def _item_types(lists: Iterable[Column]) -> set[type]:
    """The exact types of the items of tuples `lists`, in one pass that copies none."""
    return set(map(type, chain.from_iterable(lists)))


def _metadata_pairs(lists: Column) -> bool:
    """`metadata_lists` for tuples of tuples, checked one by one."""
    pairs = tuple(chain.from_iterable(lists))
    if not rows_of(pairs, 2):
        return False
    keys_and_values = tuple(chain.from_iterable(pairs))
    if not (all_of(keys_and_values[0::2], str) and metadata_values(keys_and_values[1::2])):
        return False
    distinct = tuple(set(lists))
    keys = column(tuple(chain.from_iterable(distinct)), 0)
    return names(keys) and each_strictly_ascending(distinct, keys)


def _of_type(values: Column, kinds: list[type], kind: type) -> Column:
    """The values whose type is `kind` (`kinds`: each value's type)."""
    count = kinds.count(kind)
    if count == len(values):
        return values
    return tuple(compress(values, map(operator.is_, kinds, repeat(kind)))) if count else ()


def metadata_values(values: Column) -> bool:
    """Every value is a metadata value: exact types, integers in -2**63..2**64-1, no NaN or
    -0.0, strings UTF-8 can encode."""
    kinds = list(map(type, values))
    if not set(kinds) <= _METADATA_TYPES:
        return False
    ints = _of_type(values, kinds, int)
    if ints and not (min(ints) >= I64_MIN and max(ints) <= U64_MAX):
        return False
    floats = _of_type(values, kinds, float)
    if not all(map(operator.eq, floats, floats)):  # NaN equals nothing
        return False
    zeros = tuple(filter(operator.not_, floats))
    if any(map(operator.lt, map(math.copysign, repeat(1.0), zeros), repeat(0.0))):
        return False
    text = "".join(_of_type(values, kinds, str))
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


_BITS = {4: 32, 16: 128}
_HOST_MASKS: dict[tuple[int, Any], bytes] = {
    (size, prefix): ((1 << (bits - prefix)) - 1).to_bytes(size, "big")
    for size, bits in _BITS.items()
    for prefix in range(bits + 1)
}
"""The host bits of each address size and prefix length, as bytes."""


def ip_networks(rows: Column) -> bool:
    """`[address, prefix_length]` rows of valid networks (`ip_network_problem`), sorted
    strictly ascending. No host bit is set when the addresses, end to end, share no bit with
    their host masks end to end: one `and` of two integers, however many networks."""
    if not rows_of(rows, 2):
        return False
    addresses, prefixes = column(rows, 0), column(rows, 1)
    if not (all_of(addresses, bytes) and all_of(prefixes, int)):
        return False
    masks: Column = tuple(map(_HOST_MASKS.get, zip(map(len, addresses), prefixes, strict=True)))
    if masks.count(None):  # a size other than 4 or 16, or a prefix out of range
        return False
    host_bits = int.from_bytes(b"".join(addresses), "big") & int.from_bytes(b"".join(masks), "big")
    return not host_bits and strictly_ascending(rows)


_SHORT = 16
"""Tuples up to this long are checked item by item: cheaper than a few passes over columns."""


def windowed(
    check: Callable[[object, Path, int], None], column_test: ColumnTest
) -> Callable[[object, Path], None]:
    """`check` of a whole tuple (its third argument: the index of the tuple's first item)
    made to cost a few C passes for a long tuple: `column_test` judges its windows as `check`
    judges them, and `check` walks only the first window that fails, for the path of the
    fault, or the whole tuple if the test is stricter than it. A million protocols or
    metadata pairs then cost the constructor, and the decoder's walk, no Python call each."""

    def checked(value: object, path: Path) -> None:
        if type(value) is tuple and len(value) > _SHORT:
            window = failing_window(value, column_test)
            if window is None:
                return
            first, stop = window
            check(value[first:stop], path, first)
        check(value, path, 0)

    return checked


check_protocol_tuple = windowed(check_protocols, lambda items: protocol_lists((items,)))
"""`check_protocols`, in C for a long tuple."""
check_metadata_tuple = windowed(check_metadata, lambda pairs: metadata_lists((pairs,)))
"""`check_metadata`, in C for a long tuple."""
