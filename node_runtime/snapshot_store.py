"""What the rest of the code needs from a place that keeps snapshots.

`DirectoryStore` is the embedded default; an object-store backend can implement the same
protocol. Every implementation promises: `save` is all-or-nothing and durable once it returns;
generations only grow; loading verifies (integrity, signature, decryption, decoding) and never
returns a damaged or untrusted snapshot; `latest` and `at` skip such files, setting them aside.

A `JournalStore` also keeps, per generation, a journal of deltas appended after its snapshot:
loading a generation gives the state after the journal's longest good prefix.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Protocol, runtime_checkable

import attrs

from node_runtime.sealed_file import SealedHeader
from snapshot_schema import SnapshotError, TransientSnapshot
from snapshot_schema.delta_records import SnapshotDelta, StateRef, VersionedSnapshot


@attrs.frozen
class SnapshotRef:
    """Where one saved state lives: its generation, its snapshot file's location and size in
    bytes, and the wall time (ns since the epoch) at which the state was taken (the last
    journal delta's when deltas follow the snapshot).

    `state` names the state (`StateRef`) when the store knows it without reading the files:
    after `save` (the snapshot, sequence 0), `append` (the delta's target) and loading; `None`
    in `list()`, which reads headers only (so it is left out of `==`: a listed ref equals the
    one `save` returned). `journal_deltas` and `journal_bytes` are the
    journal records the state includes and their size (the journal file's size may be larger:
    a torn or damaged tail)."""

    generation: int
    path: Path = attrs.field(converter=Path)
    size: int
    created_wall_ns: int
    state: StateRef | None = attrs.field(default=None, eq=False)
    journal_deltas: int = 0
    journal_bytes: int = 0


@attrs.frozen
class JournalState:
    """What loading a generation's journal found: the records applied and their bytes, and
    the bytes after them (`ignored_bytes`). `damage` says why loading stopped before the end
    of the file (which record, at which offset, what failed), and `error` is that failure;
    both `None` when every complete record applied: the bytes after them, if any, are a torn
    last record (a crash during an append), or, for `at()`, the deltas taken later."""

    deltas: int = 0
    bytes: int = 0
    ignored_bytes: int = 0
    damage: str | None = None
    error: SnapshotError | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class StoredSnapshot:
    """A state loaded and verified from a store, with where it came from. `header` is the
    generation's snapshot file's; `snapshot` is the state after the journal's `deltas`."""

    ref: SnapshotRef
    header: SealedHeader
    snapshot: TransientSnapshot
    journal: JournalState = attrs.field(factory=JournalState)

    @property
    def versioned(self) -> VersionedSnapshot:
        """The state with its name, to apply the next delta to (`snapshot_schema.apply`)."""
        if self.ref.state is None:
            raise ValueError("this store does not name its states (ref.state is None)")
        return VersionedSnapshot(self.ref.state, self.snapshot)


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


@runtime_checkable
class JournalStore(SnapshotStore, Protocol):
    """A store that can also append deltas to the generation it saved last.

    The writer's loop: `save` a full snapshot (its `SnapshotRef.state` is the journal's tip),
    then `append` deltas made from the tip (`make_delta(ref.state, …)`), each returning the new
    tip, until `needs_full_snapshot()` or an append raises `FullSnapshotNeeded`; then `save`.
    """

    def append(self, delta: SnapshotDelta) -> SnapshotRef:
        """Append `delta` to the journal of the generation this store instance saved last;
        durable when this returns. The returned ref names the new tip (`state`). Raises a
        `FullSnapshotNeeded` (`JournalBaseMismatchError`, `JournalFullError`) when a full
        snapshot must be saved instead."""
        ...

    def needs_full_snapshot(self) -> bool:
        """Whether the next save must be a full snapshot: nothing saved by this instance yet
        (the first save after a restart), appends stopped, or the journal at a threshold."""
        ...
