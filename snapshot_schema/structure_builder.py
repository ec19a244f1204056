"""Build one structure of a decoded body from its columns, or walk it value by value.

A structure (an array, a mapping, a table) is tested a column at a time with the C-speed tests
of `column_checks.py` and built with no Python code per entry (`fast` builders). When a test
refuses it, it is walked value by value (`body_walk.py`), which names the exact path of what
is wrong; a long array is first narrowed down to the window where the test fails, so refusing
costs about what accepting does, wherever in the array the fault sits. A structure that
passes the walk anyway is built by it: a column test stricter than the walk costs time, never a
wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from snapshot_schema.checks import Path
from snapshot_schema.column_checks import (
    Column,
    ColumnTest,
    column,
    failing_window,
    rows_of,
    strictly_ascending,
)
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.unchecked import unchecked_records

T = TypeVar("T")


def attempt(build: Callable[[], T | None]) -> T | None:
    """`build()`: a structure built from its columns, or `None` if a column test refused it.
    Every fast path goes through here (the tests force the walk by replacing it)."""
    return build()


Walk = Callable[[Any, Path, int], T]
"""Builds a structure value by value, naming the first wrong value: `walk(raw, path, start)`,
where `raw` may be a window of the structure's array that starts at position `start`."""


def _walked(
    raw: object,
    path: Path,
    test: ColumnTest,
    walked: Walk[T],
    across: Callable[[Column, Path], None] | None = None,
) -> T:
    """`raw` built value by value. A long array is first narrowed down with `test` to the
    window that fails it, and that window walked: the walk's cost stays that of one window,
    wherever the fault sits. When no window fails, `across` looks for the faults windows
    cannot show (a peer listed twice far apart). Walked whole if neither finds the fault."""
    if type(raw) is tuple:
        window = failing_window(raw, test)
        if window is not None:
            first, stop = window
            walked(raw[first:stop], path, first)
        elif across is not None:
            across(raw, path)
    return walked(raw, path, 0)


def structure(
    raw: object,
    path: Path,
    fast: Callable[[Column], T | None],
    walked: Walk[T],
    *,
    test: ColumnTest | None = None,
    across: Callable[[Column, Path], None] | None = None,
) -> T:
    """The structure `raw` holds: built by `fast` from its columns, or, when a column test
    refuses it, by `walked`, which names the first value that is wrong. `test` (default:
    `fast` succeeds) finds the window to walk; give it when `fast` builds more than it tests."""
    built = attempt(lambda: fast(raw) if type(raw) is tuple else None)
    if built is not None:
        return built
    window_test = test if test is not None else (lambda window: fast(window) is not None)
    return _walked(raw, path, window_test, walked, across)


Fields = list[Any]
"""A body's fields, owned by the builder: a builder of records may take its field out (set it
to `None`) once it has read the columns it needs. When nothing else references the decoded
body, as in `decode`, its rows are then freed before the records that replace them exist, so a
body of tiny entries never holds both at once."""


def owned_structure(
    fields: Fields,
    index: int,
    path: Path,
    fast: Callable[[Fields, int], T | None],
    walked: Walk[T],
    *,
    test: ColumnTest,
) -> T:
    """As `structure`, for `fields[index]`, which `fast` may take out of `fields`; `test`
    judges a window of it as `fast` judges the whole, without building."""
    built = attempt(lambda: fast(fields, index) if type(fields[index]) is tuple else None)
    if built is not None:
        return built
    return _walked(fields[index], path, test, walked)


def kept(test: ColumnTest) -> Callable[[Column], Column | None]:
    """A fast builder for an array kept as decoded: the array itself, if it passes `test`."""
    return lambda values: values if test(values) else None


def plain_mapping(test: ColumnTest) -> Callable[[Column], FrozenMap[Any, Any] | None]:
    """A fast builder for a mapping whose decoded values are kept as they are; `test` is the
    mapping's (`column_checks.mapping`)."""
    return lambda rows: FrozenMap(rows) if test(rows) else None


def tested(rows: Column, tests: tuple[ColumnTest, ...]) -> list[Column] | None:
    """The columns of `rows` (tuples of one element per test) if each passes its test, else
    `None`; read once, for the tests and then for building."""
    if not rows_of(rows, len(tests)):
        return None
    columns = []
    for index, test in enumerate(tests):
        values = column(rows, index)
        if not test(values):
            return None
        columns.append(values)
    return columns


def _any(_values: Column) -> bool:
    return True


def record_mapping(
    key_test: ColumnTest, cls: type[T], field_tests: tuple[ColumnTest, ...]
) -> Callable[[Fields, int], FrozenMap[Any, T] | None]:
    """A fast builder for a mapping whose values are `cls` records."""

    def build(fields: Fields, index: int) -> FrozenMap[Any, T] | None:
        pair = tested(fields[index], (key_test, _any))
        if pair is None or not strictly_ascending(pair[0]):
            return None
        keys, values = pair
        del pair
        columns = tested(values, field_tests)
        if columns is None:
            return None
        fields[index] = None  # the rows and `values` are all that held the value tuples
        del values
        return FrozenMap(zip(keys, unchecked_records(cls, columns, len(keys)), strict=True))

    return build
