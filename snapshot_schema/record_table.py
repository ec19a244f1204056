"""`RecordTable`: an immutable sequence of records stored as their rows, built on demand.

A snapshot of a 100k-peer node holds 400k table rows. Building one record object per row costs
more than decoding the bytes, and a collector pass over that many tracked objects costs as much
again; most consumers (`encode`, `Node.restore`) only need the rows. A table therefore keeps the
validated row tuples (the record's fields in declared order, exactly the array the format
writes) and builds a record only when one is asked for, through the record's unchecked twin.

A table compares equal to another table of the same record class whose rows its records would
compare equal by, and to a tuple of the records it holds; its hash is the hash of that tuple, so
both agree with equality.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import starmap
from operator import attrgetter, eq
from typing import Any, Generic, TypeVar, overload

import attrs

from snapshot_schema.unchecked import unchecked_builder

R = TypeVar("R")

Row = tuple[Any, ...]

_BUILDERS: dict[type[Any], Callable[..., Any]] = {}
_ROW_GETTERS: dict[type[Any], Callable[[Any], Row]] = {}
_ROW_KEYS: dict[type[Any], Callable[[Row], Row] | None] = {}


def _builder(cls: type[R]) -> Callable[..., R]:
    builder = _BUILDERS.get(cls)
    if builder is None:
        builder = _BUILDERS[cls] = unchecked_builder(cls)
    return builder


def row_getter(cls: type[Any]) -> Callable[[Any], Row]:
    """A function from a record of `cls` to its row: its fields in declared order."""
    getter = _ROW_GETTERS.get(cls)
    if getter is None:
        names = [field.name for field in attrs.fields(cls)]
        if len(names) == 1:
            only = attrgetter(names[0])
            getter = lambda record: (only(record),)  # noqa: E731
        else:
            getter = attrgetter(*names)
        _ROW_GETTERS[cls] = getter
    return getter


def row_key(cls: type[Any]) -> Callable[[Row], Row] | None:
    """What a row of `cls` compares by, when `cls` compares a field by a key (attrs `eq=`), or
    `None` when rows compare as they are: `PeerRecordSnapshot` metadata `1`, `1.0` and `True`
    are equal in Python but are different values (and bytes) in a snapshot."""
    if cls not in _ROW_KEYS:
        keys = tuple(field.eq_key for field in attrs.fields(cls))
        _ROW_KEYS[cls] = partial(_keyed_row, keys) if any(keys) else None
    return _ROW_KEYS[cls]


def _keyed_row(keys: tuple[Callable[[Any], Any] | None, ...], row: Row) -> Row:
    return tuple(value if key is None else key(value) for key, value in zip(keys, row, strict=True))


class RecordTable(Sequence[R], Generic[R]):
    """An immutable sequence of `record_class` records, held as their validated rows.

    Indexing and iteration build each record on demand (a new object each time: records are
    values, compare them with `==`); slicing gives a table. `rows` gives the rows themselves,
    the cheap way to read a large table. Build one with `RecordTable.of(cls, records)`; the
    snapshot records do so from the tuples their constructors are given.
    """

    __slots__ = ("_cls", "_hash", "_records", "_rows")

    _cls: type[R]
    _rows: tuple[Row, ...]
    _records: tuple[R, ...] | None
    _hash: int | None

    def __init__(self) -> None:
        raise TypeError("build a RecordTable with RecordTable.of(record_class, records)")

    @classmethod
    def _make(
        cls, record_class: type[R], rows: tuple[Row, ...], records: tuple[R, ...] | None = None
    ) -> RecordTable[R]:
        table: RecordTable[R] = object.__new__(cls)
        table._cls = record_class
        table._rows = rows
        table._records = records
        table._hash = None
        return table

    @classmethod
    def trusted(cls, record_class: type[R], rows: tuple[Row, ...]) -> RecordTable[R]:
        """A table over `rows`, which must be exact tuples of `record_class`'s fields, each
        passing its constructor's checks: nothing is checked (see `build_framework_trusted`)."""
        return cls._make(record_class, rows)

    @classmethod
    def of(cls, record_class: type[R], records: Iterable[R]) -> RecordTable[R]:
        """A table of `records`, each of exactly `record_class` (`TypeError` otherwise)."""
        items = tuple(records)
        for record in items:
            if type(record) is not record_class:
                raise TypeError(
                    f"expected `{record_class.__name__}`, got `{type(record).__name__}`"
                )
        return cls._make(record_class, tuple(map(row_getter(record_class), items)), items)

    @property
    def record_class(self) -> type[R]:
        return self._cls

    @property
    def rows(self) -> tuple[Row, ...]:
        """The rows: each record's fields in declared order, as the format writes them."""
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> RecordTable[R]: ...

    def __getitem__(self, index: int | slice) -> R | RecordTable[R]:
        if isinstance(index, slice):
            records = self._records
            return self._make(
                self._cls, self._rows[index], None if records is None else records[index]
            )
        if self._records is not None:
            return self._records[index]
        return _builder(self._cls)(*self._rows[index])

    def __iter__(self) -> Iterator[R]:
        if self._records is not None:
            return iter(self._records)
        return starmap(_builder(self._cls), self._rows)

    def __contains__(self, value: object) -> bool:
        if type(value) is not self._cls:
            return False
        row = row_getter(self._cls)(value)
        key = row_key(self._cls)
        return row in self._rows if key is None else key(row) in map(key, self._rows)

    def __eq__(self, other: object) -> bool:
        if type(other) is RecordTable:
            if self._cls is not other._cls or self._rows != other._rows:
                return False
            key = row_key(self._cls)  # rows equal in Python may hold different values
            return key is None or list(map(key, self._rows)) == list(map(key, other._rows))
        if type(other) is tuple:
            return len(other) == len(self._rows) and all(map(eq, self, other))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self))
        return self._hash

    def __repr__(self) -> str:
        from snapshot_schema.reprs import seq_repr

        return f"RecordTable({self._cls.__name__}, {seq_repr(self)})"

    def __reduce__(self) -> tuple[Callable[..., RecordTable[R]], tuple[type[R], tuple[Row, ...]]]:
        return (_unpickle, (self._cls, self._rows))


def _unpickle(record_class: type[R], rows: tuple[Row, ...]) -> RecordTable[R]:
    return RecordTable.trusted(record_class, rows)
