"""`diff`: the delta between two snapshots, found by comparing them field by field.

This is the path for any pair of snapshots: it compares whole fields (a 100k-row table costs
a pass over both). A node that tracks what changed builds its delta with `make_delta` instead.
Each changed field gets the smallest change that applies: a patch of the entries that differ
or a splice of a queue, unless it is not smaller than the target's field, then a replacement.
"""

from __future__ import annotations

from itertools import compress, filterfalse
from operator import not_
from typing import Any

from snapshot_schema.column_checks import column, strictly_ascending
from snapshot_schema.delta_apply import field_value
from snapshot_schema.delta_encoder import make_delta, root_ref
from snapshot_schema.delta_records import (
    DELTA_FIELDS,
    Change,
    DeltaField,
    FieldKind,
    Patch,
    Replace,
    SnapshotDelta,
    Splice,
    VersionedSnapshot,
)
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.record_table import RecordTable, row_key
from snapshot_schema.transient import TransientSnapshot


def _smaller(patch: Patch, target: Any) -> Change:  # noqa: ANN401 - the field's value
    """`patch`, or a replacement by `target` when the patch has no fewer entries."""
    return patch if len(patch.removed) + len(patch.upserted) < len(target) else Replace(target)


def _map_change(base: FrozenMap[Any, Any], target: FrozenMap[Any, Any]) -> Change:
    removed = tuple(sorted(key for key in base if key not in target))
    missing = object()
    upserted = FrozenMap(
        (key, value) for key, value in target.items() if base.get(key, missing) != value
    )
    return _smaller(Patch(removed, upserted), target)


def _set_change(base: frozenset[Any], target: frozenset[Any]) -> Change:
    return _smaller(Patch(tuple(sorted(base - target)), target - base), target)


def _table_change(base: RecordTable[Any], target: RecordTable[Any]) -> Change:
    base_peers, target_peers = column(base.rows, 0), column(target.rows, 0)
    if not (strictly_ascending(base_peers) and strictly_ascending(target_peers)):
        return Replace(target)  # a patch applies by peer order only
    # Rows compare as their table compares them (a metadata `1` is no `1.0`); the passes over
    # all rows run in C (sets, `filterfalse`) but for such keyed rows.
    key = row_key(target.record_class)
    if key is None:
        unchanged = set(base.rows).__contains__
        upserted = tuple(filterfalse(unchanged, target.rows))
    else:
        unchanged = set(map(key, base.rows)).__contains__
        kept = map(unchanged, map(key, target.rows))
        upserted = tuple(compress(target.rows, map(not_, kept)))
    removed = tuple(filterfalse(frozenset(target_peers).__contains__, base_peers))
    patch = Patch(removed, RecordTable.trusted(target.record_class, upserted))
    return _smaller(patch, target)


def kept_run(base: tuple[Any, ...], target: tuple[Any, ...]) -> int:
    """The length of the longest run that ends `base` and starts `target` (so a queue that
    sent `len(base) - run` elements from its front kept `run`): Knuth-Morris-Pratt, matching
    `target` against `base`, in time linear in both."""
    fallback = [0] * (len(target) + 1)  # fallback[i]: longest proper border of target[:i]
    matched = 0
    for index in range(1, len(target)):
        while matched and target[index] != target[matched]:
            matched = fallback[matched]
        if target[index] == target[matched]:
            matched += 1
        fallback[index + 1] = matched
    matched = 0
    for element in base:
        if matched == len(target):
            matched = fallback[matched]
        while matched and element != target[matched]:
            matched = fallback[matched]
        if matched < len(target) and element == target[matched]:
            matched += 1
    return matched


def _sequence_change(base: Any, target: Any) -> Change:  # noqa: ANN401 - a tuple or a table
    rows = type(target) is RecordTable
    keep = kept_run(base.rows, target.rows) if rows else kept_run(base, target)
    if keep == 0:  # nothing kept: the splice would append the whole target
        return Replace(target)
    return Splice(len(base) - keep, keep, target[keep:])


def _change(field: DeltaField, base: Any, target: Any) -> Change:  # noqa: ANN401 - field values
    match field.kind:
        case FieldKind.MAP:
            return _map_change(base, target)
        case FieldKind.SET:
            return _set_change(base, target)
        case FieldKind.OPTIONAL_SET if base is not None and target is not None:
            return _set_change(base, target)
        case FieldKind.TABLE:
            return _table_change(base, target)
        case FieldKind.SEQUENCE:
            return _sequence_change(base, target)
        case _:
            return Replace(target)


def diff(
    base: TransientSnapshot | VersionedSnapshot, target: TransientSnapshot, *, generation: int = 0
) -> SnapshotDelta:
    """The delta from `base` to `target`: `apply(base, diff(base, target))` gives `target`.

    The delta names `base` by `base.ref` for a `VersionedSnapshot`, else as the full snapshot
    of `generation` (`root_ref`, an encode); it is taken at `target.taken_at`, and names the
    target as `base`'s next sequence. Fields equal in both are left out. Deterministic: the
    same pair always gives the same delta.
    """
    if type(base) is VersionedSnapshot:
        base_ref, base_snapshot = base.ref, base.snapshot
    elif type(base) is TransientSnapshot:
        base_ref, base_snapshot = root_ref(base, generation), base
    else:
        raise TypeError(
            f"diff() takes a TransientSnapshot or VersionedSnapshot, not {type(base).__name__}"
        )
    if type(target) is not TransientSnapshot:
        raise TypeError(f"diff() targets a TransientSnapshot, not {type(target).__name__}")
    changes: dict[str, Change] = {}
    for field in DELTA_FIELDS:
        before, after = field_value(base_snapshot, field), field_value(target, field)
        if before != after:
            changes[field.name] = _change(field, before, after)
    return make_delta(base_ref, target.taken_at, changes)
