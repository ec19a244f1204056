"""Id reservations: under autosave a node mints only ids a durable save has reserved, so a node
restored from any save never mints an id handed out before the crash."""

from __future__ import annotations

import asyncio
import builtins
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_runtime import (
    Checkpointer,
    DirectoryStore,
    IdAllocator,
    Identity,
    IdsNotDurableError,
    ManualClock,
    Node,
    SnapshotRef,
    StoreWriteError,
)
from node_runtime.checkpointer import DEFAULT_ID_BLOCK, ID_RENEWAL_PERIOD_S
from node_runtime.testing import MemoryStore
from snapshot_schema import TransientSnapshot

S = 1_000_000_000
BLOCK = 1_024  # a small first block, so a test mints through several
IDENTITY = Identity.from_private_bytes(b"\x01" * 32)
WAIT = 10.0


class Keeper:
    """A reservation keeper that records what it is asked and confirms on demand."""

    def __init__(self, block: int = 8) -> None:
        self.block = block
        self.low: builtins.list[int] = []
        self.used_up: builtins.list[int] = []
        self.refuse = False

    def reservation_low(self, allocator: IdAllocator) -> None:
        self.low.append(allocator.next_id)
        allocator.extend_reservation(self.block)

    def reservation_used_up(self, allocator: IdAllocator) -> None:
        self.used_up.append(allocator.next_id)
        if self.refuse:
            raise IdsNotDurableError("refused")
        allocator.extend_reservation(self.block)
        allocator.confirm_durable(allocator.saved_next_id)


# The allocator's side.


def test_an_allocator_without_a_keeper_records_its_next_id() -> None:
    ids = IdAllocator(5)
    ids.mint()
    assert (ids.next_id, ids.saved_next_id) == (6, 6)


def test_under_a_keeper_a_snapshot_records_the_reservation_and_minting_in_it_is_no_change() -> None:
    ids = IdAllocator(5)
    keeper = Keeper(block=8)
    ids.reserve_with(keeper, 8)
    assert ids.saved_next_id == 13
    ids.confirm_durable(13)
    revision = ids.revision
    assert [ids.mint() for _ in range(3)] == [5, 6, 7]
    assert ids.revision == revision  # the saved state (the reservation) did not change
    assert ids.saved_next_id == 13


def test_nothing_is_minted_before_a_reservation_is_durable() -> None:
    ids = IdAllocator()
    keeper = Keeper()
    ids.reserve_with(keeper, 8)
    keeper.refuse = True
    with pytest.raises(IdsNotDurableError):
        ids.mint()
    assert ids.next_id == 0  # refused: nothing minted


def test_a_low_reservation_is_extended_once_half_a_block_is_used() -> None:
    ids = IdAllocator()
    keeper = Keeper(block=8)
    ids.reserve_with(keeper, 8)
    ids.confirm_durable(ids.saved_next_id)
    minted = [ids.mint() for _ in range(5)]
    assert minted == [0, 1, 2, 3, 4]
    assert keeper.low == [4]  # asked once, at half the block
    assert ids.saved_next_id == 4 + 8
    assert keeper.used_up == []


def test_an_unconfirmed_extension_is_not_minted_from() -> None:
    ids = IdAllocator()
    keeper = Keeper(block=8)
    ids.reserve_with(keeper, 8)
    ids.confirm_durable(8)
    for _ in range(8):
        ids.mint()  # the extension at 4 is never confirmed
    keeper.refuse = True
    with pytest.raises(IdsNotDurableError):
        ids.mint()
    assert ids.next_id == 8


def test_a_confirmation_never_outlives_a_released_reservation() -> None:
    ids = IdAllocator()
    keeper = Keeper(block=100)
    ids.reserve_with(keeper, 100)
    ids.confirm_durable(100)
    ids.mint()
    ids.release_reservation()
    assert ids.saved_next_id == 1
    ids.confirm_durable(100)  # a late confirmation of the snapshot taken before the release
    keeper.refuse = True
    with pytest.raises(IdsNotDurableError):
        ids.mint()


def test_an_exhausted_allocator_says_so_under_a_keeper_too() -> None:
    ids = IdAllocator(2**64 - 1)
    ids.reserve_with(Keeper(), 8)
    with pytest.raises(OverflowError, match="every id"):
        ids.mint()


# Under a real checkpointer and store.


def make_node() -> Node:
    return Node(IDENTITY, clock=ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DirectoryStore]:
    with DirectoryStore(tmp_path, keep_last=None) as store:
        yield store


def restored_from(store: DirectoryStore) -> Node:
    latest = store.latest()
    assert latest is not None
    return Node.restore(latest.snapshot, IDENTITY, clock=ManualClock(2_000 * S, 1_765_000_000 * S))


def test_a_node_restored_after_a_crash_mints_above_every_id_minted(store: DirectoryStore) -> None:
    node = make_node()
    checkpointer = Checkpointer(node, store, id_block=BLOCK)
    minted = [node.command_ids.mint() for _ in range(5 * BLOCK)]
    minted_exec = [node.exec_ids.mint() for _ in range(3)]
    checkpointer.flush(WAIT)
    # The crash: no close, no final save.
    restored = restored_from(store)
    assert restored.command_ids.mint() > max(minted)
    assert restored.exec_ids.mint() > max(minted_exec)
    checkpointer.close(WAIT)


def test_a_clean_close_gives_back_the_unused_reservation(store: DirectoryStore) -> None:
    node = make_node()
    checkpointer = Checkpointer(node, store)
    assert [node.command_ids.mint() for _ in range(3)] == [0, 1, 2]
    checkpointer.close(WAIT)
    assert restored_from(store).command_ids.mint() == 3


def test_minting_after_close_is_refused(store: DirectoryStore) -> None:
    node = make_node()
    checkpointer = Checkpointer(node, store)
    node.command_ids.mint()
    checkpointer.close(WAIT)
    with pytest.raises(IdsNotDurableError, match="closed"):
        node.command_ids.mint()
    assert restored_from(store).command_ids.mint() == 1


def test_the_first_mint_waits_for_the_first_save_and_steady_minting_never_waits(
    store: DirectoryStore,
) -> None:
    node = make_node()
    checkpointer = Checkpointer(node, store)
    for _ in range(200):
        node.command_ids.mint()
        checkpointer.poll()
    assert checkpointer.mint_waits == 1
    assert store.latest() is not None
    checkpointer.close(WAIT)


def test_reservations_renewed_often_grow_so_saves_stay_rare(store: DirectoryStore) -> None:
    now = [0.0]
    node = make_node()
    checkpointer = Checkpointer(node, store, id_block=BLOCK, timer=lambda: now[0])
    checkpointer.poll()
    checkpointer.flush(WAIT)
    saves_before = checkpointer.saves
    for _ in range(100 * BLOCK):  # minted within one renewal period: blocks double
        node.command_ids.mint()
        checkpointer.poll()
    checkpointer.flush(WAIT)
    renewals = checkpointer.saves - saves_before
    assert renewals <= 8  # doubling 7 times covers 100 blocks
    now[0] += 2 * ID_RENEWAL_PERIOD_S
    checkpointer.close(WAIT)


def test_minting_goes_on_from_the_durable_half_while_the_renewal_is_saved() -> None:
    store = GatedStore()
    node = make_node()
    checkpointer = Checkpointer(node, store, id_block=BLOCK)
    try:
        checkpointer.poll()
        store.open_for(1)  # the first save, reserving the first block
        assert [node.command_ids.mint() for _ in range(BLOCK // 2)][-1] == BLOCK // 2 - 1
        assert checkpointer.mint_waits == 1
        node.command_ids.mint()  # half the block is used: the reservation is extended
        assert checkpointer.poll()  # and the next poll saves it, cooldown or not
        assert store.entered.wait(WAIT)  # that save is under way, and held back
        for _ in range(BLOCK // 2 - 1):
            node.command_ids.mint()  # still durable: no mint waits for the save in flight
        assert checkpointer.mint_waits == 1
        assert node.command_ids.next_id == BLOCK
        store.open_for(1)
        assert node.command_ids.mint() == BLOCK
        assert store.saved[-1].framework.next_command_id > BLOCK
    finally:
        store.open_for(100)
        checkpointer.close(WAIT)


class FailingStore(MemoryStore):
    """Fails every save with `error` until `healed`; then keeps snapshots in memory."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.healed = False
        self.saved: list[TransientSnapshot] = []

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        if not self.healed:
            raise self.error
        self.saved.append(snapshot)
        return super().save(snapshot)


class GatedStore(FailingStore):
    """Each save waits until the test lets it through (`open_for(n)` lets n more saves pass)."""

    def __init__(self) -> None:
        super().__init__(StoreWriteError("unused"))
        self.healed = True
        self.entered = threading.Event()
        self._passes = threading.Semaphore(0)

    def open_for(self, saves: int) -> None:
        for _ in range(saves):
            self._passes.release()

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        self.entered.set()
        assert self._passes.acquire(timeout=WAIT)
        self.entered.clear()
        return super().save(snapshot)


def test_a_mint_whose_reservation_cannot_be_saved_is_refused_with_the_cause_then_retried() -> None:
    store = FailingStore(StoreWriteError("disk full", 28))
    node = make_node()
    checkpointer = Checkpointer(node, store)
    with pytest.raises(IdsNotDurableError) as refused:
        node.command_ids.mint()
    assert isinstance(refused.value.__cause__, StoreWriteError)
    assert node.command_ids.next_id == 0
    store.healed = True
    assert node.command_ids.mint() == 0  # minting again retries the save
    assert store.saved[-1].framework.next_command_id > 0
    checkpointer.close(WAIT)


def test_a_mint_waits_at_most_mint_timeout_for_a_stuck_store() -> None:
    release = threading.Event()

    class StuckStore(FailingStore):
        def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
            release.wait(WAIT)
            return super().save(snapshot)

    store = StuckStore(StoreWriteError("unused"))
    store.healed = True
    node = make_node()
    checkpointer = Checkpointer(node, store, mint_timeout=0.05)
    try:
        with pytest.raises(IdsNotDurableError, match="within"):
            node.command_ids.mint()
        assert node.command_ids.next_id == 0
    finally:
        release.set()
        checkpointer.close(WAIT)


def test_the_default_first_block_is_large_enough_for_a_slow_save_at_10k_ids_per_second() -> None:
    # Half a block must outlast a save of a large node (a second or more) at 10,000 ids/s.
    assert DEFAULT_ID_BLOCK // 2 / 10_000 > 30


def test_an_id_block_must_be_positive() -> None:
    with pytest.raises(ValueError, match="id_block"):
        Checkpointer(make_node(), MemoryStore(), id_block=0)


def test_under_run_a_low_reservation_is_saved_without_the_host_polling(
    store: DirectoryStore,
) -> None:
    node = make_node()

    async def scenario() -> tuple[int, SnapshotRef | None]:
        checkpointer = Checkpointer(node, store, id_block=8)  # a 30 s interval: only a wake-up
        task = asyncio.create_task(checkpointer.run())
        try:
            async with asyncio.timeout(WAIT):
                while checkpointer.saves < 1:
                    await asyncio.sleep(0.005)
                for _ in range(5):  # past half the block, never past its durable part
                    node.command_ids.mint()
                while checkpointer.saves < 2:
                    await asyncio.sleep(0.005)
            return checkpointer.mint_waits, checkpointer.last_saved
        finally:
            await checkpointer.aclose(WAIT)
            await asyncio.wait_for(task, WAIT)

    mint_waits, second_save = asyncio.run(scenario())
    assert mint_waits == 0
    assert second_save is not None
    saved = store.at(second_save.created_wall_ns)  # the state the second save stored
    assert saved is not None
    assert saved.snapshot.framework.next_command_id > 8  # the renewal, saved before any mint
