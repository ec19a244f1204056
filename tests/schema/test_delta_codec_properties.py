"""Round trips over generated deltas: `decode_delta(encode_delta(delta)) == delta`, and the
bytes are stable (`encode_delta(decode_delta(data)) == data`), for the deltas `diff` gives
between related snapshots (every table and execution field changed by key, by splice or
whole), for merged ones, and for deltas made of arbitrary changes `diff` never writes."""

import random
from typing import Any

from delta_strategies import chains, related_pairs
from hypothesis import given, settings
from hypothesis import strategies as st

from snapshot_schema import (
    ClockReading,
    RecordTable,
    SnapshotDelta,
    StateRef,
    TransientSnapshot,
    apply,
    decode_delta,
    diff,
    encode_delta,
    make_delta,
    merge,
    root_state,
)
from snapshot_schema.checks import U64_MAX
from snapshot_schema.delta_apply import field_value
from snapshot_schema.delta_records import (
    DELTA_FIELDS,
    Change,
    DeltaField,
    FieldKind,
    Patch,
    Replace,
    Splice,
)
from snapshot_schema.strategies import clock_readings, transient_snapshots, u64s

Pair = tuple[TransientSnapshot, TransientSnapshot]


def keep_some(items: Any, rnd: random.Random, share: float) -> list[Any]:
    return [item for item in items if rnd.random() < share]


def assert_round_trips(delta: SnapshotDelta) -> None:
    data = encode_delta(delta)
    decoded = decode_delta(data)
    assert decoded == delta
    assert decoded.target == delta.target
    assert encode_delta(decoded) == data


@settings(max_examples=25)
@given(related_pairs())
def test_a_diff_round_trips_through_its_bytes(pair: Pair) -> None:
    assert_round_trips(diff(*pair))


@settings(max_examples=15)
@given(chains(length=2))
def test_a_merged_diff_round_trips_through_its_bytes(states: list[TransientSnapshot]) -> None:
    """Two steps merged (the target two past the base) are a delta like any other."""
    base = root_state(states[0])
    first = diff(base, states[1])
    second = diff(apply(base, first), states[2])
    merged = merge(first, second)
    assert merged.steps == 2
    assert_round_trips(merged)


def keys_of(field: DeltaField, value: Any) -> list[Any]:
    if field.kind is FieldKind.TABLE:
        return [row.peer_id for row in value]
    return list(value.keys()) if field.kind is FieldKind.MAP else list(value or ())


@st.composite
def arbitrary_changes(draw: st.DrawFn) -> dict[str, Change]:
    """Any change each field takes: a replacement; a patch removing keys the base may not have;
    a splice of any offsets (which only `apply` judges against a base)."""
    source, keys_from = draw(transient_snapshots()), draw(transient_snapshots())
    rnd = draw(st.randoms(use_true_random=False))
    changes: dict[str, Change] = {}
    for field in DELTA_FIELDS:
        value = field_value(source, field)
        if field.kind is FieldKind.TABLE:
            rows = sorted(value, key=lambda row: row.peer_id)  # a patch's rows are sorted
            value = RecordTable.of(value.record_class, rows)
        op = rnd.choice(("none", "replace", "other"))
        if op == "replace":
            changes[field.name] = Replace(value)
        elif op == "other" and field.kind is FieldKind.SEQUENCE:
            changes[field.name] = Splice(draw(u64s), draw(u64s), value)
        elif op == "other" and field.kind is not FieldKind.VALUE:
            upserted = frozenset() if value is None else value
            taken = set(keys_of(field, upserted))
            others = [
                key for key in keys_of(field, field_value(keys_from, field)) if key not in taken
            ]
            changes[field.name] = Patch(tuple(sorted(keep_some(others, rnd, 0.5))), upserted)
    return changes


@settings(max_examples=30)
@given(
    arbitrary_changes(),
    st.builds(StateRef, u64s, st.integers(0, U64_MAX - 1), st.binary(min_size=32, max_size=32)),
    clock_readings(),
)
def test_a_delta_of_arbitrary_changes_round_trips_through_its_bytes(
    changes: dict[str, Change],
    base: StateRef,
    taken_at: ClockReading,
) -> None:
    assert_round_trips(make_delta(base, taken_at, changes))
