"""Tests over a whole column of decoded values, each rule one pass of a builtin that runs in C.

A snapshot may hold hundreds of thousands of tiny entries (a frontier of `[0, 0]` pairs is three
bytes an entry). Calling a Python function per value costs far more per input byte than msgpack
spends decoding it, so the decoder tests a structure a column at a time: every value of one
field at once, with `map`, `set`, `list.count`, `array`, `all` and `chain`. A test returns
whether *every* value of the column passes the rule its name states, judged exactly as the
record constructors judge one value (`tests/schema/test_fast_path_agreement.py` holds the two
equal); on `False` the decoder narrows the fault down to a window (`failing_window`) and walks
that window value by value to say which value is wrong, and where.

Columns are tuples. Values come from msgpack (`bytes`, `str`, `int`, `bool`, `None`, tuples) or,
through `build_framework`, from any producer, so every test checks exact types first.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Callable, Collection
from functools import partial
from itertools import chain, compress, islice
from typing import Any

from snapshot_schema.multihash import SINGLE_BYTE_CODES, is_multihash

Column = tuple[Any, ...]
ColumnTest = Callable[[Column], bool]

_is_not_none = partial(operator.is_not, None)
_BYTES_OR_NONE: frozenset[type] = frozenset({bytes, type(None)})


def all_of(values: Collection[Any], kind: type) -> bool:
    """Every value is exactly a `kind` (a `bool` is no `int`). Counting the types in a list
    takes two thirds of the time of collecting them in a set."""
    return list(map(type, values)).count(kind) == len(values)


def column(rows: Column, index: int) -> Column:
    """The `index`-th element of every row."""
    return tuple(map(operator.itemgetter(index), rows))


CHUNK = 4096
"""Values per window when a failed test is narrowed down to where it fails."""


def failing_window(values: Column, test: ColumnTest) -> tuple[int, int] | None:
    """Where `test` first fails over `values`: the bounds of the first window of `CHUNK` values
    that fails it, or `None` if none does. Each window also holds the value before it, so a
    fault between two neighbours (their order) lies inside one; a repeat far apart does not.

    Walking only that window value by value says what is wrong at the cost of one more pass of
    column tests, however far into a large array the fault sits."""
    for start in range(0, len(values), CHUNK):
        first = max(start - 1, 0)
        if not test(values[first : start + CHUNK]):
            return first, start + CHUNK
    return None


def first_repeat(values: Column) -> int | None:
    """The index of the first value equal to an earlier one, or `None`; in C, by sorting the
    positions by value (the values must compare)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ordered = tuple(map(values.__getitem__, order))
    repeats = compress(islice(order, 1, None), map(operator.eq, ordered, islice(ordered, 1, None)))
    return min(repeats, default=None)


def strictly_ascending(values: Column) -> bool:
    """Each value is below the next: sorted, with no value twice. The values must compare."""
    return all(map(operator.lt, values, islice(values, 1, None)))


def _array_code(size: int) -> str:
    """The `array` type code of unsigned integers of `size` bytes on this platform."""
    return next(code for code in "BHILQ" if array(code).itemsize == size)


def _uints(code: str) -> ColumnTest:
    """A test for `int`s (never `bool`s) that fit the unsigned `array` type `code`: `array`
    range-checks every value in one C pass, a third of the time of `min` and `max`."""

    def test(values: Column) -> bool:
        if not all_of(values, int):
            return False
        try:
            array(code, values)
        except OverflowError:  # negative or too large
            return False
        return True

    return test


U32S = _uints(_array_code(4))
"""`int`s in `0..2**32-1`."""
U64S = _uints(_array_code(8))
"""`int`s in `0..2**64-1`."""


def any_bytes(values: Column) -> bool:
    return all_of(values, bytes)


def nonempty_bytes(values: Column) -> bool:
    return all_of(values, bytes) and all(values)


def optional_bytes(values: Column) -> bool:
    return set(map(type, values)) <= _BYTES_OR_NONE


def bools(values: Column) -> bool:
    return all_of(values, bool)


def names(values: Column) -> bool:
    """Non-empty `str`s that UTF-8 can encode (no lone surrogates: see `check_name`)."""
    if not (all_of(values, str) and all(values)):
        return False
    text = "".join(values)
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def optional(test: ColumnTest) -> ColumnTest:
    """`test` for the values that are not `None`; `None`s pass."""
    return lambda values: test(tuple(filter(_is_not_none, values)))


def rows_of(rows: Column, arity: int) -> bool:
    """Every row is a tuple of `arity` elements."""
    return not rows or (all_of(rows, tuple) and set(map(len, rows)) == {arity})


def columns_pass(rows: Column, field_tests: tuple[ColumnTest | None, ...]) -> bool:
    """For rows known to be tuples of one element per test: the `i`-th elements of every row
    pass the `i`-th test (`None`: not tested here). Each column is read, tested and dropped
    in turn, so at most one column is held at a time."""
    return all(
        field_test(column(rows, index))
        for index, field_test in enumerate(field_tests)
        if field_test is not None
    )


def records(*field_tests: ColumnTest | None) -> ColumnTest:
    """A test for rows that are tuples of exactly one element per test, the `i`-th elements
    passing the `i`-th test (see `columns_pass`)."""
    arity = len(field_tests)
    return lambda rows: rows_of(rows, arity) and columns_pass(rows, field_tests)


def arrays(item_test: ColumnTest, *, unique: bool = False) -> ColumnTest:
    """A test for tuples whose items pass `item_test`; with `unique`, none holds an item twice."""

    def test(values: Column) -> bool:
        if not all_of(values, tuple):
            return False
        items = tuple(chain.from_iterable(values))
        return item_test(items) and (not unique or each_unique(values, items))

    return test


_LARGE_ARRAY = 4096
"""Arrays longer than this are checked for repeats by sorting, not with a set: a set costs
32-64 bytes per value, more than the values it checks (docs/FORMAT.md §5)."""


def each_unique(arrays: Column, items: Column) -> bool:
    """No array holds a value twice, given their `items` end to end (values hashable and
    comparable with each other)."""
    lengths = set(map(len, arrays))
    if max(lengths, default=0) < 2:
        return True
    if lengths == {2}:  # the common address list: one comparison per pair, no set
        return all(map(operator.ne, items[0::2], items[1::2]))
    if max(lengths) <= _LARGE_ARRAY:
        return sum(map(len, map(set, arrays))) == len(items)
    small = tuple(compress(arrays, map(_LARGE_ARRAY.__ge__, map(len, arrays))))
    large = compress(arrays, map(_LARGE_ARRAY.__lt__, map(len, arrays)))
    return sum(map(len, map(set, small))) == sum(map(len, small)) and all(map(_no_repeats, large))


def _no_repeats(values: Column) -> bool:
    ordered = sorted(values)
    return all(map(operator.ne, ordered, islice(ordered, 1, None)))


def mapping(key_test: ColumnTest, value_test: ColumnTest) -> ColumnTest:
    """A test for a mapping's `[key, value]` rows: keys and values pass their tests and the keys
    are strictly ascending (FORMAT.md §1)."""
    pairs = records(key_test, value_test)
    return lambda rows: pairs(rows) and strictly_ascending(column(rows, 0))


SITE_EXECS = records(U64S, U64S)
"""`SiteExec`s: `[node_site_id, exec_id]` pairs of u64."""
NAMED_PAYLOADS = records(names, any_bytes)
"""`[name, payload]` pairs: a name and its bytes (completion results, invoke inputs)."""


# --- PeerIds -------------------------------------------------------------------------------

_SINGLE_BYTE_CODES = bytes(sorted(SINGLE_BYTE_CODES))


def all_multihashes(peers: Collection[Any]) -> bool:
    """`is_multihash` for every peer, in a few C passes for the shapes PeerIds take.

    The fast paths hold for `bytes` whose first byte is a one-byte multihash code and whose
    second, the digest length, is one byte and the size minus two (identity Ed25519 keys,
    sha2-256). Peers of one size are joined and their code and length bytes read with a
    strided slice each; mixed sizes are tested with `map`. Anything else (multi-byte codes
    such as blake2b) goes through `is_multihash` one peer at a time.
    """
    if not peers:
        return True
    if set(map(type, peers)) == {bytes}:
        sizes = set(map(len, peers))
        if len(sizes) == 1:
            (size,) = sizes
            if 2 <= size < 0x82:  # the length byte, size - 2, is below 0x80: a one-byte varint
                joined = b"".join(peers)
                lengths, codes = joined[1::size], joined[0::size]
                if lengths == bytes([size - 2]) * len(peers) and not codes.translate(
                    None, _SINGLE_BYTE_CODES
                ):
                    return True
        elif (
            min(sizes) >= 2
            and max(sizes) < 0x82
            and set(map(operator.sub, map(len, peers), map(_second_byte, peers))) == {2}
            and set(map(_first_byte, peers)) <= SINGLE_BYTE_CODES
        ):
            return True
    return all(map(is_multihash, peers))


_first_byte = operator.itemgetter(0)
_second_byte = operator.itemgetter(1)


class PeerColumns:
    """Tests the peer-id columns of a framework's tables: multihashes, no peer twice.

    The tables of one snapshot usually list the same peers in the same (sorted) order, so a
    column of exact `bytes` equal to one that passed passes without another look (comparing two
    columns is one `memcmp` per peer; columns of different lengths differ at once). The type
    test comes first because a `bytes` subclass, which no field accepts, equals its `bytes`.
    """

    def __init__(self) -> None:
        self._passed: list[Column] = []

    def __call__(self, peers: Column) -> bool:
        if all_of(peers, bytes) and peers in self._passed:
            return True
        if not (all_multihashes(peers) and _distinct(peers)):
            return False
        self._passed.append(peers)
        return True


def _distinct(peers: Column) -> bool:
    """No value twice: one comparison per neighbour when sorted (as a node writes its tables),
    a set otherwise."""
    return strictly_ascending(peers) or len(set(peers)) == len(peers)
