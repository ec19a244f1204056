"""Compare two snapshots field by field and report each difference by its path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from snapshot_schema import PathElement, TransientSnapshot, render_path
from snapshot_schema.record_table import RecordTable
from snapshot_schema.reprs import bytes_repr, seq_repr, set_repr


class _Missing:
    """Stands for the side of a difference where an item or a key does not exist."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


@attrs.frozen
class Difference:
    """One place where two snapshots differ: its path from the root and the value on each side
    (`MISSING` where a table is shorter or a mapping lacks the key)."""

    path: str
    a: object
    b: object

    def __str__(self) -> str:
        return f"{self.path}: {show(self.a)} != {show(self.b)}"


def show(value: object) -> str:
    """A compact repr: large byte strings and tables are abbreviated, as records show them."""
    if isinstance(value, bytes):
        return bytes_repr(value)
    if isinstance(value, tuple | RecordTable):
        return seq_repr(value)
    if isinstance(value, frozenset):
        return set_repr(value)
    return repr(value)


def snapshot_diff(a: TransientSnapshot, b: TransientSnapshot) -> list[Difference]:
    """Every leaf where `a` and `b` differ, in field order; empty when they are equal.

    Records are compared field by field, tuples and record tables item by item, mappings key by
    key (a key is a path step as in `SnapshotValueError` paths); anything else, sets included, is
    one leaf.
    """
    differences: list[Difference] = []
    _compare(a, b, (), differences)
    return differences


def _compare(a: object, b: object, path: tuple[PathElement, ...], out: list[Difference]) -> None:
    if a == b:
        return
    record = type(a)
    if record is type(b) and attrs.has(record):
        for field in attrs.fields(record):
            _compare(getattr(a, field.name), getattr(b, field.name), (*path, field.name), out)
    elif isinstance(a, tuple | RecordTable) and isinstance(b, tuple | RecordTable):
        for index in range(max(len(a), len(b))):
            _compare(_item(a, index), _item(b, index), (*path, index), out)
    elif isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in [*a, *(key for key in b if key not in a)]:
            step = key if type(key) in (str, int) else repr(key)
            _compare(a.get(key, MISSING), b.get(key, MISSING), (*path, step), out)
    else:
        out.append(Difference(render_path(path), a, b))


def _item(items: Sequence[object], index: int) -> object:
    return items[index] if index < len(items) else MISSING


def format_diff(differences: Sequence[Difference], labels: tuple[str, str] = ("a", "b")) -> str:
    """The differences as text for a failure message, each value on a line named by `labels`."""
    if not differences:
        return "no differences"
    width = max(len(label) for label in labels)
    count = len(differences)
    lines = [f"{count} difference{'s' if count != 1 else ''}:"]
    for difference in differences:
        lines.append(f"  {difference.path}")
        lines.extend(
            f"    {label + ':':<{width + 1}} {show(value)}"
            for label, value in zip(labels, (difference.a, difference.b), strict=True)
        )
    return "\n".join(lines)
