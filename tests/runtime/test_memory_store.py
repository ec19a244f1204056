"""`MemoryStore`: the store protocol in memory, with the sealed bytes and checks of a real one."""

from __future__ import annotations

import pytest

from node_runtime import Identity, ManualClock, Node, SnapshotNotFoundError
from node_runtime.testing import MemoryStore

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(b"\x0c" * 32)


def node_at(second: int) -> Node:
    node = Node(IDENTITY, clock=ManualClock(second * S, 1_764_000_000 * S + second * S))
    node.counters.increment("second", second + 1)
    return node


def test_saves_number_generations_and_load_what_was_saved() -> None:
    store = MemoryStore(signer=IDENTITY)
    snapshots = [node_at(second).snapshot() for second in range(3)]
    refs = [store.save(snapshot) for snapshot in snapshots]
    assert [ref.generation for ref in refs] == [1, 2, 3]
    assert store.list() == refs
    latest = store.latest()
    assert latest is not None
    assert latest.snapshot == snapshots[-1]
    assert latest.header.generation == 3
    assert store.load(2).snapshot == snapshots[1]
    found = store.at(1_764_000_000 * S + 1 * S)
    assert found is not None
    assert found.ref == refs[1]
    assert store.at(0) is None


def test_keep_last_drops_the_oldest_and_a_missing_generation_is_not_found() -> None:
    store = MemoryStore(keep_last=2)
    for second in range(4):
        store.save(node_at(second).snapshot())
    assert [ref.generation for ref in store.list()] == [3, 4]
    with pytest.raises(SnapshotNotFoundError):
        store.load(1)


def test_an_empty_store_has_no_latest() -> None:
    store = MemoryStore()
    assert store.latest() is None
    store.close()
    assert store.closed
