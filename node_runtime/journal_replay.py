"""Loading a generation's journal: the state after the longest prefix of records that verify.

Records are read and applied one by one, in order, onto the generation's snapshot. A torn last
record is left out quietly; the first record that does not verify (framing, digest, signature,
decryption, decoding, a chain that breaks, a PeerId that changes) ends the replay, and the
result says which record and why. A record is never skipped: what follows a bad one is never
applied, since its base is a state that was not reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

from node_runtime.journal_file import JournalRecord, RecordFraming, read_records, record_headers
from node_runtime.peer_id import PeerId
from node_runtime.sealed_file import SealedHeader, SealedSnapshot, unseal_delta
from node_runtime.snapshot_store import JournalState
from node_runtime.storage_errors import HeaderMismatchError, NotRegularFileError
from node_runtime.store_files import open_regular_file
from snapshot_schema import (
    CURRENT_SNAPSHOT_SPEC_VERSION,
    SnapshotError,
    apply,
    root_ref,
    root_ref_of_encoded,
)
from snapshot_schema.delta_records import VersionedSnapshot


@attrs.frozen
class RecordChecks:
    """How a reader verifies records: as it verifies its snapshots."""

    encryption_key: bytes | None
    expected_signer: PeerId | None
    require_encryption: bool
    max_size: int


@attrs.frozen
class Replayed:
    """The state a journal replay reached, when it was taken, and what the journal held."""

    state: VersionedSnapshot
    wall_ns: int
    journal: JournalState


def replay_journal(
    path: Path,
    root: VersionedSnapshot,
    header: SealedHeader,
    checks: RecordChecks,
    *,
    until_wall_ns: int | None = None,
) -> Replayed:
    """`root` (the verified snapshot whose header is `header`) with the records of the journal
    file at `path` applied, up to the first that does not verify, or, with `until_wall_ns`,
    the first taken after it. No journal file: `root` as it is."""
    try:
        file, size = open_regular_file(path)
    except FileNotFoundError:
        return replay_records((), root, header, checks, size=0)
    except NotRegularFileError as error:
        wall_ns = root.snapshot.taken_at.wall_ns
        return Replayed(root, wall_ns, JournalState(damage=str(error), error=error))
    with file:
        records = read_records(file, size, RecordFraming.of_snapshot(header), checks.max_size)
        return replay_records(records, root, header, checks, size=size, until_wall_ns=until_wall_ns)


def replay_records(
    records: Iterable[JournalRecord],
    root: VersionedSnapshot,
    header: SealedHeader,
    checks: RecordChecks,
    *,
    size: int,
    until_wall_ns: int | None = None,
) -> Replayed:
    """`root` with `records` (a journal of `size` bytes, in order) applied, up to the first
    that does not verify or, with `until_wall_ns`, the first taken after it. The iteration
    itself may raise a `SnapshotError` (framing, a missing record): that ends the replay as
    damage at the record it was to give."""
    state = root
    wall_ns = root.snapshot.taken_at.wall_ns
    applied = end = 0
    problem = None
    try:
        for record in records:
            delta = unseal_delta(
                record.data,
                encryption_key=checks.encryption_key,
                expected_signer=checks.expected_signer,
                require_encryption=checks.require_encryption,
                max_delta_size=checks.max_size,
            ).delta
            if until_wall_ns is not None and delta.taken_at.wall_ns > until_wall_ns:
                break
            after = apply(state, delta)
            if after.snapshot.framework.peer_id_bytes != header.peer_id.to_bytes():
                raise HeaderMismatchError("the delta changes the node's PeerId")
            state = after
            wall_ns = delta.taken_at.wall_ns
            applied += 1
            end = record.offset + len(record.data)
    except SnapshotError as error:
        problem = error
    damage = None if problem is None else f"record {applied} at offset {end}: {problem}"
    journal = JournalState(applied, end, size - end, damage, problem)
    return Replayed(state, wall_ns, journal)


@attrs.frozen
class JournalExtent:
    """A journal as its headers show it (not verified): the complete records before any
    damage, their bytes, the last one's creation time, the file's size, and what stopped the
    walk early (`None` at the end of the file or a torn last record)."""

    deltas: int = 0
    bytes: int = 0
    last_wall_ns: int | None = None
    file_size: int = 0
    problem: SnapshotError | None = None


def journal_extent(path: Path, header: SealedHeader, max_size: int) -> JournalExtent | None:
    """The extent of the journal at `path`, which follows the snapshot whose header is
    `header`, from its headers alone; `None` when there is no journal file. A journal that is
    not a regular file is never opened: its `problem` says so."""
    try:
        file, size = open_regular_file(path)
    except FileNotFoundError:
        return None
    except NotRegularFileError as error:
        return JournalExtent(problem=error)
    records = end = 0
    last_wall_ns = None
    problem = None
    with file:
        try:
            for offset, record in record_headers(
                file, size, RecordFraming.of_snapshot(header), max_size
            ):
                records += 1
                end = offset + record.file_length
                last_wall_ns = record.created_wall_ns
        except SnapshotError as error:
            problem = error
    return JournalExtent(records, end, last_wall_ns, size, problem)


def stored_root(sealed: SealedSnapshot, generation: int) -> VersionedSnapshot:
    """A verified stored snapshot with the name of its state: the SHA-256 of its bytes as
    stored (the bytes the writer hashed), re-encoded only for an older spec version, whose
    bytes are not the canonical ones the name is defined over."""
    if sealed.header.spec_version == CURRENT_SNAPSHOT_SPEC_VERSION:
        ref = root_ref_of_encoded(sealed.encoded, generation)
    else:
        ref = root_ref(sealed.snapshot, generation)
    return VersionedSnapshot(ref, sealed.snapshot)
