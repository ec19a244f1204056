"""`merge`: two deltas in a row as one, so a journal can be coalesced.

Changes compose field by field, without any snapshot at hand: a replacement followed by
anything is a replacement (the second change applied to its value), patches merge by key, and
splices compose their offsets. The merged delta leads from the first's base to the second's
target and equals applying both in turn.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, cast

from snapshot_schema.delta_apply import applied_value
from snapshot_schema.delta_records import (
    FIELDS_BY_NAME,
    Change,
    DeltaApplyError,
    DeltaBaseMismatchError,
    DeltaField,
    FieldKind,
    Patch,
    Replace,
    SnapshotDelta,
    Splice,
)
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.record_table import RecordTable


def _merged_upserts(field: DeltaField, first: Any, second: Any, dropped: set[Any]) -> Any:  # noqa: ANN401 - the field's entries
    """`first`'s entries but those whose key is `dropped` or in `second`, and `second`'s."""
    match field.kind:
        case FieldKind.MAP:
            entries = {key: value for key, value in first.items() if key not in dropped}
            entries.update(second)
            return FrozenMap(entries)
        case FieldKind.TABLE:
            replaced = dropped | set(map(itemgetter(0), second.rows))
            rows = [row for row in first.rows if row[0] not in replaced]
            rows = sorted([*rows, *second.rows], key=itemgetter(0))
            return RecordTable.trusted(second.record_class, tuple(rows))
        case _:  # a set's members
            return first.difference(dropped).union(second)


def _upserted_keys(field: DeltaField, upserted: Any) -> set[Any]:  # noqa: ANN401 - the field's entries
    if field.kind is FieldKind.TABLE:
        return set(map(itemgetter(0), upserted.rows))
    return set(upserted)  # a map's keys or a set's members


def _merged_patches(field: DeltaField, first: Patch, second: Patch) -> Patch:
    second_keys = _upserted_keys(field, second.upserted)
    removed = {key for key in first.removed if key not in second_keys}.union(second.removed)
    upserted = _merged_upserts(field, first.upserted, second.upserted, set(second.removed))
    return Patch(tuple(sorted(removed)), upserted)


def _concatenated(first: Any, second: Any) -> Any:  # noqa: ANN401 - a tuple or a table
    if type(first) is RecordTable:
        return RecordTable.trusted(first.record_class, first.rows + second.rows)
    return first + second


def _merged_splices(field: DeltaField, first: Splice, second: Splice) -> Splice:
    """The splice of the base that `second` after `first` amounts to. The middle state is the
    first's kept run (`first.keep` long) and then its appended elements."""
    middle = first.keep + len(first.appended)
    end = second.drop_front + second.keep
    if end > middle:
        raise DeltaApplyError(
            f"the second delta keeps up to element {end}, past the end of the first's "
            f"result ({middle})",
            field.path,
        )
    if second.drop_front < first.keep:  # some of the base is still kept
        drop_front = first.drop_front + second.drop_front
        keep = min(end, first.keep) - second.drop_front
    else:
        drop_front, keep = first.drop_front + first.keep, 0
    still_appended = first.appended[
        max(second.drop_front - first.keep, 0) : max(end - first.keep, 0)
    ]
    return Splice(drop_front, keep, _concatenated(still_appended, second.appended))


def _merged_change(field: DeltaField, first: Change, second: Change) -> Change:
    if type(second) is Replace:
        return second
    if type(first) is Replace:
        return Replace(applied_value(field, first.value, second))
    if type(first) is Patch:  # a field takes changes of one kind, besides replacements
        return _merged_patches(field, first, cast(Patch, second))
    return _merged_splices(field, cast(Splice, first), cast(Splice, second))


def merge(first: SnapshotDelta, second: SnapshotDelta) -> SnapshotDelta:
    """One delta equal to `first` then `second`: from `first.base` to `second.target`, taken
    at `second.taken_at`. Applied to a base both fit, it gives what applying both does.

    Raises `DeltaBaseMismatchError` unless `second` starts where `first` leads
    (`second.base == first.target`), and `DeltaApplyError` (with the field's path) when
    `second` cannot apply after `first` (a splice past the end of the first's result).
    """
    if type(first) is not SnapshotDelta or type(second) is not SnapshotDelta:
        raise TypeError("merge() takes two SnapshotDeltas")
    if second.base != first.target:
        raise DeltaBaseMismatchError(
            f"the second delta follows state ({second.base}), not the first's target "
            f"({first.target}): they do not chain"
        )
    changes = dict(first.changes)
    for name, change in second.changes.items():
        earlier = changes.get(name)
        field = FIELDS_BY_NAME[name]
        changes[name] = change if earlier is None else _merged_change(field, earlier, change)
    return SnapshotDelta(
        base=first.base, target=second.target, taken_at=second.taken_at, changes=changes
    )
