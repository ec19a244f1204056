"""What every store does the same way, whatever its medium: checking its options, sealing what
it writes and verifying what it reads (signature, encryption, compression, size limit), sizing
a generation's journal, and choosing what `prune()` removes."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import attrs

from node_runtime.identity import Identity
from node_runtime.journal_chain import JournalLimits
from node_runtime.journal_replay import RecordChecks
from node_runtime.peer_id import PeerId
from node_runtime.retention import beyond_limits
from node_runtime.sealed_file import (
    Flags,
    SealedHeader,
    SealedSnapshot,
    seal_delta,
    seal_encoded,
    unseal,
)
from node_runtime.snapshot_store import JournalState, SnapshotRef
from snapshot_schema import TransientSnapshot
from snapshot_schema.delta_records import SnapshotDelta

MIN_JOURNAL_MAX_BYTES = 64 * 1024
"""The default `journal_max_bytes` is a quarter of the generation's snapshot file, at least
this: past that, replaying the journal costs more than a full snapshot saves."""


def check_limits(
    keep_last: int | None,
    max_bytes: int | None,
    journal_max_deltas: int,
    journal_max_bytes: int | None,
) -> None:
    """Refuse retention and journal limits no store could keep (`ValueError`)."""
    if keep_last is not None and keep_last < 1:
        raise ValueError("keep_last must be at least 1: the newest snapshot is always kept")
    if max_bytes is not None and max_bytes < 0:
        raise ValueError("max_bytes must not be negative")
    if journal_max_deltas < 0 or (journal_max_bytes is not None and journal_max_bytes < 0):
        raise ValueError("journal_max_deltas and journal_max_bytes must not be negative")


def journal_limits(snapshot_size: int, max_deltas: int, max_bytes: int | None) -> JournalLimits:
    """The thresholds of the journal after a snapshot file of `snapshot_size` bytes."""
    if max_bytes is None:
        max_bytes = max(snapshot_size // 4, MIN_JOURNAL_MAX_BYTES)
    return JournalLimits(max_deltas, max_bytes)


@attrs.frozen
class Sealing:
    """How a store seals what it writes and verifies what it reads. `expected_signer` is the
    signer's PeerId when the store signs: a store demands its own signature back."""

    signer: Identity | None = None
    expected_signer: PeerId | None = None
    encryption_key: bytes | None = attrs.field(default=None, repr=False)
    compress: bool = False
    max_snapshot_size: int = attrs.field(kw_only=True)

    @classmethod
    def of(
        cls,
        *,
        signer: Identity | None,
        expected_signer: PeerId | None,
        encryption_key: bytes | None,
        compress: bool,
        max_snapshot_size: int,
    ) -> Sealing:
        if signer is not None and expected_signer not in (None, signer.peer_id):
            raise ValueError("expected_signer differs from the signer's PeerId")
        expected = signer.peer_id if signer is not None else expected_signer
        return cls(signer, expected, encryption_key, compress, max_snapshot_size=max_snapshot_size)

    def seal_snapshot(self, snapshot: TransientSnapshot, encoded: bytes, generation: int) -> bytes:
        return seal_encoded(
            snapshot,
            encoded,
            generation=generation,
            signer=self.signer,
            encryption_key=self.encryption_key,
            compress=self.compress,
            max_snapshot_size=self.max_snapshot_size,
        )

    def seal_record(self, delta: SnapshotDelta, peer_id: PeerId) -> bytes:
        return seal_delta(
            delta,
            peer_id=peer_id,
            signer=self.signer,
            encryption_key=self.encryption_key,
            compress=self.compress,
            max_delta_size=self.max_snapshot_size,
        )

    def unseal_snapshot(self, data: bytes) -> SealedSnapshot:
        return unseal(
            data,
            encryption_key=self.encryption_key,
            expected_signer=self.expected_signer,
            require_encryption=self.encryption_key is not None,
            max_snapshot_size=self.max_snapshot_size,
        )

    def record_checks(self) -> RecordChecks:
        return RecordChecks(
            self.encryption_key,
            self.expected_signer,
            self.encryption_key is not None,
            self.max_snapshot_size,
        )


def signer_of(header: SealedHeader) -> PeerId | None:
    """Who signed a stored file (`None`: unsigned), from its verified header."""
    return header.peer_id if Flags.SIGNED in header.flags else None


def prune_selection(
    verified: Iterable[tuple[SnapshotRef, PeerId | None]],
    protected: set[int],
    keep_last: int | None,
    max_bytes: int | None,
) -> list[SnapshotRef]:
    """Of `verified` generations (newest first, each with its signer, `None` if unsigned),
    those `prune()` removes: beyond the limits, never the newest of each signer (a store opened
    without `expected_signer` cannot tell which one the node demands, and a newer forgery must
    not cost the node its own snapshots) nor a `protected` one."""
    verified = list(verified)
    newest_of_each_signer: dict[PeerId | None, int] = {}
    for ref, signer in verified:
        newest_of_each_signer.setdefault(signer, ref.generation)
    beyond = beyond_limits(
        ((ref.generation, ref.size + ref.journal_bytes) for ref, _ in verified),
        set(newest_of_each_signer.values()) | protected,
        keep_last,
        max_bytes,
    )
    return [ref for ref, _ in verified if ref.generation in beyond]


def report_replay(log: logging.Logger, journal: object, state: JournalState) -> None:
    """Log where loading a journal stopped early (a warning), or a torn tail left out (debug)."""
    if state.damage is not None:
        log.warning("%s: loading stopped after %d deltas: %s", journal, state.deltas, state.damage)
    elif state.ignored_bytes:
        log.debug("%s: left out a torn last record (%d bytes)", journal, state.ignored_bytes)
