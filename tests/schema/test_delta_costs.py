"""What a delta costs: `apply` touches only what changed (the base's rows are carried over, never
rebuilt or checked again), `make_delta` costs in proportion to the changes, and on a 100k-peer
snapshot `apply` of a small patch costs a small part of a decode (ratios measured in one
process, never absolute times)."""

import time
from collections.abc import Callable
from operator import itemgetter
from unittest import mock

import pytest
from delta_strategies import sorted_tables

from benchmarks.codec import build_snapshot
from snapshot_schema import (
    AddressBookEntrySnapshot,
    Patch,
    RecordTable,
    Replace,
    SnapshotDelta,
    TransientSnapshot,
    VersionedSnapshot,
    apply,
    decode,
    encode,
    framework_records,
    make_delta,
    root_state,
)


def churned(snapshot: TransientSnapshot, every: int) -> dict[str, Patch | Replace]:
    """Changes to one address book row in `every` (a tenth of them removed), and a counter."""
    book = snapshot.framework.address_book
    picked = [book[index] for index in range(0, len(book), every)]
    kept, gone = picked[: len(picked) * 9 // 10], picked[len(picked) * 9 // 10 :]
    changed = [
        AddressBookEntrySnapshot(
            entry.peer_id, entry.addresses, entry.ref_count + 1, entry.expires_ns
        )
        for entry in kept
    ]
    return {
        "address_book": Patch(
            tuple(entry.peer_id for entry in gone),
            RecordTable.of(AddressBookEntrySnapshot, changed),
        ),
        "next_command_id": Replace(snapshot.framework.next_command_id + 1),
    }


@pytest.fixture(scope="module")
def node_state() -> VersionedSnapshot:
    return root_state(sorted_tables(build_snapshot(2_000)))


def test_apply_carries_the_base_s_rows_over_and_checks_no_record(
    node_state: VersionedSnapshot,
) -> None:
    delta = make_delta(
        node_state.ref, node_state.snapshot.taken_at, churned(node_state.snapshot, 100)
    )
    with mock.patch.object(framework_records, "_set_table", side_effect=AssertionError):
        result = apply(node_state, delta).snapshot
    base = node_state.snapshot.framework
    # Untouched tables are the base's own; the patched one holds the base's row objects.
    assert result.framework.peer_governor.health.rows is base.peer_governor.health.rows
    assert result.framework.peer_records.rows is base.peer_records.rows
    base_rows = {row[0]: row for row in base.address_book.rows}
    changed = {row[0] for row in delta.changes["address_book"].upserted.rows}  # type: ignore[union-attr]
    carried = [row for row in result.framework.address_book.rows if row[0] not in changed]
    assert len(carried) > 1_900
    assert all(row is base_rows[row[0]] for row in carried)
    assert [row[0] for row in result.framework.address_book.rows] == sorted(
        map(itemgetter(0), result.framework.address_book.rows)
    )


def test_make_delta_checks_the_changes_only(node_state: VersionedSnapshot) -> None:
    changes = churned(node_state.snapshot, 100)
    checked: list[SnapshotDelta] = []
    check = SnapshotDelta.__attrs_post_init__

    def counted(delta: SnapshotDelta) -> None:
        checked.append(delta)
        check(delta)

    with mock.patch.object(SnapshotDelta, "__attrs_post_init__", counted):
        made = make_delta(node_state.ref, node_state.snapshot.taken_at, changes)
    assert checked == [made]  # once: the target is named after the checked changes are packed


def _best_of(runs: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.slow
def test_apply_of_a_small_patch_to_a_100k_peer_snapshot_costs_a_small_part_of_a_decode() -> None:
    state = root_state(sorted_tables(build_snapshot(100_000)))
    data = encode(state.snapshot)
    delta = make_delta(state.ref, state.snapshot.taken_at, churned(state.snapshot, 100))
    assert len(delta.changes["address_book"].upserted) == 900  # type: ignore[union-attr]
    decode_time = _best_of(3, lambda: decode(data))
    apply_time = _best_of(3, lambda: apply(state, delta))
    changes = churned(state.snapshot, 100)
    make_time = _best_of(3, lambda: make_delta(state.ref, state.snapshot.taken_at, changes))
    assert apply_time < decode_time / 4
    assert make_time < decode_time / 20
