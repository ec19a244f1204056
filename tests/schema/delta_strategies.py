"""Hypothesis strategies for snapshots that are related: a target made from a base by the edits
a running node makes (a few rows changed, added or removed, a queue sent from its front and
queued at its back), so deltas between them exercise patches and splices, not only
replacements. New entries, rows and values are taken from a second, unrelated snapshot, so
every field's values are what `transient_snapshots` makes."""

from operator import itemgetter
from typing import Any

import attrs
from hypothesis import strategies as st

from snapshot_schema import (
    DELTA_FIELDS,
    DeltaField,
    FieldKind,
    FrozenMap,
    PeerRecordSnapshot,
    RecordTable,
    TransientSnapshot,
)
from snapshot_schema.delta_apply import field_value
from snapshot_schema.strategies import transient_snapshots

# Strategies are built once: building one per draw costs more than the draw (validation).
_SNAPSHOTS = transient_snapshots()
_NUMBERS = st.integers(0, 2**16)
_FEW_NUMBERS = st.lists(_NUMBERS, max_size=2)
_ONE_NUMBER = st.lists(_NUMBERS, max_size=1)
_HOW = st.sampled_from(("keep", "keep", "edit", "edit", "replace"))
_AS_DRAWN = st.integers(0, 4)


def _pick(draw: st.DrawFn, items: list[Any]) -> Any:
    return items[draw(_NUMBERS) % len(items)]


def _subset(draw: st.DrawFn, items: list[Any], *, one: bool = False) -> list[Any]:
    """A few of `items` (at most two, or one), in their order."""
    if not items:
        return []
    indices = {number % len(items) for number in draw(_ONE_NUMBER if one else _FEW_NUMBERS)}
    return [items[index] for index in sorted(indices)]


def _edited_map(draw: st.DrawFn, before: FrozenMap[Any, Any], donor: FrozenMap[Any, Any]) -> Any:
    removed = set(_subset(draw, list(before)))
    entries = {key: value for key, value in before.items() if key not in removed}
    if donor:  # some kept keys take a new value, and some of the donor's entries come in
        for key in _subset(draw, list(entries)):
            entries[key] = _pick(draw, list(donor.values()))
        entries.update(_subset(draw, list(donor.items())))
    return FrozenMap(entries)


def _edited_set(draw: st.DrawFn, before: frozenset[Any], donor: frozenset[Any]) -> Any:
    # One member in and one out at most: sets are small, and a patch must be smaller.
    removed = _subset(draw, sorted(before), one=True)
    return before.difference(removed).union(_subset(draw, sorted(donor), one=True))


def _with_peer(record: Any, peer: bytes) -> Any:
    """`record` for `peer` instead (a peer record's key belongs to its own peer: dropped)."""
    if type(record) is PeerRecordSnapshot:
        return attrs.evolve(record, peer_id=peer, public_key=None)
    return attrs.evolve(record, peer_id=peer)


def _sorted_by_peer(table: RecordTable[Any]) -> bool:
    peers = [row[0] for row in table.rows]
    return peers == sorted(peers)


def _edited_table(draw: st.DrawFn, before: RecordTable[Any], donor: RecordTable[Any]) -> Any:
    removed = set(_subset(draw, [row[0] for row in before.rows]))
    records = [record for record in before if record.peer_id not in removed]
    if donor:
        for index in _subset(draw, list(range(len(records)))):
            records[index] = _with_peer(_pick(draw, list(donor)), records[index].peer_id)
    present = {record.peer_id for record in records}
    records += [record for record in _subset(draw, list(donor)) if record.peer_id not in present]
    if _sorted_by_peer(before):  # as Node.snapshot() keeps it
        records.sort(key=lambda record: record.peer_id)
    return RecordTable.of(before.record_class, records)


def _edited_sequence(draw: st.DrawFn, before: Any, donor: Any) -> Any:
    sent = draw(_NUMBERS) % (len(before) + 1)
    queued = _subset(draw, list(donor))
    if type(before) is RecordTable:
        return RecordTable.of(before.record_class, [*before[sent:], *queued])
    return (*before[sent:], *queued)


def _edited(draw: st.DrawFn, field: DeltaField, before: Any, donor: Any) -> Any:
    match field.kind:
        case FieldKind.MAP:
            return _edited_map(draw, before, donor)
        case FieldKind.SET:
            return _edited_set(draw, before, donor)
        case FieldKind.OPTIONAL_SET if before is not None:  # an allowlist edited stays one
            return _edited_set(draw, before, donor or frozenset())
        case FieldKind.TABLE:
            return _edited_table(draw, before, donor)
        case FieldKind.SEQUENCE:
            return _edited_sequence(draw, before, donor)
        case _:
            return donor


_GOVERNOR = ("framework", "peer_governor")


def with_values(
    snapshot: TransientSnapshot, values: dict[DeltaField, Any], **fields: Any
) -> TransientSnapshot:
    """`snapshot` with `values` at their fields (and its own `fields` replaced)."""
    by_owner: dict[tuple[str, ...], dict[str, Any]] = {(): dict(fields), ("framework",): {}}
    by_owner[_GOVERNOR] = {}
    for field, value in values.items():
        by_owner[field.path[:-1]][field.name] = value
    framework = snapshot.framework
    if by_owner[_GOVERNOR]:
        governor = attrs.evolve(framework.peer_governor, **by_owner[_GOVERNOR])
        by_owner[("framework",)]["peer_governor"] = governor
    framework = attrs.evolve(framework, **by_owner[("framework",)])
    return attrs.evolve(snapshot, framework=framework, **by_owner[()])


def sorted_tables(snapshot: TransientSnapshot) -> TransientSnapshot:
    """`snapshot` with every peer table sorted by peer, as `Node.snapshot()` gives them."""
    tables = [field for field in DELTA_FIELDS if field.kind is FieldKind.TABLE]
    return with_values(
        snapshot,
        {
            field: RecordTable.trusted(
                field_value(snapshot, field).record_class,
                tuple(sorted(field_value(snapshot, field).rows, key=itemgetter(0))),
            )
            for field in tables
        },
    )


@st.composite
def bases(draw: st.DrawFn) -> TransientSnapshot:
    """A snapshot as a node takes one (peer tables sorted), or now and then as drawn; its
    keyed fields and queues hold the entries of two drawn snapshots."""
    snapshot, filler = draw(_SNAPSHOTS), draw(_SNAPSHOTS)
    grown = {
        field: _grown(field, field_value(snapshot, field), field_value(filler, field))
        for field in DELTA_FIELDS
    }
    snapshot = with_values(snapshot, grown)
    return sorted_tables(snapshot) if draw(_AS_DRAWN) else snapshot


def _grown(field: DeltaField, value: Any, filler: Any) -> Any:
    """`value` with `filler`'s entries too (a table's rows of other peers, a queue's elements
    after its own), so that a few edits are smaller than the whole field."""
    match field.kind:
        case FieldKind.MAP:
            return FrozenMap({**filler, **value})
        case FieldKind.SET:
            return value.union(filler)
        case FieldKind.OPTIONAL_SET:  # an allowlist more often than not
            return filler if value is None else value if filler is None else value | filler
        case FieldKind.TABLE:
            present = {row[0] for row in value.rows}
            records = [*value, *(record for record in filler if record.peer_id not in present)]
            if _sorted_by_peer(value):
                records.sort(key=lambda record: record.peer_id)
            return RecordTable.of(value.record_class, records)
        case FieldKind.SEQUENCE if type(value) is RecordTable:
            return RecordTable.of(value.record_class, [*value, *filler])
        case FieldKind.SEQUENCE:
            return (*value, *filler)
        case _:
            return value


@st.composite
def related_snapshots(
    draw: st.DrawFn, base: TransientSnapshot, donor: TransientSnapshot
) -> TransientSnapshot:
    """A later state of `base`: each field kept, edited as a node would, or replaced, with
    new values taken from `donor`."""
    values: dict[DeltaField, Any] = {}
    for field in DELTA_FIELDS:
        how = draw(_HOW)
        donor_value = field_value(donor, field)
        if how == "replace":
            values[field] = donor_value
        elif how == "edit":
            values[field] = _edited(draw, field, field_value(base, field), donor_value)
    taken_at = _pick(draw, [base.taken_at, donor.taken_at])
    return with_values(base, values, taken_at=taken_at)


@st.composite
def chains(draw: st.DrawFn, length: int = 1) -> list[TransientSnapshot]:
    """A base and `length` states, each a later state of the one before (one snapshot drawn
    gives every new value, so an example stays small)."""
    states = [draw(bases())]
    donor = draw(_SNAPSHOTS)
    for _ in range(length):
        states.append(draw(related_snapshots(states[-1], donor)))
    return states


def related_pairs() -> st.SearchStrategy[tuple[TransientSnapshot, TransientSnapshot]]:
    return chains().map(lambda states: (states[0], states[1]))
