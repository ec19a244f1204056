"""Field checks shared by every record: each raises `SnapshotValueError` naming the field."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, cast

from snapshot_schema.column_checks import (
    U32S,
    U64S,
    ColumnTest,
    any_bytes,
    bools,
    failing_window,
    first_repeat,
    names,
    nonempty_bytes,
    optional,
)
from snapshot_schema.errors import PathElement, SnapshotValueError
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.multihash import multihash_problem

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

Path = tuple[PathElement, ...]


def _got(value: object) -> str:
    return f"`{type(value).__name__}`"


def check_uint(value: object, maximum: int, path: Path) -> None:
    """`value` is an `int` (not a `bool`) in `0..maximum`."""
    if type(value) is not int:
        raise SnapshotValueError(f"expected `int`, got {_got(value)}", path)
    if not 0 <= value <= maximum:
        kind = "u32" if maximum == U32_MAX else "u64"
        raise SnapshotValueError(f"expected {kind} (0..{maximum}), got {value}", path)


def check_u32(value: object, path: Path) -> None:
    check_uint(value, U32_MAX, path)


def check_u64(value: object, path: Path) -> None:
    check_uint(value, U64_MAX, path)


def check_optional_u64(value: object, path: Path) -> None:
    if value is not None:
        check_u64(value, path)


def check_bool(value: object, path: Path) -> None:
    if type(value) is not bool:
        raise SnapshotValueError(f"expected `bool`, got {_got(value)}", path)


def check_bytes(value: object, path: Path) -> None:
    if type(value) is not bytes:
        raise SnapshotValueError(f"expected `bytes`, got {_got(value)}", path)


def check_nonempty_bytes(value: object, path: Path) -> None:
    check_bytes(value, path)
    if not value:
        raise SnapshotValueError("expected non-empty `bytes`", path)


def check_optional_bytes(value: object, path: Path) -> None:
    if value is not None:
        check_bytes(value, path)


def check_name(value: object, path: Path) -> None:
    """A non-empty `str` that UTF-8 can encode (counter, phase, module, port and event-kind
    names). A `str` may hold surrogate code points (`"\\ud800"`, as `surrogateescape` decoding
    leaves them), which no UTF-8 encoder writes: `encode` would fail on them."""
    if type(value) is not str:
        raise SnapshotValueError(f"expected `str`, got {_got(value)}", path)
    if not value:
        raise SnapshotValueError("expected a non-empty name", path)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError as error:
            surrogate = value[error.start]
            raise SnapshotValueError(
                f"expected UTF-8 text, got the surrogate {surrogate!r} at index {error.start}", path
            ) from None


def check_multihash(value: object, path: Path) -> None:
    """Canonical PeerId bytes: a well-formed multihash."""
    problem = multihash_problem(value)  # type: ignore[arg-type]  # it checks the type itself
    if problem is not None:
        raise SnapshotValueError(problem, path)


def check_tuple(
    value: object,
    item_check: Callable[[Any, Path], None],
    path: Path,
    *,
    unique: bool = False,
    what: str = "item",
    column_test: ColumnTest | None = None,
) -> None:
    """A `tuple` whose items each pass `item_check`; with `unique`, no item appears twice (the
    error names the repeat as a `what`).

    `column_test` (found for the common checks when not given) judges all items as
    `item_check` does, in C (`column_checks.py`): the items are then checked one by one only
    in the window where it fails, so a tuple of a million ids costs a few passes in C, even
    when its last id is wrong.
    """
    if type(value) is not tuple:
        raise SnapshotValueError(f"expected `tuple`, got {_got(value)}", path)
    test = column_test if column_test is not None else _COLUMN_TESTS.get(item_check)
    window = None if test is None else failing_window(value, test)
    if window is not None:
        first, stop = window
        for index in range(first, min(stop, len(value))):
            item_check(value[index], (*path, index))
    if test is None or window is not None:  # no test, or it is stricter than the check
        for index, item in enumerate(value):
            item_check(item, (*path, index))
    if unique and len(set(value)) != len(value):
        repeat = cast(int, first_repeat(value))  # the items are of one type: they compare
        raise SnapshotValueError(f"duplicate {what} {value[repeat]!r}", (*path, repeat))


def check_frozenset(value: object, item_check: Callable[[Any, Path], None], path: Path) -> None:
    if type(value) is not frozenset:
        raise SnapshotValueError(f"expected `frozenset`, got {_got(value)}", path)
    for item in value:
        item_check(item, path)


def check_unique(
    items: Iterable[Any], key: Callable[[Any], Hashable], path: Path, what: str = "item"
) -> None:
    """No two items share a key; the error points at the second one."""
    seen: set[Hashable] = set()
    for index, item in enumerate(items):
        item_key = key(item)
        if item_key in seen:
            raise SnapshotValueError(f"duplicate {what} {item_key!r}", (*path, index))
        seen.add(item_key)


def check_instance(value: object, cls: type, path: Path) -> None:
    if type(value) is not cls:
        raise SnapshotValueError(f"expected `{cls.__name__}`, got {_got(value)}", path)


def check_map(
    value: object,
    key_check: Callable[[Any, Path], None],
    value_check: Callable[[Any, Path], None],
    path: Path,
) -> None:
    """A `FrozenMap` whose keys and values pass their checks; errors name the key."""
    if type(value) is not FrozenMap:
        raise SnapshotValueError(f"expected `FrozenMap`, got {_got(value)}", path)
    for key, item in value.items():
        where = (*path, key if type(key) in (str, int) else repr(key))
        key_check(key, where)
        value_check(item, where)


def check_pair(
    value: object,
    first: tuple[str, Callable[[Any, Path], None]],
    second: tuple[str, Callable[[Any, Path], None]],
    path: Path,
) -> None:
    """A 2-tuple whose halves pass their checks; each half is addressed by its name."""
    if type(value) is not tuple or len(value) != 2:
        raise SnapshotValueError(f"expected a pair, got {_got(value)}", path)
    (first_name, first_check), (second_name, second_check) = first, second
    first_check(value[0], (*path, first_name))
    second_check(value[1], (*path, second_name))


# Converters: accept the obvious mutable spelling of a collection and freeze it; leave anything
# else untouched so the field's check reports it by name (a `str` is never split into a tuple).


def as_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def as_frozenset(value: object) -> object:
    return frozenset(value) if isinstance(value, set | list | tuple) else value


def as_optional_frozenset(value: object) -> object:
    return None if value is None else as_frozenset(value)


def as_frozen_map(value: object) -> object:
    return FrozenMap(value) if isinstance(value, dict) else value


_COLUMN_TESTS: dict[Callable[[Any, Path], None], ColumnTest] = {
    check_u32: U32S,
    check_u64: U64S,
    check_bytes: any_bytes,
    check_nonempty_bytes: nonempty_bytes,
    check_bool: bools,
    check_name: names,
    check_optional_u64: optional(U64S),
}
"""The column test that judges a whole tuple as each check judges one item."""
