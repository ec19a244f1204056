"""`merge`: two deltas in a row compose field by field into one."""

import pytest
from delta_examples import AFTER, BASE, book, peer

from snapshot_schema import (
    ClockReading,
    DeltaApplyError,
    DeltaBaseMismatchError,
    FullSnapshotNeeded,
    Patch,
    PendingOutboundEntry,
    Replace,
    SnapshotDelta,
    Splice,
    VersionedSnapshot,
    apply,
    make_delta,
    merge,
    root_state,
)
from snapshot_schema.delta_records import Change

LATER = ClockReading(monotonic_ns=3_000, wall_ns=1_700_000_000_000_002_000)


def chained(
    first_changes: dict[str, Change], second_changes: dict[str, Change]
) -> tuple[SnapshotDelta, SnapshotDelta, VersionedSnapshot]:
    """Two deltas in a row from `BASE`, and the state they lead to."""
    base = root_state(BASE)
    first = make_delta(base.ref, AFTER, first_changes)
    middle = apply(base, first)
    second = make_delta(middle.ref, LATER, second_changes)
    return first, second, apply(middle, second)


def merged_change(first: Change, second: Change, name: str) -> Change:
    """The merged change, checked to give what applying both deltas gives."""
    first_delta, second_delta, result = chained({name: first}, {name: second})
    merged = merge(first_delta, second_delta)
    assert apply(root_state(BASE), merged) == result
    return merged.changes[name]


def test_the_merge_leads_from_the_first_base_to_the_second_target() -> None:
    first, second, result = chained({"next_exec_id": Replace(1)}, {"next_command_id": Replace(2)})
    merged = merge(first, second)
    assert (merged.base, merged.target, merged.taken_at) == (first.base, second.target, LATER)
    assert merged.steps == 2
    assert dict(merged.changes) == {"next_exec_id": Replace(1), "next_command_id": Replace(2)}
    assert apply(root_state(BASE), merged) == result


def test_a_replacement_overrides_what_came_before() -> None:
    replacement = Replace(book((9, 9)))
    assert merged_change(Patch((), book((1, 1))), replacement, "address_book") == replacement


def test_a_change_after_a_replacement_is_applied_to_the_replaced_value() -> None:
    merged = merged_change(
        Replace(book((1, 0), (3, 0))), Patch((peer(1),), book((2, 0))), "address_book"
    )
    assert merged == Replace(book((2, 0), (3, 0)))


def test_patches_merge_by_key() -> None:
    merged = merged_change(
        Patch((peer(2), peer(4)), book((1, 1), (5, 1))),
        Patch((peer(5),), book((4, 2), (6, 2))),
        "address_book",
    )
    # 4 removed then upserted is upserted; 5 upserted then removed is removed.
    assert merged == Patch((peer(2), peer(5)), book((1, 1), (4, 2), (6, 2)))


def test_map_and_set_patches_merge_by_key() -> None:
    assert merged_change(
        Patch(("gone",), {"a": 1, "b": 1}), Patch(("a",), {"gone": 2, "b": 3}), "counters"
    ) == Patch(("a",), {"b": 3, "gone": 2})
    assert merged_change(
        Patch((peer(1),), {peer(5), peer(6)}), Patch((peer(5),), {peer(1)}), "blocklist"
    ) == Patch((peer(5),), {peer(1), peer(6)})


def test_splices_compose_their_offsets() -> None:
    # frontier [(1,1), (2,2), (3,3)] -> drop 1, append (4,4) -> drop 1, append (5,5)
    assert merged_change(Splice(1, 2, [(4, 4)]), Splice(1, 2, [(5, 5)]), "frontier") == Splice(
        2, 1, ((4, 4), (5, 5))
    )
    # The second drops all the base kept and part of what the first appended.
    assert merged_change(
        Splice(0, 3, [(4, 4), (5, 5)]), Splice(4, 1, [(6, 6)]), "frontier"
    ) == Splice(3, 0, ((5, 5), (6, 6)))
    # The second keeps less than the first's result holds.
    assert merged_change(Splice(0, 2, [(4, 4)]), Splice(0, 1, ()), "frontier") == Splice(0, 1, ())


def test_splices_of_a_table_backed_queue_compose() -> None:
    merged = merged_change(
        Splice(1, 1, [PendingOutboundEntry(b"c")]),
        Splice(1, 1, [PendingOutboundEntry(b"d")]),
        "pending_outbound",
    )
    assert merged == Splice(2, 0, (PendingOutboundEntry(b"c"), PendingOutboundEntry(b"d")))


def test_deltas_that_do_not_chain_are_refused() -> None:
    first, second, _ = chained({"next_exec_id": Replace(1)}, {"next_exec_id": Replace(2)})
    for earlier, later in ((second, first), (first, first)):
        with pytest.raises(DeltaBaseMismatchError, match="they do not chain") as raised:
            merge(earlier, later)
        assert isinstance(raised.value, FullSnapshotNeeded)


def test_a_second_splice_past_the_first_s_result_is_refused() -> None:
    base = root_state(BASE)
    first = make_delta(base.ref, AFTER, {"frontier": Splice(1, 1, [(4, 4)])})
    second = make_delta(first.target, LATER, {"frontier": Splice(1, 2, ())})
    with pytest.raises(
        DeltaApplyError, match=r"past the end of the first's result \(2\)"
    ) as raised:
        merge(first, second)
    assert raised.value.path == ("frontier",)


def test_merge_refuses_what_is_not_a_delta() -> None:
    first, _, _ = chained({}, {})
    with pytest.raises(TypeError, match="two SnapshotDeltas"):
        merge(first, BASE)  # type: ignore[arg-type]
