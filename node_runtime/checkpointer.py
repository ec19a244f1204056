"""`Checkpointer`: autosave for a node, with bounded loss and nothing written while idle.

The rules (after the crash-safe persistence design in `../shared/seeds`, and because a SIGKILL
skips every shutdown handler):
- A periodic save every `interval` seconds, only if the node changed since the last one
  (`Node.revision`): a crash loses at most one interval of changes; an idle node writes nothing.
- Changes that must not be lost — the block and allow lists — ask for a save at once.
- On-demand saves (`request_save`) honour a `cooldown`, so a burst of them writes once, at the
  end of the cooldown, not once per call.
- The first poll after attaching saves at once, so the node's identity and state are on disk from
  the start; `close()` makes a final save, but nothing depends on it running.
- The node's own thread pays only for `Node.snapshot()`: encoding, sealing and I/O run on a
  writer thread. A writer that falls behind coalesces: only the newest pending snapshot is
  written.

The node is not thread-safe, so snapshots are taken on the thread that drives it: that thread
calls `poll()` regularly (threaded hosts), or runs `await checkpointer.run()` as a task (asyncio
hosts, where the loop is the node's thread).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable

from node_runtime.node import Node
from node_runtime.snapshot_store import SnapshotRef, SnapshotStore
from snapshot_schema import SnapshotError, TransientSnapshot

LOG = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 30.0
DEFAULT_COOLDOWN_S = 1.0


class _Writer:
    """One background thread saving the newest submitted snapshot."""

    def __init__(self, store: SnapshotStore) -> None:
        self._store = store
        self._condition = threading.Condition()
        self._pending: TransientSnapshot | None = None
        self._busy = False
        self._stopping = False
        self.failure: Exception | None = None
        """The error of the latest save, until a later save succeeds."""
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
            except (SnapshotError, OSError) as error:
                LOG.warning("autosave failed, will retry: %s", error)
                with self._condition:
                    self.failure = error
            else:
                with self._condition:
                    self.saved = ref
                    self.saves += 1
                    self.failure = None
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def wait_idle(self, timeout: float | None) -> bool:
        with self._condition:
            return self._condition.wait_for(
                lambda: self._pending is None and not self._busy, timeout
            )

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join()


class Checkpointer:
    """Autosaves `node` into `store`. Attach once per node (after `Node.restore`, too)."""

    def __init__(
        self,
        node: Node,
        store: SnapshotStore,
        *,
        interval: float = DEFAULT_INTERVAL_S,
        cooldown: float = DEFAULT_COOLDOWN_S,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if not interval > 0 or not cooldown >= 0:
            raise ValueError("interval must be positive and cooldown not negative")
        self._node = node
        self._interval = interval
        self._cooldown = cooldown
        self._timer = timer
        self._saved_revision: int | None = None
        self._last_snapshot_at = -math.inf  # so the first save is due at once
        self._urgent = False
        self._closed = False
        self._writer = _Writer(store)
        node.governor.add_policy_listener(self.request_save)

    @property
    def saves(self) -> int:
        """How many snapshots the writer has stored."""
        return self._writer.saves

    @property
    def last_saved(self) -> SnapshotRef | None:
        """The newest snapshot the writer stored."""
        return self._writer.saved

    def _dirty(self) -> bool:
        # After a failed save the state is still to be saved, changed or not.
        return self._node.revision != self._saved_revision or self._writer.failure is not None

    def _due_at(self) -> float:
        return self._last_snapshot_at + (self._cooldown if self._urgent else self._interval)

    def poll(self) -> bool:
        """Snapshot the node and hand it to the writer if a save is due; True if it did.

        Call on the node's thread, often (each turn of the host's loop is fine: a poll that
        finds nothing to do costs a few attribute reads).
        """
        if self._closed:
            return False
        if not self._dirty():
            self._urgent = False
            return False
        now = self._timer()
        if now < self._due_at():
            return False
        self._take(now)
        return True

    def request_save(self) -> bool:
        """Save now if the cooldown has passed since the last save, else when it does (at the
        next `poll` after that). Called on every block or allow list change."""
        self._urgent = True
        return self.poll()

    def seconds_until_due(self) -> float:
        """How long a host may wait before the next `poll` is useful."""
        if not self._dirty():
            return self._interval
        return max(0.0, self._due_at() - self._timer())

    def _take(self, now: float) -> None:
        self._saved_revision = self._node.revision
        self._last_snapshot_at = now
        self._urgent = False
        self._writer.submit(self._node.snapshot())

    def flush(self, timeout: float | None = None) -> SnapshotRef | None:
        """Wait until every snapshot handed to the writer is stored; the newest stored. Raises
        the error of a failed save (the state is then saved again at the next due poll)."""
        if not self._writer.wait_idle(timeout):
            raise TimeoutError("the snapshot writer did not finish in time")
        if self._writer.failure is not None:
            raise self._writer.failure
        return self._writer.saved

    def close(self, timeout: float | None = None) -> SnapshotRef | None:
        """Final save if the node changed, wait for the writer, stop it. A clean shutdown's
        courtesy only: a killed process loses at most what `interval` bounds."""
        self._take_final()
        return self._finish(timeout)

    def _take_final(self) -> None:
        if not self._closed and self._dirty():
            self._take(self._timer())

    def _finish(self, timeout: float | None) -> SnapshotRef | None:
        if self._closed:
            return self._writer.saved
        self._closed = True
        try:
            return self.flush(timeout)
        finally:
            self._writer.stop()

    async def run(self) -> None:
        """Drive `poll` from an asyncio loop (the node's thread) until cancelled or closed."""
        while not self._closed:
            await asyncio.sleep(self.seconds_until_due())
            self.poll()

    async def aclose(self, timeout: float | None = None) -> SnapshotRef | None:
        """`close` for asyncio hosts: the final snapshot on the loop, the waiting off it."""
        self._take_final()
        return await asyncio.to_thread(self._finish, timeout)
