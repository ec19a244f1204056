"""The journal a store appends to: the generation it saved last, its tip and its thresholds.

One `JournalChain` per full save; the store replaces it at the next save. An append must start
from the tip (`delta.base == tip`) and keep the journal within its thresholds, else the caller
is told to save a full snapshot (`FullSnapshotNeeded`).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Protocol

import attrs

from node_runtime.errors import PeerIdMismatchError
from node_runtime.peer_id import PeerId
from node_runtime.snapshot_store import SnapshotRef
from node_runtime.storage_errors import (
    JournalBaseMismatchError,
    JournalFullError,
    StoreWriteError,
)
from snapshot_schema.delta_records import FIELDS_BY_NAME, Replace, SnapshotDelta, StateRef

_PEER_FIELD = FIELDS_BY_NAME["peer_id_bytes"].name  # a VALUE field: only ever replaced


@attrs.frozen
class JournalLimits:
    """A journal's thresholds: past either, a full snapshot is due."""

    max_deltas: int
    max_bytes: int


class RecordWriter(Protocol):
    """Where a chain's records go (`JournalWriter`: a file; `ObjectJournalWriter`: objects).
    `append` is all or nothing, or sets `broken`; a failure raises `OSError` or a
    `StoreWriteError`."""

    @property
    def path(self) -> PurePath: ...

    @property
    def length(self) -> int: ...

    @property
    def records(self) -> int: ...

    @property
    def broken(self) -> bool: ...

    def append(self, record: bytes) -> None: ...

    def close(self) -> None: ...


class JournalChain:
    """The journal of the snapshot `ref` names, written through `writer`."""

    def __init__(
        self, ref: SnapshotRef, peer_id: PeerId, limits: JournalLimits, writer: RecordWriter
    ) -> None:
        assert ref.state is not None  # a store's own save names its state
        self.tip: SnapshotRef = ref
        self.peer_id = peer_id
        self.limits = limits
        self._writer = writer

    @property
    def tip_state(self) -> StateRef:
        assert self.tip.state is not None  # set by __init__ and by every append
        return self.tip.state

    def needs_full_snapshot(self) -> bool:
        """Whether appends stopped, or the journal reached a threshold."""
        return (
            self._writer.broken
            or self._writer.records >= self.limits.max_deltas
            or self._writer.length >= self.limits.max_bytes
        )

    def check_base(self, delta: SnapshotDelta) -> None:
        """Refuse `delta` unless it follows the tip, keeps the node's PeerId, and one more
        record is allowed."""
        where = f"generation {self.tip.generation}"
        if self._writer.broken:
            raise JournalBaseMismatchError(
                f"{self._writer.path}: appends to {where} stopped after a failed append could "
                "not be undone: save a full snapshot"
            )
        if delta.base != self.tip_state:
            raise JournalBaseMismatchError(
                f"{self._writer.path}: the delta's base {delta.base} is not the journal's tip "
                f"{self.tip_state}: save a full snapshot"
            )
        peer = delta.changes.get(_PEER_FIELD)
        if isinstance(peer, Replace) and peer.value != self.peer_id.to_bytes():
            raise PeerIdMismatchError(
                f"{self._writer.path}: the delta changes the node's PeerId from {self.peer_id}"
            )
        if self._writer.records + 1 > self.limits.max_deltas:
            raise JournalFullError(
                f"{self._writer.path}: {where} holds {self._writer.records} deltas, the most "
                f"journal_max_deltas allows: save a full snapshot"
            )

    def append(self, delta: SnapshotDelta, record: bytes) -> SnapshotRef:
        """Append the sealed `record` of `delta` (checked by `check_base`); the new tip."""
        length = self._writer.length + len(record)
        if length > self.limits.max_bytes:
            raise JournalFullError(
                f"{self._writer.path}: this delta would take the journal to {length} bytes, "
                f"above journal_max_bytes ({self.limits.max_bytes}): save a full snapshot"
            )
        try:
            self._writer.append(record)
        except OSError as error:
            undone = "stopped appends" if self._writer.broken else "was undone"
            raise StoreWriteError(
                f"{self._writer.path}: appending a delta to generation {self.tip.generation} "
                f"failed ({error.strerror or error}) and {undone}",
                error.errno,
            ) from error
        self.tip = attrs.evolve(
            self.tip,
            created_wall_ns=delta.taken_at.wall_ns,
            state=delta.target,
            journal_deltas=self._writer.records,
            journal_bytes=self._writer.length,
        )
        return self.tip

    def close(self) -> None:
        self._writer.close()
