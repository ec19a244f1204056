"""What the rest of the code needs from a place that keeps snapshots.

`DirectoryStore` is the embedded default; an object-store backend can implement the same
protocol. Every implementation promises: `save` is all-or-nothing and durable once it returns;
generations only grow; loading verifies (integrity, signature, decryption, decoding) and never
returns a damaged or untrusted snapshot; `latest` and `at` skip such files, setting them aside.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Protocol

import attrs

from node_runtime.sealed_file import SealedHeader
from snapshot_schema import TransientSnapshot


@attrs.frozen
class SnapshotRef:
    """Where one saved snapshot lives: its generation, location, size in bytes, and the wall
    time (ns since the epoch) at which the snapshot was taken."""

    generation: int
    path: Path = attrs.field(converter=Path)
    size: int
    created_wall_ns: int


@attrs.frozen
class StoredSnapshot:
    """A snapshot loaded and verified from a store, with where it came from."""

    ref: SnapshotRef
    header: SealedHeader
    snapshot: TransientSnapshot


class SnapshotStore(Protocol):
    """A durable home for one node's snapshots."""

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        """Store `snapshot` as the next generation; durable when this returns."""
        ...

    def latest(self) -> StoredSnapshot | None:
        """The newest snapshot that verifies; `None` when there is none."""
        ...

    def at(self, wall_ns: int) -> StoredSnapshot | None:
        """The newest verified snapshot taken at or before `wall_ns`."""
        ...

    def list(self) -> list[SnapshotRef]:
        """Every stored snapshot, oldest first (not verified: `load` verifies)."""
        ...

    def load(self, ref: SnapshotRef | int) -> StoredSnapshot:
        """The snapshot `ref` (or that generation) names, verified; raises if it does not."""
        ...

    def prune(self) -> builtins.list[SnapshotRef]:
        """Apply the retention policy now; the snapshots removed."""
        ...

    def close(self) -> None:
        """Release the store (its writer lock, if it holds one)."""
        ...
