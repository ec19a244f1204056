"""`Checkpointer`: autosave for a node, with bounded loss and nothing written while idle.

The rules (a SIGKILL skips every shutdown handler, so nothing may depend on one):
- A periodic save every `interval` seconds, only if the node changed since the last one
  (`Node.revision`): a crash loses at most one interval of changes; an idle node writes nothing.
- Changes that must not be lost — the block and allow lists, and whatever calls
  `Node.request_save()` (an envelope sent or delivered) — ask for a save at once, honouring a
  `cooldown`, so a burst of them writes once, at the end of the cooldown, not once per call.
  An asyncio `run()` task is woken for it; a threaded host's next `poll()` sees it.
- Ids are never minted twice: the checkpointer keeps each id allocator's reservation (see
  `id_allocator.py`) durable, saving at once (no cooldown) when one runs low, so a node restored
  from any save mints above every id handed out before the crash.
- The first poll after attaching saves at once, so the node's identity and state are on disk from
  the start; `close()` makes a final save, but nothing depends on it running.
- The node's own thread pays only for `Node.snapshot()`: encoding, sealing and I/O run on a
  writer thread. A writer that falls behind coalesces: only the newest pending snapshot is
  written. A failed save is retried after the cooldown, then less often, up to `interval`.
- With a store that keeps a journal (`JournalStore`, such as `DirectoryStore`), a save writes
  only what changed: the node's delta since the previous save (`Node.take_delta`), appended to
  the journal of the last full snapshot. A full snapshot (a new generation) is written at the
  first save, after any failed save, and when the store says the journal reached its threshold
  (`needs_full_snapshot()`). `journal=False` writes full snapshots only.

The node is not thread-safe, so snapshots are taken on the thread that drives it: that thread
calls `poll()` regularly (threaded hosts), or runs `await checkpointer.run()` as a task (asyncio
hosts, where the loop is the node's thread). Other event loops (trio) register a waker with
`set_waker` and close in two halves, `begin_close` and `finish_close`.

A node that mirrors state kept elsewhere (a py-libp2p host's peerstore) passes that state's
revision (`source_revision`) and the copy into the node (`capture_source`): a move of the source
counts as a change, and the copy is made on the node's thread right before each snapshot, so the
mirror is brought up to date only when a save is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Final

from node_runtime.autosave_writer import AutosaveWriter, ReservedEnds
from node_runtime.component_errors import IdsNotDurableError
from node_runtime.id_allocator import IdAllocator
from node_runtime.node import Node
from node_runtime.snapshot_store import JournalStore, SnapshotRef, SnapshotStore
from snapshot_schema import FullSnapshotNeeded, StateRef

DEFAULT_INTERVAL_S = 30.0
DEFAULT_COOLDOWN_S = 1.0
DEFAULT_TIMEOUT_S = 30.0
"""How long `flush`, `close` and `aclose` wait for the writer by default."""
DEFAULT_MINT_TIMEOUT_S = 10.0
"""How long a mint waits for its reservation's save before `IdsNotDurableError`."""
DEFAULT_ID_BLOCK = 1 << 20
"""Ids reserved at a time at first. Large, because a renewal must be saved before half a block
is minted, and saving a large node takes a second or more; a crash skips at most one block, a
trifle in a u64 space."""
MAX_ID_BLOCK: Final = 1 << 32
ID_RENEWAL_PERIOD_S: Final = 10.0
"""A reservation renewed sooner than this after the previous one doubles its block, so steady
minting saves at most about once per period, whatever the rate."""
MIN_RETRY_S: Final = 0.1
_UNSAVED_ROOT: Final = StateRef(0, 0, bytes(32))
"""What the node's thread calls the full snapshot a first delta follows: its real name is known
only once the writer has encoded it, and the writer re-bases the deltas onto it."""


class Checkpointer:
    """Autosaves `node` into `store`. Attach once per node (after `Node.restore`, too)."""

    def __init__(
        self,
        node: Node,
        store: SnapshotStore,
        *,
        interval: float = DEFAULT_INTERVAL_S,
        cooldown: float = DEFAULT_COOLDOWN_S,
        mint_timeout: float = DEFAULT_MINT_TIMEOUT_S,
        id_block: int = DEFAULT_ID_BLOCK,
        timer: Callable[[], float] = time.monotonic,
        source_revision: Callable[[], int] | None = None,
        capture_source: Callable[[], object] | None = None,
        journal: bool = True,
    ) -> None:
        if not interval > 0 or not cooldown >= 0 or not mint_timeout > 0 or not id_block > 0:
            raise ValueError(
                "interval, mint_timeout and id_block must be positive and cooldown not negative"
            )
        if (source_revision is None) != (capture_source is None):
            raise ValueError("source_revision and capture_source go together")
        self._source_revision = source_revision
        self._capture_source = capture_source
        self._captured_source: int | None = None
        self._capturing = False
        self._node = node
        self._interval = interval
        self._cooldown = cooldown
        self._mint_timeout = mint_timeout
        self._id_block = id_block
        self._timer = timer
        self._saved_revision: int | None = None
        self._last_snapshot_at = -math.inf  # so the first save is due at once
        self._urgent = False
        self._reservation_due = False
        self._closed = False
        # Of the newest snapshot handed to the writer: the next ids and the reservation ends it
        # records (not the snapshot itself: a large node's would stay in memory until the next).
        self._next_ids_taken: tuple[int, int] | None = None
        self._reserved_taken: tuple[int, int] | None = None
        self._wake: Callable[[], None] | None = None
        self._blocks: dict[IdAllocator, tuple[int, float]] = {}
        self.mint_waits = 0
        """How many mints had to wait for a save (the first, and any the writer fell behind)."""
        self._journal = store if journal and isinstance(store, JournalStore) else None
        self._delta_base = _UNSAVED_ROOT
        self._writer = AutosaveWriter(store, self._confirm_reservations)
        node.governor.add_policy_listener(self.request_save)
        node.add_save_listener(self.request_save)
        for allocator in self._allocators():
            allocator.reserve_with(self, id_block)

    @property
    def saves(self) -> int:
        """How many snapshots the writer has stored."""
        return self._writer.saves

    @property
    def journaling(self) -> bool:
        """Whether saves append deltas to the store's journal between full snapshots."""
        return self._journal is not None

    @property
    def last_saved(self) -> SnapshotRef | None:
        """The newest snapshot the writer stored."""
        return self._writer.saved

    def _dirty(self) -> bool:
        # After a failed save the state is still to be saved, changed or not.
        return (
            self._node.revision != self._saved_revision
            or self._writer.failure is not None
            or self._source_moved()
        )

    def _source_moved(self) -> bool:
        return self._source_revision is not None and (
            self._source_revision() != self._captured_source
        )

    def _capture(self) -> None:
        """Bring the node's mirror of the source up to date, if the source moved."""
        if self._capture_source is None or not self._source_moved():
            return
        assert self._source_revision is not None  # they go together
        self._captured_source = self._source_revision()  # before: a move during it counts
        self._capturing = True
        try:
            self._capture_source()
        finally:
            self._capturing = False

    def _due_at(self) -> float:
        if self._reservation_due:
            return -math.inf
        failures = self._writer.consecutive_failures
        if failures:
            retry = max(self._cooldown, MIN_RETRY_S) * 2.0 ** min(failures - 1, 30)
            return self._last_snapshot_at + min(self._interval, retry)
        return self._last_snapshot_at + (self._cooldown if self._urgent else self._interval)

    def poll(self) -> bool:
        """Snapshot the node and hand it to the writer if a save is due; True if it did.

        Call on the node's thread, often (each turn of the host's loop is fine: a poll that
        finds nothing to do costs a few attribute reads), and at least every
        `seconds_until_due()` seconds.
        """
        if self._closed or self._capturing:
            return False
        if not self._dirty():
            self._urgent = False
            return False
        now = self._timer()
        if now < self._due_at():
            return False
        self._capture()
        if not self._dirty():  # the source moved but left the node as it was
            self._urgent = False
            return False
        self._take(now)
        return True

    def request_save(self) -> bool:
        """Save now if the cooldown has passed since the last save, else as soon as it has
        (an asyncio `run()` task wakes for it; a threaded host's `poll` does it). Called on every
        block or allow list change and every `Node.request_save()`."""
        self._urgent = True
        if self.poll():
            return True
        if self._wake is not None:
            self._wake()  # the run() task sleeps until the interval: make it look again
        return False

    def set_waker(self, wake: Callable[[], None] | None) -> None:
        """Have `wake` called when a save falls due before `seconds_until_due()` said (a policy
        change, an id reservation running low), for a task on an event loop other than asyncio
        (trio) that sleeps until then; `None` unregisters it. `wake` may be called on any thread."""
        self._wake = wake

    def seconds_until_due(self) -> float:
        """How long a host may wait before the next `poll` is useful."""
        if not self._dirty():
            return self._interval
        return max(0.0, self._due_at() - self._timer())

    def _take(self, now: float) -> None:
        self._capture()
        self._saved_revision = self._node.revision
        self._last_snapshot_at = now
        self._urgent = self._reservation_due = False
        self._next_ids_taken = self._next_ids()
        self._reserved_taken = reserved = self._reserved_ends()
        if self._delta_due():
            try:
                delta = self._node.take_delta(self._delta_base)
                self._writer.submit_delta(delta, reserved)
            except FullSnapshotNeeded:
                pass  # no saved state to follow (a failure since `_delta_due`): save in full
            else:
                self._delta_base = delta.target
                return
        self._writer.submit(self._node.snapshot(), reserved)
        self._node.mark_saved()
        self._delta_base = _UNSAVED_ROOT

    def _delta_due(self) -> bool:
        """Whether this save may be a delta: the store journals, the chain of saves since the
        last full snapshot is unbroken, and (when the writer is idle, so that asking does not
        wait for its I/O) the store does not ask for a full snapshot. A writer that is busy is
        asked later; an append past the threshold is refused, and the next save is full."""
        journal = self._journal
        if journal is None or self._writer.chain_broken:
            return False
        return not (self._writer.is_idle() and journal.needs_full_snapshot())

    # Id reservations (the `ReservationKeeper` protocol of `id_allocator.py`).

    def _allocators(self) -> tuple[IdAllocator, IdAllocator]:
        return (self._node.command_ids, self._node.exec_ids)

    def _next_ids(self) -> tuple[int, int]:
        return (self._node.command_ids.next_id, self._node.exec_ids.next_id)

    def _reserved_ends(self) -> ReservedEnds:
        """The reservation ends the node's state records (its snapshot's next ids)."""
        return (self._node.command_ids.saved_next_id, self._node.exec_ids.saved_next_id)

    def _confirm_reservations(self, saved: ReservedEnds) -> None:
        # On the writer thread, once the state recording `saved` is durable.
        for allocator, reserved in zip(self._allocators(), saved, strict=True):
            allocator.confirm_durable(reserved)

    def _submitted_covers(self, allocator: IdAllocator) -> bool:
        if self._reserved_taken is None:
            return False
        reserved = self._reserved_taken[self._allocators().index(allocator)]
        return reserved > allocator.next_id

    def reservation_low(self, allocator: IdAllocator) -> None:
        """Extend the reservation by a block (larger when renewals come fast) and have the next
        `poll` save it, without waiting for the cooldown: half a block is still durable
        meanwhile, and the mint itself stays cheap."""
        if self._closed:
            return
        now = self._timer()
        block, renewed_at = self._blocks.get(allocator, (self._id_block, -math.inf))
        if now - renewed_at < ID_RENEWAL_PERIOD_S:
            block = min(block * 2, MAX_ID_BLOCK)
        self._blocks[allocator] = (block, now)
        allocator.extend_reservation(block)
        self._reservation_due = True
        if self._wake is not None:
            self._wake()

    def reservation_used_up(self, allocator: IdAllocator) -> None:
        """Wait (at most `mint_timeout`) until a save makes an id durable for `allocator`."""
        if self._closed:
            raise IdsNotDurableError("autosave is closed: no further id can be made durable")
        self.mint_waits += 1
        if allocator.saved_next_id <= allocator.next_id:
            allocator.extend_reservation(self._blocks.get(allocator, (self._id_block, 0.0))[0])
        if self._writer.is_idle() or not self._submitted_covers(allocator):
            self._take(self._timer())
        if not self._writer.wait_idle(self._mint_timeout):
            raise IdsNotDurableError(
                f"no save made an id reservation durable within {self._mint_timeout} s"
            )
        if not allocator.can_mint_durably():
            failure = self._writer.failure
            raise IdsNotDurableError(
                f"the save of an id reservation failed: {failure}"
            ) from failure

    # Waiting and closing.

    def flush(self, timeout: float | None = DEFAULT_TIMEOUT_S) -> SnapshotRef | None:
        """Wait until every snapshot handed to the writer is stored; the newest stored. Raises
        the error of a failed save (the state is then saved again at the next due poll), and
        `TimeoutError` after `timeout` seconds (`None`: no limit)."""
        if not self._writer.wait_idle(timeout):
            raise TimeoutError("the snapshot writer did not finish in time")
        if self._writer.failure is not None:
            raise self._writer.failure
        return self._writer.saved

    def close(self, timeout: float | None = DEFAULT_TIMEOUT_S) -> SnapshotRef | None:
        """Final save if the node changed, wait for the writer, stop it; returns or raises within
        `timeout`. A clean shutdown's courtesy only: a killed process loses at most what
        `interval` bounds. Minting afterwards raises `IdsNotDurableError`."""
        if self._closed:
            return self._writer.saved
        self._take_final()
        return self._finish(timeout)

    def begin_close(self) -> None:
        """The first half of `close`, on the node's thread: the final snapshot, handed to the
        writer. For event loops other than asyncio (trio), which then wait for the writer off
        the loop with `finish_close`."""
        if not self._closed:
            self._take_final()

    def finish_close(self, timeout: float | None = DEFAULT_TIMEOUT_S) -> SnapshotRef | None:
        """The second half of `close`, on any thread (a worker: it blocks): wait for the writer
        and stop it; the newest snapshot stored. Raises as `close` does."""
        if not self._closed:
            raise RuntimeError("finish_close before begin_close")
        return self._finish(timeout)

    async def aclose(self, timeout: float | None = DEFAULT_TIMEOUT_S) -> SnapshotRef | None:
        """`close` for asyncio hosts: the final snapshot on the loop, the waiting off it."""
        if self._closed:
            return self._writer.saved
        self._take_final()
        return await asyncio.to_thread(self._finish, timeout)

    def _take_final(self) -> None:
        # The unused reservations are given back, so that a final save records the exact next
        # ids; no mint follows (a closed checkpointer refuses them). That alone is no reason to
        # save: the last save's larger reservation is as safe, so a node idle since then writes
        # nothing.
        minted = self._next_ids() != self._next_ids_taken
        changed = self._dirty()
        for allocator in self._allocators():
            allocator.release_reservation()
        if changed or minted:
            self._take(self._timer())
        else:
            self._saved_revision = self._node.revision
        self._closed = True
        if self._wake is not None:
            self._wake()  # the run() task ends

    def _finish(self, timeout: float | None) -> SnapshotRef | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            return self.flush(timeout)
        finally:
            self._writer.stop(None if deadline is None else max(0.0, deadline - time.monotonic()))

    async def run(self) -> None:
        """Drive `poll` from an asyncio loop (the node's thread) until cancelled or closed."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        self._wake = lambda: _discard(loop.call_soon_threadsafe(wake.set))
        try:
            while not self._closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.seconds_until_due())
                wake.clear()
                self.poll()
        finally:
            self._wake = None


def _discard(_: object) -> None:
    """Drop a callback handle: the wake-up needs no cancelling."""
