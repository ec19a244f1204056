"""`Host.stop` returns or raises within its timeout, even when the checkpointer's final save
cannot complete."""

from __future__ import annotations

import asyncio
import builtins
import threading

import pytest

from node_runtime import Checkpointer, Identity, Node, SnapshotRef, StoredSnapshot
from node_runtime.host import Host
from snapshot_schema import TransientSnapshot

WAIT = 10.0


class HangingStore:
    """Every save blocks until `release` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        self.entered.set()
        self.release.wait(WAIT)
        return SnapshotRef(1, "memory:1", 0, 0)

    def latest(self) -> StoredSnapshot | None:
        raise NotImplementedError

    def at(self, wall_ns: int) -> StoredSnapshot | None:
        raise NotImplementedError

    def list(self) -> builtins.list[SnapshotRef]:
        raise NotImplementedError

    def load(self, ref: SnapshotRef | int) -> StoredSnapshot:
        raise NotImplementedError

    def prune(self) -> builtins.list[SnapshotRef]:
        return []

    def close(self) -> None:
        pass


def test_stop_raises_timeout_error_within_its_timeout_when_the_final_save_hangs() -> None:
    node = Node(Identity.from_private_bytes(b"\x09" * 32))
    store = HangingStore()
    host = Host(node, checkpointer=Checkpointer(node, store))

    async def scenario() -> None:
        await host.start()
        assert await asyncio.to_thread(store.entered.wait, WAIT)  # the first save hangs
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(host.stop(timeout=0.05), WAIT)

    try:
        asyncio.run(scenario())
    finally:
        store.release.set()
