"""`AutosaveWriter`: the background thread that stores what a `Checkpointer` takes.

It survives every failure of a save: whatever the store raises is caught, kept as a typed store
error (a `SnapshotError` as raised, an `OSError` as `StoreWriteError`, anything else as
`AutosaveError`, the original as its cause), logged, and the thread goes on. A thread that died
would leave `flush()` waiting forever and the node unsaved without a word.

It writes two kinds of item, in the order submitted: a full snapshot (`store.save`) and a delta
(`store.append` to a journal). A delta is made on the node's thread before the writer knows
the name of the state it starts from (the snapshot before it may not be encoded yet), so the
writer re-bases each delta onto the state it last stored: the chain it writes is always one the
store accepts. After any failure the chain is broken: pending deltas are dropped (a delta
without its predecessor would leave a hole) and `chain_broken` tells the checkpointer to save a
full snapshot next. A writer that falls behind coalesces: a full snapshot replaces everything
pending, and deltas pending together are merged into one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import attrs

from node_runtime.snapshot_store import JournalStore, SnapshotRef, SnapshotStore
from node_runtime.storage_errors import AutosaveError, StoreWriteError
from snapshot_schema import (
    FullSnapshotNeeded,
    SnapshotDelta,
    SnapshotError,
    StateRef,
    TransientSnapshot,
    delta_digest,
    merge,
)
from snapshot_schema.delta_encoder import changes_bytes

LOG = logging.getLogger("node_runtime.checkpointer")

ReservedEnds = tuple[int, int]
"""The id reservations' ends a saved state records: `(next_command_id, next_exec_id)`."""


@attrs.frozen
class _FullSave:
    snapshot: TransientSnapshot
    reserved: ReservedEnds


@attrs.frozen
class _DeltaSave:
    delta: SnapshotDelta
    reserved: ReservedEnds


class ChainBrokenError(AutosaveError, FullSnapshotNeeded):
    """A delta whose predecessor was never stored: dropped, and a full snapshot is due."""


class AutosaveWriter:
    """One daemon thread storing the submitted snapshots and deltas, oldest first."""

    def __init__(self, store: SnapshotStore, on_saved: Callable[[ReservedEnds], None]) -> None:
        self._store = store
        self._on_saved = on_saved
        self._condition = threading.Condition()
        self._pending: list[_FullSave | _DeltaSave] = []
        self._busy = False
        self._stopping = False
        self._tip: StateRef | None = None  # the state stored last (writer thread only)
        self.chain_broken = True
        """No full snapshot submitted since the last failure: deltas cannot be stored."""
        self.failure: SnapshotError | None = None
        """The error of the latest save, until a later save succeeds."""
        self.consecutive_failures = 0
        self.saved: SnapshotRef | None = None
        self.saves = 0
        self._thread = threading.Thread(target=self._run, name="nodesnap-writer", daemon=True)
        self._thread.start()

    def submit(self, snapshot: TransientSnapshot, reserved: ReservedEnds) -> None:
        """Store `snapshot` in full; anything still pending is older, and dropped."""
        with self._condition:
            self._check_open()
            self._pending = [_FullSave(snapshot, reserved)]
            self.chain_broken = False
            self._condition.notify_all()

    def submit_delta(self, delta: SnapshotDelta, reserved: ReservedEnds) -> None:
        """Append `delta`, which follows the item submitted before it, to the store's journal."""
        with self._condition:
            self._check_open()
            if self.chain_broken:
                raise ChainBrokenError("no full snapshot since the last failure: save one")
            last = self._pending[-1] if self._pending else None
            if isinstance(last, _DeltaSave):
                self._pending[-1] = _DeltaSave(merge(last.delta, delta), reserved)
            else:
                self._pending.append(_DeltaSave(delta, reserved))
            self._condition.notify_all()

    def _check_open(self) -> None:  # with the condition held
        if self._stopping:
            raise RuntimeError("the checkpointer is closed")

    def is_idle(self) -> bool:
        """Nothing pending and no save in progress."""
        with self._condition:
            return self._idle()

    def _idle(self) -> bool:  # with the condition held
        return not self._pending and not self._busy

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._stopping:
                    self._condition.wait()
                if not self._pending:
                    return  # stopping, and nothing left to write
                item = self._pending.pop(0)
                self._busy = True
            try:
                ref = self._store_item(item)
                self._on_saved(item.reserved)
            except Exception as error:  # the thread must outlive any failure
                self._failed(error)
            else:
                with self._condition:
                    self.saved = ref
                    self.saves += 1
                    self.failure = None
                    self.consecutive_failures = 0
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def _store_item(self, item: _FullSave | _DeltaSave) -> SnapshotRef:
        if isinstance(item, _FullSave):
            self._tip = None
            ref = self._store.save(item.snapshot)
            self._tip = ref.state
            return ref
        if self._tip is None or not isinstance(self._store, JournalStore):
            raise ChainBrokenError("the state this delta follows was not stored: dropped")
        delta = rebased(item.delta, self._tip)
        self._tip = None  # until the append is known to have landed
        ref = self._store.append(delta)
        self._tip = delta.target
        return ref

    def _failed(self, error: Exception) -> None:
        failure = _as_store_error(error)
        # A store's own refusal says all; anything else is a bug to trace.
        trace = None if failure is error else error
        LOG.warning("autosave failed, will retry: %s", failure, exc_info=trace)
        with self._condition:
            self.failure = failure
            self.consecutive_failures += 1
            # Pending deltas follow what just failed: storing them would leave a hole.
            self._pending = [item for item in self._pending if isinstance(item, _FullSave)]
            if not self._pending:
                self.chain_broken = True
            self._tip = None

    def wait_idle(self, timeout: float | None) -> bool:
        with self._condition:
            return self._condition.wait_for(self._idle, timeout)

    def stop(self, timeout: float | None) -> None:
        """Write what is pending, then end the thread; `TimeoutError` if it takes longer."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            raise TimeoutError("the snapshot writer did not finish in time")


def rebased(delta: SnapshotDelta, base: StateRef) -> SnapshotDelta:
    """`delta`'s changes as a delta from `base`, over as many steps, named as `make_delta`
    names a delta (the changes are packed once: their bytes are reused)."""
    if delta.base == base:
        return delta
    encoded = changes_bytes(delta)
    digest = delta_digest(base, delta.taken_at, encoded)
    moved = attrs.evolve(
        delta,
        base=base,
        target=StateRef(base.generation, base.sequence + delta.steps, digest),
    )
    object.__setattr__(moved, "encoded_changes", encoded)
    return moved


def _as_store_error(error: Exception) -> SnapshotError:
    if isinstance(error, SnapshotError):
        return error
    if isinstance(error, OSError):
        wrapped: SnapshotError = StoreWriteError(f"saving failed: {error}", error.errno)
    else:
        wrapped = AutosaveError(f"saving failed: {type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped
