"""Properties of diff, apply and merge over every field the strategies fill: a delta gives
exactly its target, deltas chain and merge, and a delta never applies to another state."""

import pytest
from delta_strategies import bases, chains, related_pairs, related_snapshots
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from snapshot_schema import (
    DeltaBaseMismatchError,
    FieldKind,
    Patch,
    SnapshotDelta,
    Splice,
    TransientSnapshot,
    apply,
    decode_delta,
    diff,
    encode,
    encode_delta,
    merge,
    root_state,
)
from snapshot_schema.delta_records import FIELDS_BY_NAME
from snapshot_schema.strategies import transient_snapshots

Pair = tuple[TransientSnapshot, TransientSnapshot]
KEYED_KINDS = (FieldKind.MAP, FieldKind.SET, FieldKind.OPTIONAL_SET, FieldKind.TABLE)

# An example draws three snapshots and edits them field by field: fewer examples than the
# profile's default keep the quick suite quick.
PAIRS = settings(max_examples=40)
CHAINS = settings(max_examples=25)


@PAIRS
@given(related_pairs())
def test_apply_of_diff_gives_exactly_the_target(pair: Pair) -> None:
    base, target = pair
    result = apply(base, diff(base, target))
    assert result == target
    assert encode(result) == encode(target)


@PAIRS
@given(transient_snapshots(), transient_snapshots())
def test_apply_of_diff_gives_exactly_any_target(
    base: TransientSnapshot, target: TransientSnapshot
) -> None:
    result = apply(base, diff(base, target))
    assert result == target
    assert encode(result) == encode(target)


@CHAINS
@given(chains(length=3))
def test_a_snapshot_plus_its_deltas_is_the_last_state(states: list[TransientSnapshot]) -> None:
    state = root_state(states[0], generation=5)
    deltas: list[SnapshotDelta] = []
    for target in states[1:]:
        deltas.append(diff(state, target))
        state = apply(state, deltas[-1])
    restored = root_state(states[0], generation=5)
    for delta in deltas:  # as a journal gives them back: written, then read
        restored = apply(restored, decode_delta(encode_delta(delta)))
    assert restored == state
    assert restored.snapshot == states[-1]
    assert encode(restored.snapshot) == encode(states[-1])
    assert restored.ref.sequence == len(deltas)


@CHAINS
@given(chains(length=2))
def test_applying_a_merge_equals_applying_both(states: list[TransientSnapshot]) -> None:
    base = root_state(states[0])
    first = diff(base, states[1])
    middle = apply(base, first)
    second = diff(middle, states[2])
    merged = merge(first, second)
    assert apply(base, merged) == apply(middle, second)
    assert encode(apply(base, merged).snapshot) == encode(states[2])
    assert (merged.base, merged.target, merged.steps) == (first.base, second.target, 2)


@CHAINS
@given(chains(length=3))
def test_merging_is_associative(states: list[TransientSnapshot]) -> None:
    state = root_state(states[0])
    deltas = []
    for target in states[1:]:
        deltas.append(diff(state, target))
        state = apply(state, deltas[-1])
    first, second, third = deltas
    left, right = merge(merge(first, second), third), merge(first, merge(second, third))
    base = root_state(states[0])
    assert apply(base, left) == apply(base, right) == state


@PAIRS
@given(bases(), transient_snapshots(), st.data())
def test_a_delta_applies_to_no_other_state(
    base: TransientSnapshot, donor: TransientSnapshot, data: st.DataObject
) -> None:
    target = data.draw(related_snapshots(base, donor))
    other = data.draw(related_snapshots(base, donor))
    delta = diff(base, target)
    if encode(other) != encode(base):
        with pytest.raises(DeltaBaseMismatchError):
            apply(other, delta)
        with pytest.raises(DeltaBaseMismatchError):
            apply(root_state(other), delta)
    with pytest.raises(DeltaBaseMismatchError):
        apply(root_state(base, generation=1), delta)  # same content, another generation


@CHAINS
@given(chains(length=2))
def test_deltas_merge_only_in_chain_order(states: list[TransientSnapshot]) -> None:
    base = root_state(states[0])
    first = diff(base, states[1])
    second = diff(apply(base, first), states[2])
    for earlier, later in ((second, first), (first, first), (second, second)):
        with pytest.raises(DeltaBaseMismatchError):
            merge(earlier, later)


def _kinds_of_change(delta: SnapshotDelta) -> set[str]:
    """What the delta exercises: each kind of field's patches, splices, replacements."""
    kinds = set()
    for name, change in delta.changes.items():
        kind = FIELDS_BY_NAME[name].kind.value
        kinds.add(f"{type(change).__name__} of a {kind}")
        if type(change) is Patch and change.removed and len(change.upserted):
            kinds.add("Patch that removes and upserts")
        if type(change) is Splice and change.keep and len(change.appended):
            kinds.add("Splice that keeps and appends")
    return kinds


class _AllSeen(Exception):
    """Stops the search once every kind of change has turned up."""


def test_the_related_strategies_exercise_every_kind_of_change() -> None:
    wanted = {
        *(f"Patch of a {kind.value}" for kind in KEYED_KINDS),
        "Splice of a sequence",
        "Replace of a value",
        "Replace of a table",
        "Patch that removes and upserts",
        "Splice that keeps and appends",
    }
    seen: set[str] = set()

    @settings(max_examples=1_000, database=None, phases=[Phase.generate])
    @given(related_pairs())
    def search(pair: Pair) -> None:
        seen.update(_kinds_of_change(diff(*pair)))
        if seen >= wanted:
            raise _AllSeen

    with pytest.raises(_AllSeen):
        search()
