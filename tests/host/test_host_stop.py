"""`Host.stop` returns or raises within its timeout, even when the checkpointer's final save
cannot complete."""

from __future__ import annotations

import asyncio
import threading

import pytest

from node_runtime import Checkpointer, Identity, Node, SnapshotRef
from node_runtime.host import Host
from node_runtime.testing import MemoryStore
from snapshot_schema import TransientSnapshot

WAIT = 10.0


class HangingStore(MemoryStore):
    """Every save blocks until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        self.entered.set()
        self.release.wait(WAIT)
        return super().save(snapshot)


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
