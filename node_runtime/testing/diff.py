"""Compare two snapshots field by field and report each difference by its path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from snapshot_schema import (
    IpNetwork,
    PathElement,
    PeerRecordSnapshot,
    TransientSnapshot,
    render_path,
)
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
    """A compact repr: large byte strings and tables are abbreviated, as records show them; an
    IP network as its text (`10.0.0.0/8`)."""
    if isinstance(value, IpNetwork):
        return str(value)
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
    key (a key is a path step as in `SnapshotValueError` paths), a peer record's metadata key by
    key too; anything else, sets and IP networks included, is one leaf. Values compare with
    their types, as the snapshot's bytes do: `1`, `1.0` and `True` are three different values.
    """
    differences: list[Difference] = []
    _compare(a, b, (), differences)
    return differences


def _compare(a: object, b: object, path: tuple[PathElement, ...], out: list[Difference]) -> None:
    if _identical(a, b):
        return
    record = type(a)
    if record is type(b) and attrs.has(record) and record is not IpNetwork:
        for field in attrs.fields(record):
            old, new = getattr(a, field.name), getattr(b, field.name)
            if (record, field.name) == (PeerRecordSnapshot, "metadata"):
                old, new = dict(old), dict(new)  # (key, value) pairs: compared by key
            _compare(old, new, (*path, field.name), out)
    elif isinstance(a, tuple | RecordTable) and isinstance(b, tuple | RecordTable):
        for index in range(max(len(a), len(b))):
            _compare(_item(a, index), _item(b, index), (*path, index), out)
    elif isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in [*a, *(key for key in b if key not in a)]:
            step = key if type(key) in (str, int) else repr(key)
            _compare(a.get(key, MISSING), b.get(key, MISSING), (*path, step), out)
    else:
        out.append(Difference(render_path(path), a, b))


def _identical(a: object, b: object) -> bool:
    """Equal, and of the same types: Python's `==` holds `1 == 1.0 == True`, even inside tuples
    (a metadata pair), where a snapshot holds three different values. Records and record tables
    compare metadata with its types already."""
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        assert isinstance(b, tuple)
        return len(a) == len(b) and all(map(_identical, a, b))
    if type(a) is dict:  # metadata, as `_compare` passes it
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_identical(a[key], b[key]) for key in a)
    return a == b


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
