"""The migration from spec version 1 to 2 (docs/FORMAT.md, "Changes from version 1").

Version 2 adds, and changes nothing version 1 had:
- a fourth field to every address book entry, `expires_ns`: one `nil` (permanent) per address,
  since version 1 addresses never expired;
- two fields to the peer governor, `ip_allow` and `ip_deny`: empty (no IP filter);
- two fields to the framework, `peer_records` and `extensions`: empty.

Like every migration it works on the body as msgpack decodes it (arrays as tuples), or as an
earlier migration left it (arrays as lists or tuples). What does not have version 1's
shape is passed through unchanged, so the version 2 validation that follows refuses it with the
path of the value at fault, as for any other invalid input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, repeat
from operator import add, itemgetter, mul
from typing import Any, TypeGuard

_V1_FRAMEWORK_FIELDS = 9
_V1_GOVERNOR_FIELDS = 4
_V1_ADDRESS_ENTRY_FIELDS = 3


def upgrade_v1_to_v2(body: object) -> object:
    """A version 1 body as a version 2 body."""
    if not _is_array(body, 10):
        return body
    framework = body[5]
    if not _is_array(framework, _V1_FRAMEWORK_FIELDS):
        return body
    address_book, governor = framework[2], framework[3]
    if _is_array(address_book):
        address_book = _with_permanent_addresses(address_book)
    if _is_array(governor, _V1_GOVERNOR_FIELDS):
        governor = (*governor, (), ())
    upgraded = (*framework[:2], address_book, governor, *framework[4:], (), ())
    return (*body[:5], upgraded, *body[6:])


_CHUNK = 4096


def _with_permanent_addresses(address_book: Sequence[Any]) -> tuple[Any, ...]:
    """Every entry with one `nil` expiry per address, a chunk of entries at a time."""
    chunks = (address_book[start : start + _CHUNK] for start in range(0, len(address_book), _CHUNK))
    return tuple(chain.from_iterable(map(_with_permanent_chunk, chunks)))


def _with_permanent_chunk(entries: Sequence[Any]) -> Iterable[Any]:
    """Entries as msgpack decodes them are extended in C, all at once (a Python call per entry
    would cost a body of tiny entries many times its decoding, docs/FORMAT.md §5); a chunk
    holding anything else, one entry at a time."""
    if (
        type(entries) is tuple
        and list(map(type, entries)).count(tuple) == len(entries)
        and set(map(len, entries)) <= {_V1_ADDRESS_ENTRY_FIELDS}
    ):
        addresses = tuple(map(itemgetter(1), entries))
        if list(map(type, addresses)).count(tuple) == len(addresses):
            expiries = map(mul, repeat((None,)), map(len, addresses))
            return map(add, entries, zip(expiries))
    return map(_with_permanent_entry, entries)


def _with_permanent_entry(entry: object) -> object:
    if not _is_array(entry, _V1_ADDRESS_ENTRY_FIELDS):
        return entry
    addresses = entry[1]
    if not _is_array(addresses):
        return entry
    return (*entry, (None,) * len(addresses))


def _is_array(value: object, length: int | None = None) -> TypeGuard[Sequence[Any]]:
    """`value` is an array (of `length` elements, if given)."""
    return isinstance(value, tuple | list) and (length is None or len(value) == length)
