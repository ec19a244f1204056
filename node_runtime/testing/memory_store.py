"""`MemoryStore`: a `SnapshotStore` in memory, for tests of code that saves and restores.

It seals every snapshot exactly as `DirectoryStore` does (same bytes, same checks when loading),
keeps the sealed files in a dict instead of a directory, and has no durability to offer. Subclass
it and override `save` to make a store that fails, stalls or counts, the way a test needs:

    >>> from node_runtime import Identity, ManualClock, Node
    >>> from node_runtime.testing import MemoryStore
    >>> identity = Identity.from_private_bytes(bytes(32))
    >>> node = Node(identity, clock=ManualClock(monotonic_ns=10**12, wall_ns=10**18))
    >>> store = MemoryStore(signer=identity)
    >>> store.save(node.snapshot()).generation
    1
    >>> store.latest().snapshot == node.snapshot()
    True
"""

from __future__ import annotations

import builtins
from pathlib import PurePosixPath

from node_runtime.identity import Identity
from node_runtime.sealed_file import seal, unseal
from node_runtime.snapshot_store import SnapshotRef, StoredSnapshot
from node_runtime.storage_errors import SnapshotNotFoundError
from snapshot_schema import TransientSnapshot


class MemoryStore:
    """Sealed snapshots in a dict, newest generation last; `keep_last` as `DirectoryStore`'s."""

    def __init__(self, *, signer: Identity | None = None, keep_last: int | None = None) -> None:
        self._signer = signer
        self._keep_last = keep_last
        self._files: dict[int, tuple[SnapshotRef, bytes]] = {}
        self._next_generation = 1
        self.closed = False

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        generation = self._next_generation
        data = seal(snapshot, generation=generation, signer=self._signer)
        ref = SnapshotRef(
            generation, PurePosixPath(f"memory/{generation}"), len(data), snapshot.taken_at.wall_ns
        )
        self._files[generation] = (ref, data)
        self._next_generation += 1
        self.prune()
        return ref

    def latest(self) -> StoredSnapshot | None:
        newest = max(self._files, default=None)
        return None if newest is None else self.load(newest)

    def at(self, wall_ns: int) -> StoredSnapshot | None:
        taken = [ref for ref in self.list() if ref.created_wall_ns <= wall_ns]
        return self.load(taken[-1]) if taken else None

    def list(self) -> builtins.list[SnapshotRef]:
        return [self._files[generation][0] for generation in sorted(self._files)]

    def load(self, ref: SnapshotRef | int) -> StoredSnapshot:
        generation = ref if isinstance(ref, int) else ref.generation
        if generation not in self._files:
            raise SnapshotNotFoundError(f"no snapshot of generation {generation} in memory")
        stored_ref, data = self._files[generation]
        expected = None if self._signer is None else self._signer.peer_id
        sealed = unseal(data, expected_signer=expected)
        return StoredSnapshot(stored_ref, sealed.header, sealed.snapshot)

    def prune(self) -> builtins.list[SnapshotRef]:
        if self._keep_last is None:
            return []
        doomed = sorted(self._files)[: max(0, len(self._files) - self._keep_last)]
        return [self._files.pop(generation)[0] for generation in doomed]

    def close(self) -> None:
        self.closed = True
