"""`AutosaveWriter`: the background thread that stores the snapshots a `Checkpointer` takes.

It survives every failure of a save: whatever `store.save` raises is caught, kept as a typed
store error (a `SnapshotError` as raised, an `OSError` as `StoreWriteError`, anything else as
`AutosaveError`, the original as its cause), logged, and the thread goes on. A thread that died
would leave `flush()` waiting forever and the node unsaved without a word.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from node_runtime.snapshot_store import SnapshotRef, SnapshotStore
from node_runtime.storage_errors import AutosaveError, StoreWriteError
from snapshot_schema import SnapshotError, TransientSnapshot

LOG = logging.getLogger("node_runtime.checkpointer")


class AutosaveWriter:
    """One daemon thread saving the newest submitted snapshot; older pending ones are dropped."""

    def __init__(self, store: SnapshotStore, on_saved: Callable[[TransientSnapshot], None]) -> None:
        self._store = store
        self._on_saved = on_saved
        self._condition = threading.Condition()
        self._pending: TransientSnapshot | None = None
        self._busy = False
        self._stopping = False
        self.failure: SnapshotError | None = None
        """The error of the latest save, until a later save succeeds."""
        self.consecutive_failures = 0
        self.saved: SnapshotRef | None = None
        self.saves = 0
        self._thread = threading.Thread(target=self._run, name="nodesnap-writer", daemon=True)
        self._thread.start()

    def submit(self, snapshot: TransientSnapshot) -> None:
        with self._condition:
            if self._stopping:
                raise RuntimeError("the checkpointer is closed")
            self._pending = snapshot  # replaces an older one not yet written: it is stale
            self._condition.notify_all()

    def is_idle(self) -> bool:
        """Nothing pending and no save in progress."""
        with self._condition:
            return self._idle()

    def _idle(self) -> bool:  # with the condition held
        return self._pending is None and not self._busy

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._stopping:
                    self._condition.wait()
                snapshot = self._pending
                if snapshot is None:
                    return  # stopping, and nothing left to write
                self._pending = None
                self._busy = True
            try:
                ref = self._store.save(snapshot)
                self._on_saved(snapshot)
            except Exception as error:  # the thread must outlive any failure
                failure = _as_store_error(error)
                # A store's own refusal says all; anything else is a bug to trace.
                trace = None if failure is error else error
                LOG.warning("autosave failed, will retry: %s", failure, exc_info=trace)
                with self._condition:
                    self.failure = failure
                    self.consecutive_failures += 1
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


def _as_store_error(error: Exception) -> SnapshotError:
    if isinstance(error, SnapshotError):
        return error
    if isinstance(error, OSError):
        wrapped: SnapshotError = StoreWriteError(f"saving failed: {error}", error.errno)
    else:
        wrapped = AutosaveError(f"saving failed: {type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped
