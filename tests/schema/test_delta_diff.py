"""`diff`: the smallest change per field that turns the base into the target."""

import attrs
import pytest
from delta_examples import AFTER, BASE, book, peer, snapshot

from snapshot_schema import Patch as PatchChange
from snapshot_schema import (
    PeerGovernorSnapshot,
    PeerRecordSnapshot,
    PendingOutboundEntry,
    Replace,
    Splice,
    StateRef,
    TimerMaturedIngress,
    TransientSnapshot,
    VersionedSnapshot,
    apply,
    diff,
    encode,
    root_ref,
)
from snapshot_schema.delta_diff import kept_run


def diffed(base: TransientSnapshot, target: TransientSnapshot) -> dict[str, object]:
    """The changes `diff` finds, checked to turn `base` into exactly `target`."""
    delta = diff(base, target)
    result = apply(base, delta)
    assert result == target
    assert encode(result) == encode(target)
    return dict(delta.changes)


def test_equal_snapshots_differ_in_no_field() -> None:
    assert diffed(BASE, attrs.evolve(BASE, taken_at=AFTER)) == {}


def test_a_few_changed_rows_of_a_sorted_table_are_a_patch() -> None:
    base = snapshot(address_book=book((1, 0), (2, 0), (3, 0), (4, 0), (5, 0)))
    target = snapshot(AFTER, address_book=book((0, 0), (1, 0), (3, 7), (4, 0), (5, 0)))
    change = diffed(base, target)["address_book"]
    assert change == PatchChange((peer(2),), book((0, 0), (3, 7)))


def test_a_patch_no_smaller_than_the_target_is_a_replacement() -> None:
    base = snapshot(address_book=book((1, 0), (2, 0)))
    target = snapshot(AFTER, address_book=book((1, 1), (3, 0)))
    assert diffed(base, target)["address_book"] == Replace(book((1, 1), (3, 0)))
    assert diffed(base, snapshot(AFTER))["address_book"] == Replace(())


def test_a_table_not_sorted_by_peer_is_replaced() -> None:
    base = snapshot(address_book=book((2, 0), (1, 0), (3, 0), (4, 0)))
    target = snapshot(AFTER, address_book=book((2, 0), (1, 0), (3, 0), (4, 1)))
    assert diffed(base, target)["address_book"] == Replace(target.framework.address_book)
    assert diffed(target, base)["address_book"] == Replace(base.framework.address_book)


def test_a_peer_record_whose_metadata_changes_type_only_is_changed() -> None:
    rows = [PeerRecordSnapshot(peer(n), metadata={"k": 1}) for n in range(1, 5)]
    changed = [*rows[:3], PeerRecordSnapshot(peer(4), metadata={"k": 1.0})]
    change = diffed(snapshot(peer_records=rows), snapshot(AFTER, peer_records=changed))
    assert change["peer_records"] == PatchChange((), (changed[3],))


def test_maps_and_sets_are_patched_by_key() -> None:
    base = snapshot(
        counters={"a": 1, "b": 2, "c": 3, "d": 4},
        peer_governor=PeerGovernorSnapshot(blocklist={peer(n) for n in range(1, 6)}),
    )
    target = snapshot(
        AFTER,
        counters={"a": 1, "b": 5, "c": 3, "e": 6},
        peer_governor=PeerGovernorSnapshot(blocklist={peer(n) for n in range(2, 7)}),
    )
    changes = diffed(base, target)
    assert changes["counters"] == PatchChange(("d",), {"b": 5, "e": 6})
    assert changes["blocklist"] == PatchChange((peer(1),), {peer(6)})


def test_an_allowlist_is_patched_only_between_two_sets() -> None:
    def allowing(*members: int) -> PeerGovernorSnapshot:
        return PeerGovernorSnapshot(allowlist={peer(n) for n in members})

    five = snapshot(peer_governor=allowing(1, 2, 3, 4, 5))
    assert diffed(five, snapshot(AFTER, peer_governor=allowing(1, 2, 3, 4)))[
        "allowlist"
    ] == PatchChange((peer(5),), frozenset())
    assert diffed(five, snapshot(AFTER))["allowlist"] == Replace(None)
    assert diffed(snapshot(), five)["allowlist"] == Replace(five.framework.peer_governor.allowlist)


def test_a_queue_that_sent_from_its_front_and_queued_at_its_back_is_a_splice() -> None:
    def outbound(*names: bytes) -> TransientSnapshot:
        return snapshot(pending_outbound=[PendingOutboundEntry(name) for name in names])

    base = outbound(b"a", b"b", b"c")
    target = attrs.evolve(outbound(b"b", b"c", b"d"), taken_at=AFTER)
    assert diffed(base, target)["pending_outbound"] == Splice(1, 2, (PendingOutboundEntry(b"d"),))
    assert diffed(base, outbound(b"x", b"a"))["pending_outbound"] == Replace(
        outbound(b"x", b"a").framework.pending_outbound
    )


def test_the_smallest_front_drop_is_chosen_for_a_repeating_queue() -> None:
    timers = [TimerMaturedIngress(n) for n in (1, 2, 1, 2)]
    base = snapshot(ingress=timers)
    target = snapshot(AFTER, ingress=[*timers[2:], *timers[2:], TimerMaturedIngress(3)])
    assert diffed(base, target)["ingress"] == Splice(0, 4, (TimerMaturedIngress(3),))


@pytest.mark.parametrize(
    ("base", "target", "run"),
    [
        ((), (1,), 0),
        ((1, 2, 3), (), 0),
        ((1, 2, 3), (2, 3, 4), 2),
        ((1, 2, 1, 2), (1, 2, 1, 2, 5), 4),
        ((1, 1, 1), (1, 1), 2),
        ((1, 2), (3,), 0),
    ],
)
def test_the_kept_run_is_the_longest_end_of_the_base_that_starts_the_target(
    base: tuple[int, ...], target: tuple[int, ...], run: int
) -> None:
    assert kept_run(base, target) == run


def test_value_fields_are_replaced() -> None:
    changes = diffed(BASE, attrs.evolve(BASE, taken_at=AFTER, frontier=((9, 9),)))
    assert changes == {"frontier": Replace(((9, 9),))}


def test_the_delta_names_a_versioned_base_by_its_ref_and_a_plain_one_by_its_hash() -> None:
    target = attrs.evolve(BASE, taken_at=AFTER)
    assert diff(BASE, target, generation=4).base == root_ref(BASE, 4)
    ref = StateRef(4, 9, bytes(32))
    delta = diff(VersionedSnapshot(ref, BASE), target)
    assert delta.base == ref
    assert delta.target.sequence == 10
    assert delta.taken_at == AFTER


def test_diff_is_deterministic() -> None:
    target = snapshot(AFTER, counters={"x": 1}, address_book=book((3, 3)))
    assert diff(BASE, target) == diff(BASE, target)
    assert diff(BASE, target).target == diff(BASE, target).target


def test_diff_refuses_what_is_not_a_snapshot() -> None:
    with pytest.raises(TypeError, match="TransientSnapshot or VersionedSnapshot"):
        diff(BASE.framework, BASE)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="targets a TransientSnapshot"):
        diff(BASE, VersionedSnapshot(root_ref(BASE), BASE))  # type: ignore[arg-type]
