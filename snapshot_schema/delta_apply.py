"""`apply`: a snapshot and a delta made from it give the delta's target.

Only the fields the delta changes are touched. A patched peer table is merged row by row with
bisection and slicing over the base's rows (already valid, so never rebuilt or re-checked one
by one), which keeps applying a small patch to a 100k-peer snapshot far cheaper than decoding
one. The new records are built unchecked (see `_rebuilt`): their new values were checked when
the delta was made.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from itertools import chain
from typing import Any, TypeVar, cast, overload

import attrs

from snapshot_schema.column_checks import column, strictly_ascending
from snapshot_schema.delta_encoder import root_ref
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
    StateRef,
    VersionedSnapshot,
)
from snapshot_schema.framework_records import FrameworkSnapshot, PeerGovernorSnapshot
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.record_table import RecordTable
from snapshot_schema.transient import TransientSnapshot
from snapshot_schema.unchecked import unchecked_builder


def _patched_table(field: DeltaField, base: RecordTable[Any], patch: Patch) -> RecordTable[Any]:
    rows = base.rows
    peers = column(rows, 0)
    if not strictly_ascending(peers):
        raise DeltaApplyError(
            "a patch applies to a table sorted by peer (as Node.snapshot() gives it); "
            "this base's is not",
            field.path,
        )
    # Removals and upserts by ascending peer (never the same peer twice): the base's rows
    # between two edits are carried over as one slice.
    removals = ((peer, None) for peer in patch.removed)
    upserts = ((row[0], row) for row in patch.upserted.rows)
    edits = sorted(chain(removals, upserts))
    pieces: list[tuple[Any, ...]] = []
    start = 0
    for peer, row in edits:
        at = bisect_left(peers, peer, start)
        pieces.append(rows[start:at])
        if row is not None:
            pieces.append((row,))
        start = at + 1 if at < len(peers) and peers[at] == peer else at
    pieces.append(rows[start:])
    return RecordTable.trusted(base.record_class, tuple(chain.from_iterable(pieces)))


def _patched(field: DeltaField, base: Any, patch: Patch) -> Any:  # noqa: ANN401 - the field's type
    match field.kind:
        case FieldKind.MAP:
            entries = dict(base)
            for key in patch.removed:
                entries.pop(key, None)
            entries.update(patch.upserted)
            return FrozenMap(entries)
        case FieldKind.TABLE:
            return _patched_table(field, base, patch)
        case _:  # a set, or an allowlist that is one
            if base is None:
                raise DeltaApplyError("a patch adds to a set, and this base has none", field.path)
            return base.difference(patch.removed).union(patch.upserted)


def _spliced(field: DeltaField, base: Any, splice: Splice) -> Any:  # noqa: ANN401 - the field's type
    end = splice.drop_front + splice.keep
    if end > len(base):
        raise DeltaApplyError(
            f"the splice keeps up to element {end}, past the end of this base's {len(base)}",
            field.path,
        )
    if type(base) is RecordTable:
        rows = base.rows[splice.drop_front : end] + splice.appended.rows
        return RecordTable.trusted(base.record_class, rows)
    return base[splice.drop_front : end] + splice.appended


def applied_value(field: DeltaField, base: Any, change: Change) -> Any:  # noqa: ANN401 - the field's type
    """The value of `field` after `change`, from its value `base` (both as the snapshot holds
    the field). Raises `DeltaApplyError` when the change does not fit `base`."""
    match change:
        case Replace():
            return change.value
        case Patch():
            return _patched(field, base, change)
        case Splice():
            return _spliced(field, base, change)


def field_value(snapshot: TransientSnapshot, field: DeltaField) -> Any:  # noqa: ANN401 - the field's type
    """The value `snapshot` holds at `field`."""
    value: Any = snapshot
    for name in field.path:
        value = getattr(value, name)
    return value


_FRAMEWORK = ("framework",)
_GOVERNOR = ("framework", "peer_governor")
_RECORDS = (TransientSnapshot, FrameworkSnapshot, PeerGovernorSnapshot)
_BUILDERS: dict[type[Any], Callable[..., Any]] = {cls: unchecked_builder(cls) for cls in _RECORDS}
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(field.name for field in attrs.fields(cls)) for cls in _RECORDS
}

R = TypeVar("R")


def _rebuilt(record: R, changes: dict[str, Any]) -> R:
    """`record` with `changes`, checking nothing: every changed value passed the record's own
    checks when the delta was built (`SnapshotDelta` holds checked changes), a patched table
    keeps one row per peer by construction, the other values are the base's, and no rule of
    these records spans two fields. Checking the 100k-row tables left untouched again would
    cost most of an apply."""
    cls = type(record)
    values = (
        changes[name] if name in changes else getattr(record, name) for name in _FIELD_NAMES[cls]
    )
    return cast(R, _BUILDERS[cls](*values))


def _applied(snapshot: TransientSnapshot, delta: SnapshotDelta) -> TransientSnapshot:
    # New values grouped by the record that holds them: the snapshot, its framework, the
    # framework's peer governor.
    owners: dict[tuple[str, ...], dict[str, Any]] = {(): {}, _FRAMEWORK: {}, _GOVERNOR: {}}
    for name, change in delta.changes.items():
        field = FIELDS_BY_NAME[name]
        owners[field.path[:-1]][name] = applied_value(field, field_value(snapshot, field), change)
    framework = snapshot.framework
    governor_changes, framework_changes = owners[_GOVERNOR], owners[_FRAMEWORK]
    if governor_changes:
        framework_changes["peer_governor"] = _rebuilt(framework.peer_governor, governor_changes)
    if framework_changes:
        framework = _rebuilt(framework, framework_changes)
    return _rebuilt(snapshot, {**owners[()], "taken_at": delta.taken_at, "framework": framework})


def _mismatch(delta: SnapshotDelta, base: StateRef) -> DeltaBaseMismatchError:
    return DeltaBaseMismatchError(
        f"the delta was made from state ({delta.base}), not from this state ({base}): "
        "a full snapshot is needed"
    )


@overload
def apply(base: VersionedSnapshot, delta: SnapshotDelta) -> VersionedSnapshot: ...
@overload
def apply(base: TransientSnapshot, delta: SnapshotDelta) -> TransientSnapshot: ...
def apply(
    base: TransientSnapshot | VersionedSnapshot, delta: SnapshotDelta
) -> TransientSnapshot | VersionedSnapshot:
    """The state `delta` leads to from `base`: equal records, identical `encode()` bytes, its
    `taken_at` the delta's.

    A `VersionedSnapshot` must be named `delta.base` and gives a `VersionedSnapshot` named
    `delta.target`. A plain snapshot is taken as a full snapshot (sequence 0) and hashed to
    check it is the delta's base (an encode: keep states versioned to chain deltas cheaply).
    Raises `DeltaBaseMismatchError` when `base` is not the delta's base, and
    `DeltaApplyError` (with the field's path) when the delta does not fit it; both are
    `FullSnapshotNeeded`. `base` is never changed.
    """
    if type(delta) is not SnapshotDelta:
        raise TypeError(f"apply() takes a SnapshotDelta, not {type(delta).__name__}")
    if type(base) is VersionedSnapshot:
        if base.ref != delta.base:
            raise _mismatch(delta, base.ref)
        return VersionedSnapshot(delta.target, _applied(base.snapshot, delta))
    if type(base) is not TransientSnapshot:
        raise TypeError(
            f"apply() takes a TransientSnapshot or VersionedSnapshot, not {type(base).__name__}"
        )
    ref = root_ref(base, delta.base.generation)
    if ref != delta.base:
        raise _mismatch(delta, ref)
    return _applied(base, delta)
