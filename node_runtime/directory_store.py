"""`DirectoryStore`: sealed snapshot files in a local directory, the embedded default store.

Layout of the directory (mode 0700; one writable by group or others is refused):

    00000000000000000001.nsnap     one sealed snapshot per generation (20-digit, zero-padded)
    00000000000000000001.journal   the deltas appended after it, if any (`journal_file`)
    quarantine/                    files that failed verification, moved aside, never deleted
    .lock                          held (flock) by the one process allowed to write
    .tmp-*                         a save in progress; one left by a crash is removed on open

Every snapshot is written with `durable_io.write_atomically` (temp file, fsync, rename, fsync the
directory), mode 0600. A file appears under its final name only when complete, so a crash at any
moment leaves the store with the snapshots it had plus, at most, the one being saved. A journal
only grows, a record at a time, each fsynced before `append` returns; a crash during an append
leaves at most a torn last record, which loading leaves out.

Loading a generation gives the state after its journal's longest good prefix (`journal_replay`).
What sits under a generation's names is read as `store_files` says: never followed, never
blocking, never read past a header that does not fit its size and the reader's limit.
"""

from __future__ import annotations

import builtins
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import attrs

from node_runtime.durable_io import write_atomically
from node_runtime.identity import Identity
from node_runtime.journal_chain import JournalChain
from node_runtime.journal_file import JournalWriter
from node_runtime.journal_replay import journal_extent, replay_journal, stored_root
from node_runtime.peer_id import PeerId
from node_runtime.quarantine import QUARANTINE, QUARANTINED_NAME, set_aside
from node_runtime.replication_watermark import replication_floor
from node_runtime.retention import beyond_limits, remove_generation
from node_runtime.snapshot_store import SnapshotRef, StoredSnapshot
from node_runtime.storage_errors import (
    CorruptFileError,
    DamagedFileError,
    JournalBaseMismatchError,
    SnapshotNotFoundError,
    SnapshotTooLargeError,
    StoreError,
    StoreFullError,
    StoreWriteError,
    UnsupportedContainerError,
    UntrustedFileError,
)
from node_runtime.store_directory import (
    check_directory_mode,
    remove_stale_temporaries,
    take_writer_lock,
)
from node_runtime.store_files import (
    JOURNAL_NAME,
    SNAPSHOT_NAME,
    generations,
    journal_beside,
    journal_name,
    open_regular_file,
    read_open_header,
    read_rest,
    read_sealed_file,
    regular_file_size,
    snapshot_name,
    stored_files,
)
from node_runtime.store_options import (
    MIN_JOURNAL_MAX_BYTES,
    Sealing,
    check_limits,
    journal_limits,
    prune_selection,
    report_replay,
    signer_of,
)
from snapshot_schema import (
    DEFAULT_MAX_SNAPSHOT_SIZE,
    SnapshotDecodeError,
    SnapshotError,
    TransientSnapshot,
    encode,
    root_ref_of_encoded,
)
from snapshot_schema.delta_records import SnapshotDelta

__all__ = [
    "DEFAULT_JOURNAL_MAX_DELTAS",
    "DEFAULT_KEEP_LAST",
    "MAX_GENERATION",
    "MIN_JOURNAL_MAX_BYTES",
    "QUARANTINE",
    "SEQUENCE_LIMIT",
    "DirectoryStore",
]

LOG = logging.getLogger(__name__)

DEFAULT_KEEP_LAST = 10
"""Ten generations: enough to step back past a bad state, small next to one snapshot's cost."""
DEFAULT_JOURNAL_MAX_DELTAS = 1_000

MAX_GENERATION = 2**64 - 1
"""Sealed files hold the generation in 64 bits."""
SEQUENCE_LIMIT = 2**63
"""Names below this number the next save (one above the highest); names at or above it do only
when their file verifies. No store saves its way up here (at a million saves a second it takes
292,000 years), so a stray name up here can never use up the numbers left."""


class DirectoryStore:
    """One node's snapshots in a local directory. `DirectoryStore(path)` alone is durable.

    Options (keyword-only):
    - `keep_last`, `max_bytes`: retention after each save (the newest generation is always
      kept; `None` disables a limit); a generation's snapshot and journal count together, and
      one a replicator has not shipped yet (`.replication.json`) is kept whatever the limits;
    - `signer`: sign every file with this identity; loading then demands its signature;
    - `expected_signer`: demand files signed by this PeerId (a reader without the private key);
    - `encryption_key`: 32-byte AES-256-GCM key to encrypt new files and decrypt old ones;
      loading then demands encrypted files;
    - `compress`: zlib-compress new files;
    - `fsync`: `False` trades power-loss durability for speed (process crashes stay safe);
    - `read_only`: open without taking the writer lock, to inspect a store another process
      writes; damaged files are then skipped but not moved;
    - `max_snapshot_size`: files holding a larger snapshot (or delta) are skipped unread;
    - `journal_max_deltas`, `journal_max_bytes`: past either, a full snapshot is due instead
      of another `append` (`None` bytes: a quarter of the snapshot file, at least 64 KiB).

    A directory writable by group or others is refused (`InsecureStoreError`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        keep_last: int | None = DEFAULT_KEEP_LAST,
        max_bytes: int | None = None,
        signer: Identity | None = None,
        expected_signer: PeerId | None = None,
        encryption_key: bytes | None = None,
        compress: bool = False,
        fsync: bool = True,
        read_only: bool = False,
        max_snapshot_size: int = DEFAULT_MAX_SNAPSHOT_SIZE,
        journal_max_deltas: int = DEFAULT_JOURNAL_MAX_DELTAS,
        journal_max_bytes: int | None = None,
    ) -> None:
        check_limits(keep_last, max_bytes, journal_max_deltas, journal_max_bytes)
        self._sealing = Sealing.of(
            signer=signer,
            expected_signer=expected_signer,
            encryption_key=encryption_key,
            compress=compress,
            max_snapshot_size=max_snapshot_size,
        )
        self.path = Path(path)
        self.keep_last = keep_last
        self.max_bytes = max_bytes
        self.read_only = read_only
        self.journal_max_deltas = journal_max_deltas
        self.journal_max_bytes = journal_max_bytes
        self._fsync = fsync
        self._max_snapshot_size = max_snapshot_size
        self._lock = threading.Lock()
        self._lock_descriptor: int | None = None
        self._chain: JournalChain | None = None  # the generation this instance saved last
        self._next_generation = 0  # a reader never saves
        if read_only:
            if not self.path.is_dir():
                raise StoreError(f"{self.path}: no snapshot store here (not a directory)")
            check_directory_mode(self.path)
        else:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            check_directory_mode(self.path)
            self._lock_descriptor = take_writer_lock(self.path)
            remove_stale_temporaries(self.path)
            self._next_generation = self._first_free_generation()

    # Opening and closing.

    def close(self) -> None:
        """Release the writer lock and the journal. The store can no longer save or append."""
        with self._lock:
            self._end_chain()
            if self._lock_descriptor is not None:
                os.close(self._lock_descriptor)  # closing the descriptor drops the flock
                self._lock_descriptor = None

    def __enter__(self) -> DirectoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "writer"
        return f"DirectoryStore({os.fspath(self.path)!r}, {mode})"

    # Listing.

    def _first_free_generation(self) -> int:
        """One above the highest generation named in the store (snapshots and journals) or its
        quarantine (a number is never handed out twice), except that a name at or above
        `SEQUENCE_LIMIT` counts only if its snapshot verifies: a stray name there must not use
        up the numbers left."""
        stored = generations(self.path, SNAPSHOT_NAME)
        names = (
            generation
            for generation, _ in (
                *stored,
                *generations(self.path, JOURNAL_NAME),
                *generations(self.path / QUARANTINE, QUARANTINED_NAME),
            )
        )
        sequence = max(
            (generation for generation in names if generation < SEQUENCE_LIMIT), default=0
        )
        high = sorted((entry for entry in stored if entry[0] >= SEQUENCE_LIMIT), reverse=True)
        for generation, path in high:
            try:
                self._load(generation, path, with_journal=False)
            except (SnapshotError, OSError) as error:
                LOG.warning("%s does not verify, so it numbers no new snapshot: %s", path, error)
                continue
            return max(sequence, generation) + 1
        return sequence + 1

    def _in_use(self, generation: int) -> bool:
        names = (
            self.path / snapshot_name(generation),
            self.path / journal_name(generation),
            self.path / QUARANTINE / snapshot_name(generation),
        )
        return any(os.path.lexists(name) for name in names)

    def _stored(self) -> list[tuple[int, Path]]:
        """Generation and path of every snapshot file under its final name, newest first."""
        return stored_files(self.path)[::-1]

    def _ref(self, generation: int, path: Path) -> SnapshotRef:
        file, size = open_regular_file(path)
        with file:
            header = read_open_header(file, path, size, self._max_snapshot_size)
        extent = journal_extent(journal_beside(path), header, self._max_snapshot_size)
        if extent is None or extent.last_wall_ns is None:
            return SnapshotRef(generation, path, size, header.created_wall_ns)
        return SnapshotRef(
            generation, path, size, extent.last_wall_ns, None, extent.deltas, extent.bytes
        )

    def list(self) -> list[SnapshotRef]:
        """Every stored generation whose snapshot header this build reads, oldest first, with
        the complete records of its journal (time: the last record's). Not verified: `load`
        does. A file from a newer build is left out, with a warning, not an error: one such
        file must not hide the others."""
        refs = []
        for generation, path in reversed(self._stored()):
            try:
                refs.append(self._ref(generation, path))
            except (FileNotFoundError, DamagedFileError):
                continue
            except (UnsupportedContainerError, SnapshotTooLargeError) as error:
                LOG.warning("leaving out %s: %s", path, error)
        return refs

    # Loading.

    def _verify(
        self,
        generation: int,
        path: Path,
        data: bytes,
        *,
        with_journal: bool = True,
        until_wall_ns: int | None = None,
    ) -> StoredSnapshot:
        sealed = self._sealing.unseal_snapshot(data)
        if sealed.header.generation != generation:
            raise CorruptFileError(f"file name says generation {generation}, its header another")
        root = stored_root(sealed, generation)
        if not with_journal:
            ref = SnapshotRef(generation, path, len(data), sealed.header.created_wall_ns, root.ref)
            return StoredSnapshot(ref, sealed.header, sealed.snapshot)
        journal_path = journal_beside(path)
        replayed = replay_journal(
            journal_path,
            root,
            sealed.header,
            self._sealing.record_checks(),
            until_wall_ns=until_wall_ns,
        )
        report_replay(LOG, journal_path, replayed.journal)
        journal = replayed.journal
        ref = SnapshotRef(
            generation,
            path,
            len(data),
            replayed.wall_ns,
            replayed.state.ref,
            journal.deltas,
            journal.bytes,
        )
        return StoredSnapshot(ref, sealed.header, replayed.state.snapshot, journal)

    def _load(self, generation: int, path: Path, *, with_journal: bool = True) -> StoredSnapshot:
        file, size = open_regular_file(path)
        with file:
            data = read_sealed_file(file, path, size, self._max_snapshot_size)
        return self._verify(generation, path, data, with_journal=with_journal)

    def load(self, ref: SnapshotRef | int) -> StoredSnapshot:
        """The state of that generation: its snapshot, verified, and its journal's longest good
        prefix applied (`StoredSnapshot.journal` says what was applied and why loading stopped
        early, if it did). Raises the snapshot file's error if it does not verify (it is not
        moved: `latest` and `at` are the ones that set files aside)."""
        generation = ref.generation if isinstance(ref, SnapshotRef) else ref
        path = self.path / snapshot_name(generation)
        try:
            return self._load(generation, path)
        except FileNotFoundError:
            raise SnapshotNotFoundError(
                f"{self.path}: no snapshot of generation {generation}"
            ) from None

    def _newest_valid(self, wall_ns: int | None) -> StoredSnapshot | None:
        for generation, path in self._stored():
            try:
                # One open per file: the header decides whether `at` needs the rest.
                file, size = open_regular_file(path)
                with file:
                    header = read_open_header(file, path, size, self._max_snapshot_size)
                    if wall_ns is not None and header.created_wall_ns > wall_ns:
                        continue
                    data = read_rest(file, path, size, header, self._max_snapshot_size)
                return self._verify(generation, path, data, until_wall_ns=wall_ns)
            except FileNotFoundError:
                continue  # pruned by a writer while we looked
            except SnapshotTooLargeError as error:
                # Maybe fine for a reader with a larger limit: moving it would hide it there.
                LOG.warning("skipping %s: %s", path, error)
            except (DamagedFileError, UntrustedFileError, SnapshotDecodeError) as error:
                self._set_aside(path, error)
        return None

    def latest(self) -> StoredSnapshot | None:
        """The newest state that verifies: the newest snapshot that verifies, with its
        journal's longest good prefix applied; or `None`. Damaged or untrusted snapshot files
        on the way are moved to `quarantine/` (with their journals) with a warning; a file
        holding a snapshot above `max_snapshot_size` is skipped with a warning; a version or key
        problem is raised. A journal record that does not verify is reported (a warning, and
        `StoredSnapshot.journal.damage`) and loading stops before it."""
        return self._newest_valid(None)

    def at(self, wall_ns: int) -> StoredSnapshot | None:
        """The newest verified state taken at or before `wall_ns` (ns since the epoch): the
        newest snapshot taken by then, with its journal's deltas up to the first taken later."""
        return self._newest_valid(wall_ns)

    def _set_aside(self, path: Path, error: Exception) -> None:
        if self.read_only:
            LOG.warning("skipping %s: %s", path, error)
            return
        target = set_aside(self.path, path, durable=self._fsync)
        LOG.warning("moved %s to %s: %s", path, target, error)

    # Saving, appending and retention.

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        """Seal and store `snapshot` as the next generation, then apply retention. The ref
        returned names the saved state (`state`, sequence 0), the tip later appends start from.

        Durable when it returns (unless the store was opened with `fsync=False`). On failure it
        raises `StoreWriteError` (`StoreFullError` if a snapshot that verifies holds the last
        generation), or `SnapshotTooLargeError` for a snapshot above `max_snapshot_size` (no
        reader with this limit could load it); the snapshots already stored are untouched and
        no partial file remains.
        """
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        generation = self._reserve_generation()
        # Encoding and sealing, the CPU-heavy part, run outside the lock.
        encoded = encode(snapshot)
        try:
            data = self._sealing.seal_snapshot(snapshot, encoded, generation)
        except SnapshotTooLargeError as error:
            # Written, it would be skipped by every reader with this store's limit: a save
            # that no restore could load is no save.
            raise SnapshotTooLargeError(f"{self.path}: {error}: not saved") from None
        state = root_ref_of_encoded(encoded, generation)
        path = self.path / snapshot_name(generation)
        ref = SnapshotRef(generation, path, len(data), snapshot.taken_at.wall_ns, state)
        with self._lock:
            try:
                write_atomically(path, data, durable=self._fsync)
            except OSError as error:
                raise StoreWriteError(
                    f"{self.path}: saving generation {generation} failed: "
                    f"{error.strerror or error}",
                    error.errno,
                ) from error
            self._start_chain(ref, PeerId.from_bytes(snapshot.framework.peer_id_bytes))
            self._retain_after(generation)
        return ref

    def _start_chain(self, ref: SnapshotRef, peer_id: PeerId) -> None:
        self._end_chain()
        limits = journal_limits(ref.size, self.journal_max_deltas, self.journal_max_bytes)
        writer = JournalWriter(journal_beside(ref.path), durable=self._fsync)
        self._chain = JournalChain(ref, peer_id, limits, writer)

    def _end_chain(self) -> None:
        if self._chain is not None:
            self._chain.close()
            self._chain = None

    def append(self, delta: SnapshotDelta) -> SnapshotRef:
        """Append `delta` to the journal of the generation this store instance saved last,
        sealed as its snapshot is (signed, encrypted, compressed); durable when it returns.
        The ref returned names the new tip (`state` is `delta.target`).

        Refused, with nothing written, by a `FullSnapshotNeeded`: `JournalBaseMismatchError`
        when `delta.base` is not the tip (or nothing was saved by this instance, or appends to
        the generation stopped), `JournalFullError` when the journal would pass
        `journal_max_deltas` or `journal_max_bytes`. A failed write raises `StoreWriteError`
        and is undone (the file cut back); if undoing fails too, appends to that generation
        stop until the next save.
        """
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        with self._lock:
            chain = self._chain
            if chain is None:
                raise JournalBaseMismatchError(
                    f"{self.path}: this store instance has saved no snapshot to append to: "
                    "save a full snapshot"
                )
            chain.check_base(delta)
            return chain.append(delta, self._sealing.seal_record(delta, chain.peer_id))

    def needs_full_snapshot(self) -> bool:
        """Whether the next save must be a full snapshot rather than an `append`: this instance
        saved none yet (the first save after a restart), appends to its generation stopped, or
        its journal holds `journal_max_deltas` deltas or `journal_max_bytes` bytes."""
        with self._lock:
            return self._chain is None or self._chain.needs_full_snapshot()

    def _reserve_generation(self) -> int:
        with self._lock:
            if self._lock_descriptor is None:
                raise StoreError(f"{self.path}: the store is closed")
            generation = self._next_generation
            while generation <= MAX_GENERATION and self._in_use(generation):
                generation += 1  # a stray name: skipped over, never overwritten
            if generation > MAX_GENERATION:
                raise StoreFullError(
                    f"{self.path}: every generation above {self._next_generation - 1} is taken, "
                    f"up to {MAX_GENERATION}, the last a sealed file holds; move the files with "
                    "the highest generations aside, or start a new store"
                )
            # Taken even if the save fails: numbers only grow, gaps are harmless.
            self._next_generation = generation + 1
            return generation

    def _retain_after(self, generation: int) -> None:
        # The save itself succeeded: a failure to prune must not turn it into an error.
        try:
            self._apply_retention(keep=generation)
        except OSError as error:
            LOG.warning("%s: retention failed, retrying after the next save: %s", self.path, error)

    def _apply_retention(self, keep: int) -> None:
        """Keep `keep` and, newest first, as many older generations (snapshot and journal
        together) as the limits allow; remove the rest. Unverified (a save must stay cheap); a
        name above `keep` is no snapshot of ours and is left to `latest`, uncounted; only
        regular files count or are removed."""
        candidates: builtins.list[tuple[int, int]] = []
        paths: dict[int, Path] = {}
        for generation, path in self._stored():
            size = regular_file_size(path)
            if generation > keep or size is None:
                continue
            candidates.append((generation, size + (regular_file_size(journal_beside(path)) or 0)))
            paths[generation] = path
        protected = {keep} | self._unshipped(paths)
        for generation in beyond_limits(candidates, protected, self.keep_last, self.max_bytes):
            remove_generation(paths[generation])
        # No fsync of the directory here: an unlink lost to a power cut only brings back an old,
        # complete snapshot, which the next save's retention removes again. Syncing it would
        # make every save wait for the file system to commit the freed blocks (~45 ms for a
        # 24 MB file here), a third of a save, for nothing a reader could notice.

    def _unshipped(self, generations: Iterable[int]) -> set[int]:
        """The generations a replicator has not shipped yet (`replication_watermark`)."""
        floor = replication_floor(self.path)
        return set() if floor is None else {g for g in generations if g >= floor}

    def prune(self) -> builtins.list[SnapshotRef]:
        """Apply the retention policy now; the generations removed (snapshot and journal),
        newest first.

        Every stored snapshot is verified first, and only generations whose snapshot verifies
        count or are removed; a generation's size is its snapshot's and its journal's. The
        newest of each signer (and the newest unsigned one) is always kept: a store opened
        without `expected_signer` cannot tell which one the node demands, and a newer forgery
        must not cost the node its own snapshots. Damaged or untrusted snapshots are moved to
        `quarantine/` with their journals, too-large ones left in place; a version or key
        problem is raised before anything is moved or removed.
        """
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        verified: builtins.list[tuple[SnapshotRef, PeerId | None]] = []
        unusable: builtins.list[tuple[Path, SnapshotError]] = []
        for generation, path in self._stored():
            try:
                loaded = self._load(generation, path, with_journal=False)
            except FileNotFoundError:
                continue
            except SnapshotTooLargeError as error:
                LOG.warning("leaving %s in place: %s", path, error)
                continue
            except (DamagedFileError, UntrustedFileError, SnapshotDecodeError) as error:
                unusable.append((path, error))
                continue
            journal_bytes = regular_file_size(journal_beside(path)) or 0
            ref = attrs.evolve(loaded.ref, journal_bytes=journal_bytes)
            verified.append((ref, signer_of(loaded.header)))
        for path, problem in unusable:
            self._set_aside(path, problem)
        unshipped = self._unshipped(ref.generation for ref, _ in verified)
        removed = prune_selection(verified, unshipped, self.keep_last, self.max_bytes)
        with self._lock:
            for ref in removed:
                remove_generation(ref.path)
        return removed
