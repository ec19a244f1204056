"""A checkpointer over a journaling store: deltas between full snapshots, never a hole.

Every save's state is read back through the store and compared with the node's own snapshot at
that instant, so a delta that lost or invented a change fails here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_runtime import (
    Checkpointer,
    DirectoryStore,
    Identity,
    ManualClock,
    Multiaddr,
    Node,
    SnapshotRef,
    StoreWriteError,
)
from snapshot_schema import SnapshotDelta, TransientSnapshot

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(b"\x01" * 32)
PEERS = [Identity.from_private_bytes(bytes([n]) * 32).peer_id for n in range(2, 12)]
INTERVAL = 30.0
WAIT = 10.0


class FakeTimer:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FaultyStore(DirectoryStore):
    """A directory store whose next appends fail, or wait, when told to."""

    failing_appends = 0
    hold: threading.Event | None = None
    held = threading.Event()

    def append(self, delta: SnapshotDelta) -> SnapshotRef:
        if self.hold is not None:
            self.held.set()
            self.hold.wait(WAIT)
        if self.failing_appends:
            self.failing_appends -= 1
            raise StoreWriteError("disk on fire")
        return super().append(delta)


def make_node() -> Node:
    return Node(IDENTITY, clock=ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S))


@pytest.fixture
def node() -> Node:
    return make_node()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FaultyStore]:
    store = FaultyStore(tmp_path, keep_last=None, fsync=False, journal_max_deltas=3)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def checkpointer(node: Node, store: FaultyStore, timer: FakeTimer) -> Iterator[Checkpointer]:
    checkpointer = Checkpointer(node, store, interval=INTERVAL, timer=timer)
    yield checkpointer
    store.hold = None
    checkpointer.close(WAIT)


def change(node: Node, step: int) -> None:
    """A change touching a keyed table, a counter and the clock."""
    node.clock.advance(S)  # type: ignore[attr-defined]
    peer = PEERS[step % len(PEERS)]
    node.add_peer_address(peer, Multiaddr.from_string(f"/ip4/10.0.0.{step % 250 + 1}/tcp/4001"))
    node.counters.increment("steps")


def save(checkpointer: Checkpointer, timer: FakeTimer) -> SnapshotRef:
    timer.advance(INTERVAL)
    assert checkpointer.poll()
    ref = checkpointer.flush(WAIT)
    assert ref is not None
    return ref


def stored(store: DirectoryStore) -> TransientSnapshot:
    latest = store.latest()
    assert latest is not None
    return latest.snapshot


def states(store: DirectoryStore) -> list[tuple[int, int]]:
    return [(ref.generation, ref.journal_deltas) for ref in store.list()]


def test_saves_after_the_first_are_deltas_in_its_journal_and_load_as_the_node(
    checkpointer: Checkpointer, store: FaultyStore, node: Node, timer: FakeTimer
) -> None:
    assert checkpointer.journaling
    first = save(checkpointer, timer)
    assert (first.generation, first.journal_deltas) == (1, 0)
    for step in range(1, 3):
        change(node, step)
        ref = save(checkpointer, timer)
        assert (ref.generation, ref.journal_deltas) == (1, step)
        assert stored(store) == node.snapshot()
    assert states(store) == [(1, 2)]


def test_the_journal_threshold_starts_a_new_generation(
    checkpointer: Checkpointer, store: FaultyStore, node: Node, timer: FakeTimer
) -> None:
    save(checkpointer, timer)
    refs = []
    for step in range(1, 6):
        change(node, step)
        refs.append(save(checkpointer, timer))
        assert stored(store) == node.snapshot()
    # journal_max_deltas=3: three deltas, then a full snapshot, then deltas after it.
    assert [(ref.generation, ref.journal_deltas) for ref in refs] == [
        (1, 1),
        (1, 2),
        (1, 3),
        (2, 0),
        (2, 1),
    ]


def test_a_failed_append_is_followed_by_a_full_snapshot_never_a_hole(
    checkpointer: Checkpointer, store: FaultyStore, node: Node, timer: FakeTimer
) -> None:
    save(checkpointer, timer)
    change(node, 1)
    store.failing_appends = 1
    timer.advance(INTERVAL)
    assert checkpointer.poll()
    with pytest.raises(StoreWriteError):
        checkpointer.flush(WAIT)
    change(node, 2)
    ref = save(checkpointer, timer)  # the retry: both changes, in a new generation
    assert (ref.generation, ref.journal_deltas) == (2, 0)
    assert stored(store) == node.snapshot()
    change(node, 3)
    assert save(checkpointer, timer).journal_deltas == 1  # and deltas again after it
    assert stored(store) == node.snapshot()


def test_deltas_pending_behind_a_slow_write_are_merged_into_one(
    checkpointer: Checkpointer, store: FaultyStore, node: Node, timer: FakeTimer
) -> None:
    save(checkpointer, timer)
    release = threading.Event()
    store.hold = release
    change(node, 1)
    timer.advance(INTERVAL)
    assert checkpointer.poll()  # its append waits
    assert store.held.wait(WAIT)
    for step in (2, 3, 4):  # three more saves queue up behind it
        change(node, step)
        timer.advance(INTERVAL)
        assert checkpointer.poll()
    store.hold = None
    release.set()
    ref = checkpointer.flush(WAIT)
    assert ref is not None
    assert checkpointer.saves == 3  # the snapshot, the held delta, the three merged
    assert ref.journal_deltas == 2
    assert stored(store) == node.snapshot()


def test_the_first_save_after_a_restart_is_a_full_snapshot(
    checkpointer: Checkpointer, store: FaultyStore, node: Node, timer: FakeTimer, tmp_path: Path
) -> None:
    save(checkpointer, timer)
    change(node, 1)
    save(checkpointer, timer)
    checkpointer.close(WAIT)
    store.close()
    with DirectoryStore(tmp_path, keep_last=None, fsync=False) as reopened:
        latest = reopened.latest()
        assert latest is not None
        restored = Node.restore(latest.snapshot, IDENTITY, clock=node.clock)
        again = Checkpointer(restored, reopened, interval=INTERVAL, timer=timer)
        try:
            assert again.poll()
            ref = again.flush(WAIT)
        finally:
            again.close(WAIT)
        assert ref is not None
        assert (ref.generation, ref.journal_deltas) == (2, 0)


def test_journal_false_writes_full_snapshots_only(
    store: FaultyStore, node: Node, timer: FakeTimer
) -> None:
    checkpointer = Checkpointer(node, store, interval=INTERVAL, timer=timer, journal=False)
    try:
        assert not checkpointer.journaling
        save(checkpointer, timer)
        change(node, 1)
        save(checkpointer, timer)
    finally:
        checkpointer.close(WAIT)
    assert states(store) == [(1, 0), (2, 0)]
