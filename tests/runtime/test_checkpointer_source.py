"""Checkpointer with a mirrored source (a py-libp2p host's state, say) and for event loops other
than asyncio: a move of the source is a change, the copy into the node is made only when a save
is due, right before the snapshot, and never re-entered; a waker is called for early saves; the
close runs in two halves, the waiting one on any thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from node_runtime import Checkpointer, Identity, ManualClock, Node
from node_runtime.testing import MemoryStore
from snapshot_schema import TransientSnapshot

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(b"\x01" * 32)
PEER = Identity.from_private_bytes(b"\x02" * 32).peer_id
INTERVAL = 30.0
COOLDOWN = 1.0
WAIT = 10.0


class Timer:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """State kept outside the node: `value` is copied into the counter `mirror` on capture."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.revision = 0
        self.value = 0
        self.captures = 0
        self.during_capture: Callable[[], object] = lambda: None

    def set(self, value: int) -> None:
        self.value = value
        self.revision += 1

    def capture(self) -> None:
        self.captures += 1
        self.during_capture()
        difference = self.value - self.node.counters.get("mirror")
        if difference:
            self.node.counters.increment("mirror", difference)


@pytest.fixture
def node() -> Node:
    return Node(IDENTITY, clock=ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S))


@pytest.fixture
def source(node: Node) -> Source:
    return Source(node)


@pytest.fixture
def timer() -> Timer:
    return Timer()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def checkpointer(
    node: Node, store: MemoryStore, source: Source, timer: Timer
) -> Iterator[Checkpointer]:
    checkpointer = Checkpointer(
        node,
        store,
        interval=INTERVAL,
        cooldown=COOLDOWN,
        timer=timer,
        source_revision=lambda: source.revision,
        capture_source=source.capture,
    )
    assert checkpointer.poll()  # the first save
    checkpointer.flush(WAIT)
    yield checkpointer
    checkpointer.close(WAIT)


def saved_mirror(store: MemoryStore) -> int:
    found = store.latest()
    assert found is not None
    return dict(found.snapshot.framework.counters.items()).get("mirror", 0)


def test_a_source_move_is_saved_at_the_next_due_poll_with_the_copy_made_just_before(
    checkpointer: Checkpointer, store: MemoryStore, source: Source, timer: Timer
) -> None:
    captures = source.captures
    source.set(7)
    assert checkpointer.seconds_until_due() == pytest.approx(INTERVAL)
    assert not checkpointer.poll()  # not due yet: no copy made either
    assert source.captures == captures
    timer.now += INTERVAL
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    assert source.captures == captures + 1
    assert saved_mirror(store) == 7
    assert checkpointer.saves == 2


def test_an_unmoved_source_is_never_copied_and_an_idle_node_writes_nothing(
    checkpointer: Checkpointer, source: Source, timer: Timer
) -> None:
    captures = source.captures
    for _ in range(5):
        timer.now += 10 * INTERVAL
        assert not checkpointer.poll()
    assert source.captures == captures
    assert checkpointer.saves == 1
    assert checkpointer.seconds_until_due() == INTERVAL


def test_a_source_move_that_leaves_the_node_unchanged_writes_nothing(
    checkpointer: Checkpointer, source: Source, timer: Timer
) -> None:
    source.revision += 1  # moved, but the value the node mirrors is the same
    timer.now += INTERVAL
    assert not checkpointer.poll()
    checkpointer.flush(WAIT)
    assert checkpointer.saves == 1
    assert checkpointer.seconds_until_due() == INTERVAL  # and it is not looked at again


def test_a_policy_change_made_by_the_copy_is_in_that_snapshot_and_does_not_reenter(
    checkpointer: Checkpointer,
    store: MemoryStore,
    source: Source,
    timer: Timer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = source.node
    snapshots: list[TransientSnapshot] = []
    take_snapshot = node.snapshot

    def counted_snapshot() -> TransientSnapshot:
        snapshots.append(take_snapshot())
        return snapshots[-1]

    monkeypatch.setattr(node, "snapshot", counted_snapshot)
    # The governor's listener asks for a save from inside the copy.
    source.during_capture = lambda: node.block(PEER)
    source.set(3)
    timer.now += INTERVAL
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    assert len(snapshots) == 1  # none taken half-way through the copy
    assert checkpointer.saves == 2
    assert saved_mirror(store) == 3
    found = store.latest()
    assert found is not None
    assert found.snapshot.framework.peer_governor.blocklist == frozenset({PEER.to_bytes()})
    timer.now += COOLDOWN
    assert not checkpointer.poll()  # the block was saved with the copy: nothing left to do


def test_the_final_save_copies_a_moved_source(
    node: Node, store: MemoryStore, source: Source, timer: Timer
) -> None:
    checkpointer = Checkpointer(
        node,
        store,
        timer=timer,
        source_revision=lambda: source.revision,
        capture_source=source.capture,
    )
    assert checkpointer.poll()
    source.set(5)
    checkpointer.close(WAIT)
    assert saved_mirror(store) == 5


def test_source_revision_and_capture_source_go_together(node: Node, store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="go together"):
        Checkpointer(node, store, source_revision=lambda: 0)
    with pytest.raises(ValueError, match="go together"):
        Checkpointer(node, store, capture_source=lambda: None)


def test_a_registered_waker_is_called_for_a_policy_change_within_the_cooldown(
    checkpointer: Checkpointer, node: Node
) -> None:
    wakes: list[None] = []
    checkpointer.set_waker(lambda: wakes.append(None))
    node.block(PEER)  # within the cooldown of the first save: not saved at once
    assert wakes == [None]
    assert checkpointer.saves == 1
    checkpointer.set_waker(None)
    node.unblock(PEER)
    assert wakes == [None]


def test_a_registered_waker_is_called_when_an_id_reservation_runs_low(
    node: Node, store: MemoryStore, timer: Timer
) -> None:
    checkpointer = Checkpointer(node, store, timer=timer, id_block=4)
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    wakes: list[None] = []
    checkpointer.set_waker(lambda: wakes.append(None))
    node.command_ids.mint()
    node.command_ids.mint()
    assert wakes == []
    node.command_ids.mint()  # half the block is used: the reservation is extended
    assert wakes == [None]
    assert checkpointer.poll()  # and saved at once, without the cooldown
    checkpointer.close(WAIT)


def test_a_close_in_two_halves_waits_on_another_thread(
    checkpointer: Checkpointer, node: Node, store: MemoryStore
) -> None:
    node.counters.increment("last words")
    checkpointer.begin_close()  # the final snapshot, on the node's thread
    node.counters.increment("after the close")  # not in the final save
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(checkpointer.finish_close(WAIT)))
    worker.start()
    worker.join(WAIT)
    assert results == [checkpointer.last_saved]
    found = store.latest()
    assert found is not None
    counters = dict(found.snapshot.framework.counters.items())
    assert counters.get("last words") == 1
    assert "after the close" not in counters
    assert checkpointer.saves == 2
    checkpointer.begin_close()  # a second close changes nothing
    assert checkpointer.saves == 2


def test_finish_close_before_begin_close_is_refused(checkpointer: Checkpointer) -> None:
    with pytest.raises(RuntimeError, match="before begin_close"):
        checkpointer.finish_close(WAIT)
