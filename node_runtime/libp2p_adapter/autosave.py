"""`TrioAutosave`: the `Checkpointer` rules for a node running alongside a py-libp2p host, under
trio.

The host's state (peerstore, dial backoff, IP gate, pubsub blacklist) is the source the node
mirrors: a `HostChangeTracker` revision says when it moved, and `capture_host` copies it into
the node only when a save is due, right before the snapshot. So the rules are the
`Checkpointer`'s (docs/storage.md): a save every `interval` if the node or the host changed,
nothing written while both are idle; block/allow changes (the governor's policy listener) and
IP-gate or blacklist changes (the tracker's urgent flag) saved at once, within the `cooldown`;
id reservations saved at once; a final save on close. A trio task sleeps until the next save is
due and is woken early for an urgent one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import trio

from node_runtime.checkpointer import (
    DEFAULT_COOLDOWN_S,
    DEFAULT_ID_BLOCK,
    DEFAULT_INTERVAL_S,
    DEFAULT_MINT_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    Checkpointer,
)
from node_runtime.libp2p_adapter.capture import capture_host
from node_runtime.libp2p_adapter.change_tracker import HostChangeTracker
from node_runtime.node import Node
from node_runtime.snapshot_store import SnapshotRef, SnapshotStore

if TYPE_CHECKING:
    from libp2p.abc import IHost
    from libp2p.pubsub.pubsub import Pubsub


class HostCapture(Protocol):
    """`capture_host`'s signature: mirror the host's state into the node."""

    def __call__(self, host: IHost, node: Node, *, pubsub: Pubsub | None = None) -> object: ...


class TrioAutosave:
    """Autosaves `node` and the state of `host` it mirrors into `store`, from a trio task.

    Run `await autosave.run()` in a nursery on the thread that drives the host and the node;
    `await autosave.aclose()` makes the final save. `tracker` must follow `host` (and `pubsub`,
    if one is given). `capture` is `capture_host` but in tests. `timer` is the checkpointer's
    clock, trio's by default, so a test's `trio.testing.MockClock` drives both the sleeps and
    the rules.
    """

    def __init__(
        self,
        host: IHost,
        node: Node,
        store: SnapshotStore,
        *,
        tracker: HostChangeTracker,
        capture: HostCapture = capture_host,
        pubsub: Pubsub | None = None,
        interval: float = DEFAULT_INTERVAL_S,
        cooldown: float = DEFAULT_COOLDOWN_S,
        mint_timeout: float = DEFAULT_MINT_TIMEOUT_S,
        id_block: int = DEFAULT_ID_BLOCK,
        timer: Callable[[], float] = trio.current_time,
    ) -> None:
        self.tracker = tracker
        self.checkpointer = Checkpointer(
            node,
            store,
            interval=interval,
            cooldown=cooldown,
            mint_timeout=mint_timeout,
            id_block=id_block,
            timer=timer,
            source_revision=lambda: tracker.revision,
            capture_source=lambda: capture(host, node, pubsub=pubsub),
        )
        self._woken = trio.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._closed = False
        tracker.add_urgent_listener(self.wake)

    def wake(self) -> None:
        """Have the `run` task look at once (any thread; nothing happens while none runs)."""
        if self._token is None:
            return
        # Scheduled on the trio thread, not set here: the caller may be another thread.
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._set_woken, idempotent=True)

    def _set_woken(self) -> None:
        self._woken.set()

    def step(self) -> bool:
        """One turn of the rules, on the trio thread: an urgent host change asks for a save
        (within the cooldown), else a poll; True if a snapshot went to the writer."""
        if self.tracker.take_urgent():
            return self.checkpointer.request_save()
        return self.checkpointer.poll()

    async def run(self) -> None:
        """Sleep until a save is due or an urgent change wakes it, and save; until cancelled
        or closed. One `run` at a time."""
        if self._token is not None:
            raise RuntimeError("this autosave is already running")
        self._token = trio.lowlevel.current_trio_token()
        self.checkpointer.set_waker(self.wake)
        try:
            while not self._closed:
                with trio.move_on_after(self._seconds_until_due()):
                    await self._woken.wait()
                self._woken = trio.Event()
                if not self._closed:
                    self.step()
        finally:
            self.checkpointer.set_waker(None)
            self._token = None

    def _seconds_until_due(self) -> float:
        # An urgent change noticed while the task was busy is looked at without sleeping.
        return 0.0 if self.tracker.urgent else max(self.checkpointer.seconds_until_due(), 0.0)

    async def flush(self, timeout: float | None = DEFAULT_TIMEOUT_S) -> SnapshotRef | None:
        """Wait (off the trio thread) until every snapshot taken is stored; see
        `Checkpointer.flush`."""
        return await trio.to_thread.run_sync(self.checkpointer.flush, timeout)

    async def aclose(self, timeout: float | None = DEFAULT_TIMEOUT_S) -> SnapshotRef | None:
        """The final save (the host is captured if it changed), then stop the writer; shielded
        from cancellation, so a cancelled host still saves, within `timeout` seconds
        (`TimeoutError` past it). The `run` task ends."""
        self._closed = True
        self._set_woken()
        self.checkpointer.begin_close()
        with trio.CancelScope(shield=True):
            return await trio.to_thread.run_sync(self.checkpointer.finish_close, timeout)
