"""Checkpointer: bounded loss, nothing written while idle, policy changes saved at once with a
cooldown, a final save on close, retries after a failed save, and a writer that coalesces."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from node_runtime import (
    DEFAULT_INTERVAL_S,
    AutosaveError,
    Checkpointer,
    DirectoryStore,
    Identity,
    ManualClock,
    Multiaddr,
    Node,
    SnapshotRef,
    StoredSnapshot,
    StoreError,
    StoreWriteError,
)
from node_runtime.testing import MemoryStore
from snapshot_schema import TransientSnapshot

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(b"\x01" * 32)
PEERS = [Identity.from_private_bytes(bytes([n]) * 32).peer_id for n in range(2, 6)]
INTERVAL = 30.0
COOLDOWN = 1.0
WAIT = 10.0  # seconds a test waits for the writer thread at most


class FakeTimer:
    """A monotonic timer that moves only when told: every reading it has given, last is now."""

    def __init__(self) -> None:
        self.readings: list[float] = [100.0]

    def __call__(self) -> float:
        return self.readings[-1]

    def advance(self, seconds: float) -> None:
        self.readings.append(self.readings[-1] + seconds)


def make_node() -> Node:
    return Node(IDENTITY, clock=ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DirectoryStore]:
    with DirectoryStore(tmp_path, keep_last=None, fsync=False) as store:
        yield store


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def node() -> Node:
    return make_node()


@pytest.fixture
def checkpointer(node: Node, store: DirectoryStore, timer: FakeTimer) -> Iterator[Checkpointer]:
    checkpointer = Checkpointer(node, store, interval=INTERVAL, cooldown=COOLDOWN, timer=timer)
    yield checkpointer
    checkpointer.close(timeout=WAIT)


def saved_states(store: DirectoryStore) -> list[tuple[int, int]]:
    """Each state the store holds, as (generation, deltas after its snapshot): a journaling
    checkpointer's first save is a snapshot, the next ones deltas in its journal."""
    return [
        (ref.generation, deltas) for ref in store.list() for deltas in range(ref.journal_deltas + 1)
    ]


def latest(store: DirectoryStore) -> StoredSnapshot:
    found = store.latest()
    assert found is not None
    return found


# Periodic saves.


def test_first_poll_saves_at_once_and_an_idle_node_writes_nothing(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.saves == 0
    assert checkpointer.poll()
    ref = checkpointer.flush(WAIT)
    assert ref is not None
    assert ref.generation == 1
    assert checkpointer.saves == 1
    assert checkpointer.last_saved == ref
    assert latest(store).snapshot == node.snapshot()
    files = store.list()
    for _ in range(50):
        timer.advance(10 * INTERVAL)
        assert not checkpointer.poll()
    checkpointer.flush(WAIT)
    assert store.list() == files
    assert checkpointer.saves == 1
    assert checkpointer.seconds_until_due() == INTERVAL


def test_a_change_saves_once_the_interval_has_passed(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    start = timer()
    node.counters.increment("changes")
    assert checkpointer.seconds_until_due() == INTERVAL
    saved_at = None
    while saved_at is None:
        timer.advance(INTERVAL / 7)
        if checkpointer.poll():
            saved_at = timer()
        else:
            assert timer() < start + INTERVAL
    # The loss bound: the first poll at or after one interval since the last save saves.
    assert start + INTERVAL <= saved_at < start + INTERVAL + INTERVAL / 7
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0), (1, 1)]
    assert latest(store).snapshot == node.snapshot()
    assert not checkpointer.poll()  # nothing changed since


def test_a_change_after_a_long_idle_time_saves_at_the_next_poll(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    timer.advance(5 * INTERVAL)
    assert not checkpointer.poll()
    node.add_peer_address(PEERS[0], Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001"))
    assert checkpointer.seconds_until_due() == 0.0
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0), (1, 1)]
    assert latest(store).snapshot == node.snapshot()


def test_exactly_at_the_interval_is_due(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    node.counters.increment("changes")
    timer.advance(INTERVAL - 0.5)
    assert not checkpointer.poll()
    assert checkpointer.seconds_until_due() == pytest.approx(0.5)
    timer.advance(0.5)
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0), (1, 1)]


# Policy changes: saved at once, a burst at most twice.


@pytest.mark.parametrize("change", ["block", "unblock", "set_allowlist", "allow", "disallow"])
def test_a_policy_change_saves_without_a_poll(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node, change: str
) -> None:
    peer = PEERS[0].to_bytes()
    if change == "unblock":
        node.governor.block(peer)  # itself the first change: saved at once
    if change in ("allow", "disallow"):
        node.governor.set_allowlist([PEERS[1].to_bytes()])
    checkpointer.poll()
    checkpointer.flush(WAIT)
    assert checkpointer.saves == 1
    before = checkpointer.saves
    timer.advance(COOLDOWN)
    governor = node.governor
    {
        "block": lambda: governor.block(peer),
        "unblock": lambda: governor.unblock(peer),
        "set_allowlist": lambda: governor.set_allowlist([peer]),
        "allow": lambda: governor.allow(peer),
        "disallow": lambda: governor.disallow(PEERS[1].to_bytes()),
    }[change]()
    checkpointer.flush(WAIT)
    assert checkpointer.saves == before + 1
    saved = latest(store).snapshot.framework.peer_governor
    assert saved == node.snapshot().framework.peer_governor


def test_a_policy_change_within_the_cooldown_waits_for_it(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    timer.advance(COOLDOWN / 2)
    node.governor.block(PEERS[0].to_bytes())
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0)]
    assert checkpointer.seconds_until_due() == pytest.approx(COOLDOWN / 2)
    timer.advance(COOLDOWN / 4)
    assert not checkpointer.poll()
    timer.advance(COOLDOWN / 4)
    assert checkpointer.poll()  # the cooldown, not the interval
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0), (1, 1)]
    assert PEERS[0].to_bytes() in latest(store).snapshot.framework.peer_governor.blocklist


def test_a_requested_save_is_made_within_the_cooldown_not_the_interval(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    timer.advance(COOLDOWN / 2)
    node.counters.increment("host:delivered:alice")
    node.request_save()
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0)]
    assert checkpointer.seconds_until_due() == pytest.approx(COOLDOWN / 2)
    timer.advance(COOLDOWN / 2)
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0), (1, 1)]
    assert dict(latest(store).snapshot.framework.counters.items()) == {"host:delivered:alice": 1}


def test_a_requested_save_after_the_cooldown_is_made_without_a_poll(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    timer.advance(COOLDOWN)
    node.counters.increment("host:delivered:alice")
    node.request_save()
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0), (1, 1)]


def test_a_requested_save_of_an_unchanged_node_writes_nothing(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    timer.advance(COOLDOWN)
    node.request_save()
    checkpointer.flush(WAIT)
    assert saved_states(store) == [(1, 0)]
    assert checkpointer.seconds_until_due() == INTERVAL


def test_a_burst_of_blocks_writes_at_most_twice(
    checkpointer: Checkpointer, store: DirectoryStore, timer: FakeTimer, node: Node
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    timer.advance(INTERVAL)
    keys = [bytes([0, 36, 8, 1, 18, 32]) + n.to_bytes(32, "big") for n in range(100)]
    for key in keys:
        node.governor.block(key)
        timer.advance(COOLDOWN / 1_000)
    checkpointer.flush(WAIT)
    assert checkpointer.saves - 1 <= 2
    assert len(saved_states(store)) - 1 <= 2
    assert set(keys) - set(latest(store).snapshot.framework.peer_governor.blocklist)
    timer.advance(COOLDOWN)
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    assert checkpointer.saves == 3
    assert len(saved_states(store)) == 3
    assert set(latest(store).snapshot.framework.peer_governor.blocklist) == set(keys)
    timer.advance(10 * INTERVAL)
    assert not checkpointer.poll()


# Closing.


def test_close_saves_when_dirty_and_the_store_restores_the_node(
    node: Node, store: DirectoryStore, timer: FakeTimer, checkpointer: Checkpointer
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    node.add_peer_address(PEERS[0], Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001"))
    node.counters.increment("dials_failed")
    node.command_ids.mint()
    node.bus.subscribe("peer_connected", 3)
    node.lifecycle.fire("started")
    ref = checkpointer.close(WAIT)  # no interval has passed: only close saves this state
    assert ref is not None
    assert (ref.generation, ref.journal_deltas) == (1, 1)  # a delta after the first snapshot
    assert not checkpointer.poll()
    stored = latest(store)
    assert stored.ref == ref
    original = node.snapshot()
    assert stored.snapshot == original
    restored = Node.restore(stored.snapshot, IDENTITY, clock=node.clock)
    assert restored.snapshot() == original
    assert restored.command_ids.mint() == 1
    assert checkpointer.close(WAIT) == ref  # closing twice is harmless


def test_close_writes_nothing_when_clean(
    node: Node, store: DirectoryStore, timer: FakeTimer, checkpointer: Checkpointer
) -> None:
    assert checkpointer.poll()
    checkpointer.flush(WAIT)
    timer.advance(INTERVAL)
    assert checkpointer.close(WAIT) == store.list()[-1]
    assert saved_states(store) == [(1, 0)]
    assert checkpointer.saves == 1


def test_close_before_any_poll_saves_the_initial_state(
    node: Node, store: DirectoryStore, timer: FakeTimer
) -> None:
    checkpointer = Checkpointer(node, store, timer=timer)
    ref = checkpointer.close(WAIT)
    assert ref is not None
    assert latest(store).snapshot == node.snapshot()


def test_invalid_timings_are_refused(node: Node, store: DirectoryStore) -> None:
    with pytest.raises(ValueError, match="interval"):
        Checkpointer(node, store, interval=0)
    with pytest.raises(ValueError, match="cooldown"):
        Checkpointer(node, store, cooldown=-1)


# A store that fails, and one that is slow.


class FlakyStore(MemoryStore):
    """Fails its first `failures` saves with ENOSPC, then keeps snapshots in memory."""

    def __init__(self, failures: int = 1) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0
        self.saved: list[TransientSnapshot] = []

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise StoreWriteError("disk full", 28)
        self.saved.append(snapshot)
        return super().save(snapshot)


def test_a_failed_save_is_raised_by_flush_and_retried_after_the_cooldown_then_less_often(
    node: Node, timer: FakeTimer, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(failures=3)
    checkpointer = Checkpointer(node, store, interval=INTERVAL, cooldown=COOLDOWN, timer=timer)
    try:
        assert checkpointer.poll()
        with pytest.raises(StoreWriteError) as caught:
            checkpointer.flush(WAIT)
        assert caught.value.errno == 28
        assert "autosave failed" in caplog.text
        assert checkpointer.saves == 0
        assert checkpointer.last_saved is None
        # No change since, but the state is not on disk: saved again after the cooldown, then
        # after twice as long for each further failure (never longer than the interval).
        for wait in (COOLDOWN, 2 * COOLDOWN, 4 * COOLDOWN):
            assert checkpointer.seconds_until_due() == pytest.approx(wait)
            timer.advance(wait * 0.99)
            assert not checkpointer.poll()
            timer.advance(wait * 0.01)
            assert checkpointer.poll()
            with contextlib.suppress(StoreWriteError):
                checkpointer.flush(WAIT)
        assert store.attempts == 4
        assert store.saved == [node.snapshot()]
        assert checkpointer.saves == 1
        timer.advance(INTERVAL)
        assert not checkpointer.poll()  # saved now: clean again
    finally:
        checkpointer.close(WAIT)
    assert store.attempts == 4


class BlockingStore(FlakyStore):
    """Every save waits for `release`; `entered` is set when a save has started."""

    def __init__(self) -> None:
        super().__init__(failures=0)
        self.entered = threading.Event()
        self.release = threading.Event()

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        self.entered.set()
        assert self.release.wait(WAIT)
        return super().save(snapshot)


def test_a_writer_that_falls_behind_saves_only_the_newest_snapshot(
    node: Node, timer: FakeTimer
) -> None:
    store = BlockingStore()
    checkpointer = Checkpointer(node, store, interval=INTERVAL, cooldown=COOLDOWN, timer=timer)
    try:
        submitted = [node.snapshot()]
        assert checkpointer.poll()
        assert store.entered.wait(WAIT)  # the first save is under way, and stuck
        for _ in range(5):
            node.counters.increment("changes")
            timer.advance(INTERVAL)
            assert checkpointer.poll()
            submitted.append(node.snapshot())
        with pytest.raises(TimeoutError):
            checkpointer.flush(0.01)
        store.release.set()
        checkpointer.flush(WAIT)
        assert checkpointer.saves < len(submitted)
        assert store.saved == [submitted[0], submitted[-1]]
        assert store.saved[-1].framework.counters["changes"] == 5
    finally:
        store.release.set()
        checkpointer.close(WAIT)


# asyncio hosts.


def test_run_as_an_asyncio_task_saves_changes_and_aclose_saves_the_last(
    node: Node, store: DirectoryStore
) -> None:
    async def scenario() -> SnapshotRef | None:
        checkpointer = Checkpointer(node, store, interval=0.01, cooldown=0.01, timer=time.monotonic)
        task = asyncio.create_task(checkpointer.run())
        try:
            deadline = time.monotonic() + WAIT
            while checkpointer.saves < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            assert checkpointer.saves == 1  # the first save, at once
            node.counters.increment("changes")
            while checkpointer.saves < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            assert checkpointer.saves == 2  # the change, one interval later
            assert latest(store).snapshot.framework.counters["changes"] == 1
            node.command_ids.mint()
            node.command_ids.mint()
            node.command_ids.mint()
            ref = await checkpointer.aclose(WAIT)  # before the task had its chance
            await asyncio.wait_for(task, WAIT)  # closing ends the task
            return ref
        finally:
            task.cancel()

    ref = asyncio.run(scenario())
    assert ref is not None
    stored = latest(store)
    assert stored.ref == ref
    assert stored.snapshot.framework.next_command_id == 3
    assert stored.snapshot == node.snapshot()


# Urgent saves reach disk within the cooldown, whichever way the node is driven.


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_block_soon_after_a_save_reaches_disk_after_the_cooldown_under_run(
    node: Node, store: DirectoryStore
) -> None:
    # The defaults: a 30 s interval, a 1 s cooldown. WAIT is well below the interval.
    blocked = PEERS[0].to_bytes()

    async def scenario() -> float:
        checkpointer = Checkpointer(node, store)
        task = asyncio.create_task(checkpointer.run())
        try:
            while checkpointer.saves < 1:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.2)
            node.governor.block(blocked)
            started = time.monotonic()
            async with asyncio.timeout(WAIT):
                while checkpointer.saves < 2:
                    await asyncio.sleep(0.005)
            return time.monotonic() - started
        finally:
            await checkpointer.aclose(WAIT)
            await asyncio.wait_for(task, WAIT)

    took = asyncio.run(scenario())
    assert took < DEFAULT_INTERVAL_S
    assert blocked in latest(store).snapshot.framework.peer_governor.blocklist


def test_a_block_soon_after_a_save_reaches_disk_after_the_cooldown_under_poll(
    node: Node, store: DirectoryStore
) -> None:
    # The documented threaded loop: work, poll, sleep at most seconds_until_due().
    checkpointer = Checkpointer(node, store)
    work: queue.Queue[Callable[[], object]] = queue.Queue()
    stop = threading.Event()

    def drive() -> None:
        while not stop.is_set():
            with contextlib.suppress(queue.Empty):
                work.get(timeout=checkpointer.seconds_until_due())()
            checkpointer.poll()

    thread = threading.Thread(target=drive)
    thread.start()
    try:
        assert wait_until(lambda: checkpointer.saves == 1)
        time.sleep(0.2)
        work.put(lambda: node.governor.block(PEERS[0].to_bytes()))
        assert wait_until(lambda: checkpointer.saves == 2)
    finally:
        stop.set()
        work.put(lambda: None)
        thread.join(WAIT)
        checkpointer.close(WAIT)
    assert PEERS[0].to_bytes() in latest(store).snapshot.framework.peer_governor.blocklist


# Autosave never dies, and never hangs its callers.


class RaisingStore(FlakyStore):
    """Raises `error` from its first `failures` saves: any exception, not only store errors."""

    def __init__(self, error: Exception, failures: int = 1) -> None:
        super().__init__(failures=0)
        self.error = error
        self.raises = failures

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        if self.raises:
            self.raises -= 1
            raise self.error
        return super().save(snapshot)


@pytest.mark.parametrize(
    ("error", "reported"),
    [
        (ValueError("generation 18446744073709551615 out of range"), AutosaveError),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), AutosaveError),
        (RuntimeError("a bug in a store"), AutosaveError),
        (PermissionError(13, "denied"), StoreWriteError),
    ],
)
def test_any_error_in_a_save_is_a_typed_store_error_with_its_cause_and_autosave_goes_on(
    node: Node,
    timer: FakeTimer,
    error: Exception,
    reported: type[Exception],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RaisingStore(error)
    checkpointer = Checkpointer(node, store, interval=INTERVAL, cooldown=COOLDOWN, timer=timer)
    try:
        assert checkpointer.poll()
        with pytest.raises(reported) as caught:
            checkpointer.flush(WAIT)
        assert caught.value.__cause__ is error
        assert isinstance(caught.value, StoreError)
        assert "autosave failed" in caplog.text
        timer.advance(COOLDOWN)
        assert checkpointer.poll()  # the writer is alive: the retry is saved
        assert checkpointer.flush(WAIT) is not None
        assert store.saved == [node.snapshot()]
    finally:
        checkpointer.close(WAIT)


def test_close_returns_within_its_timeout_when_a_save_hangs(node: Node, timer: FakeTimer) -> None:
    store = BlockingStore()
    checkpointer = Checkpointer(node, store, timer=timer)
    try:
        assert checkpointer.poll()
        assert store.entered.wait(WAIT)
        outcome: list[BaseException | None] = []

        def close() -> None:
            try:
                checkpointer.close(timeout=0.05)
                outcome.append(None)
            except BaseException as error:  # recorded for the assertion
                outcome.append(error)

        closer = threading.Thread(target=close)
        closer.start()
        closer.join(WAIT)
        assert not closer.is_alive()
        assert isinstance(outcome[0], TimeoutError)
    finally:
        store.release.set()


def test_aclose_returns_within_its_timeout_when_a_save_hangs(node: Node, timer: FakeTimer) -> None:
    store = BlockingStore()
    checkpointer = Checkpointer(node, store, timer=timer)

    async def scenario() -> None:
        assert checkpointer.poll()
        assert store.entered.wait(WAIT)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(checkpointer.aclose(timeout=0.05), WAIT)

    try:
        asyncio.run(scenario())
    finally:
        store.release.set()
