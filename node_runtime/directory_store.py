"""`DirectoryStore`: sealed snapshot files in a local directory, the embedded default store.

Layout of the directory:

    00000000000000000001.nsnap   one sealed file per generation (20-digit, zero-padded)
    quarantine/                  files that failed verification, moved aside, never deleted
    .lock                        held (flock) by the one process allowed to write
    .tmp-*                       a save in progress; one left by a crash is removed on open

Every file is written with `durable_io.write_atomically` (temp file, fsync, rename, fsync the
directory), mode 0600. A file appears under its final name only when complete, so a crash at any
moment leaves the store with the snapshots it had plus, at most, the one being saved.
"""

from __future__ import annotations

import builtins
import fcntl
import logging
import os
import re
import threading
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from node_runtime.durable_io import TEMPORARY_PREFIX, fsync_directory, write_atomically
from node_runtime.identity import Identity
from node_runtime.peer_id import PeerId
from node_runtime.sealed_file import MAX_HEADER_BYTES, SealedHeader, read_header, seal, unseal
from node_runtime.snapshot_store import SnapshotRef, StoredSnapshot
from node_runtime.storage_errors import (
    CorruptFileError,
    DamagedFileError,
    SnapshotNotFoundError,
    StoreError,
    StoreLockedError,
    StoreWriteError,
    TruncatedFileError,
    UnsupportedContainerError,
    UntrustedFileError,
)
from snapshot_schema import DEFAULT_MAX_SNAPSHOT_SIZE, SnapshotDecodeError, TransientSnapshot

LOG = logging.getLogger(__name__)

SUFFIX = ".nsnap"
QUARANTINE = "quarantine"
DEFAULT_KEEP_LAST = 10
"""Ten generations: enough to step back past a bad state, small next to one snapshot's cost."""

_NAME = re.compile(r"^(\d{20})\.nsnap$")
_QUARANTINED_NAME = re.compile(r"^(\d{20})\.nsnap(?:\.\d+)?$")  # `.N` when set aside twice
_LOCK_NAME = ".lock"


def _read_header(file: BinaryIO) -> SealedHeader:
    """The header of an open sealed file. A container version or flag this build does not know
    may also be a flipped bit: the whole file's integrity check decides which (damage is raised
    as such, so the file is set aside instead of blocking every load)."""
    try:
        return read_header(file.read(MAX_HEADER_BYTES))
    except UnsupportedContainerError:
        file.seek(0)
        unseal(file.read())  # intact: raises the same error again; damaged: raises the damage
        raise


def _created_wall_ns(path: Path) -> int:
    """The creation time a file's header states, unverified; 0 when it has no readable header
    (retention removes such a file all the same: it only needs the time to report it)."""
    try:
        with path.open("rb") as file:
            return read_header(file.read(MAX_HEADER_BYTES)).created_wall_ns
    except (OSError, DamagedFileError, UnsupportedContainerError):
        return 0


def _file_name(generation: int) -> str:
    return f"{generation:020d}{SUFFIX}"


def _generations(directory: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    return [
        (int(match.group(1)), entry)
        for entry in directory.iterdir()
        if (match := pattern.match(entry.name)) is not None
    ]


class DirectoryStore:
    """One node's snapshots in a local directory. `DirectoryStore(path)` alone is durable.

    Options (keyword-only):
    - `keep_last`, `max_bytes`: retention after each save (the newest snapshot is always kept;
      `None` disables a limit);
    - `signer`: sign every file with this identity; loading then demands its signature;
    - `expected_signer`: demand files signed by this PeerId (a reader without the private key);
    - `encryption_key`: 32-byte AES-256-GCM key to encrypt new files and decrypt old ones;
    - `compress`: zlib-compress new files;
    - `fsync`: `False` trades power-loss durability for speed (process crashes stay safe);
    - `read_only`: open without taking the writer lock, to inspect a store another process
      writes; damaged files are then skipped but not moved.
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
    ) -> None:
        if keep_last is not None and keep_last < 1:
            raise ValueError("keep_last must be at least 1: the newest snapshot is always kept")
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        if signer is not None and expected_signer not in (None, signer.peer_id):
            raise ValueError("expected_signer differs from the signer's PeerId")
        self.path = Path(path)
        self.keep_last = keep_last
        self.max_bytes = max_bytes
        self.read_only = read_only
        self._signer = signer
        self._expected_signer = signer.peer_id if signer is not None else expected_signer
        self._encryption_key = encryption_key
        self._compress = compress
        self._fsync = fsync
        self._max_snapshot_size = max_snapshot_size
        self._lock = threading.Lock()
        self._lock_descriptor: int | None = None
        if read_only:
            if not self.path.is_dir():
                raise StoreError(f"{self.path}: no snapshot store here (not a directory)")
        else:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock_descriptor = self._take_writer_lock()
            self._remove_stale_temporaries()
        self._next_generation = self._highest_generation() + 1

    # Opening and closing.

    def _take_writer_lock(self) -> int:
        lock_path = self.path / _LOCK_NAME
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(descriptor)
            raise StoreLockedError(
                f"{self.path}: another writer (pid {holder}) holds this store; "
                "open it with read_only=True to inspect it"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        return descriptor

    def _remove_stale_temporaries(self) -> None:
        # We hold the writer lock: any temporary file is from a save that never completed.
        for entry in self.path.iterdir():
            if entry.name.startswith(TEMPORARY_PREFIX):
                LOG.warning("removing %s, left by an interrupted save", entry)
                entry.unlink(missing_ok=True)

    def close(self) -> None:
        """Release the writer lock. The store can no longer save."""
        with self._lock:
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

    def _highest_generation(self) -> int:
        # Quarantined files count too: a generation number is never handed out twice.
        quarantined = _generations(self.path / QUARANTINE, _QUARANTINED_NAME)
        stored = _generations(self.path, _NAME)
        return max((generation for generation, _ in (*stored, *quarantined)), default=0)

    def _stored(self) -> list[tuple[int, Path]]:
        """Generation and path of every file under its final name, newest first."""
        return sorted(_generations(self.path, _NAME), reverse=True)

    def _ref(self, generation: int, path: Path) -> SnapshotRef:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            header = _read_header(file)
        return SnapshotRef(generation, os.fspath(path), size, header.created_wall_ns)

    def list(self) -> list[SnapshotRef]:
        """Every stored snapshot whose header this build reads, oldest first. Not verified:
        `load` does. A file from a newer build is left out, with a warning, not an error: one
        such file must not hide the others."""
        refs = []
        for generation, path in reversed(self._stored()):
            try:
                refs.append(self._ref(generation, path))
            except (FileNotFoundError, DamagedFileError):
                continue
            except UnsupportedContainerError as error:
                LOG.warning("leaving out %s: %s", path, error)
        return refs

    # Loading.

    def _read_rest(self, file: BinaryIO, header: SealedHeader) -> bytes:
        """The whole file whose `header` was just read from `file`."""
        size = os.fstat(file.fileno()).st_size
        # Sizes first: a damaged length field must not make us read gigabytes.
        if size < header.file_length:
            raise TruncatedFileError(f"{size} bytes; its header says {header.file_length}")
        if size > header.file_length:
            raise CorruptFileError(f"{size - header.file_length} bytes trail the file")
        if header.encoded_length > self._max_snapshot_size:
            raise SnapshotDecodeError(
                f"snapshot of {header.encoded_length} bytes exceeds the "
                f"{self._max_snapshot_size}-byte limit"
            )
        file.seek(0)
        return file.read()

    def _verify(self, generation: int, path: Path, data: bytes) -> StoredSnapshot:
        sealed = unseal(
            data,
            encryption_key=self._encryption_key,
            expected_signer=self._expected_signer,
            max_snapshot_size=self._max_snapshot_size,
        )
        if sealed.header.generation != generation:
            raise CorruptFileError(f"file name says generation {generation}, its header another")
        ref = SnapshotRef(generation, os.fspath(path), len(data), sealed.header.created_wall_ns)
        return StoredSnapshot(ref, sealed.header, sealed.snapshot)

    def _load(self, generation: int, path: Path) -> StoredSnapshot:
        with path.open("rb") as file:
            data = self._read_rest(file, _read_header(file))
        return self._verify(generation, path, data)

    def load(self, ref: SnapshotRef | int) -> StoredSnapshot:
        """The snapshot of that generation, verified. Raises the file's error if it does not
        verify (it is not moved: `latest` and `at` are the ones that set files aside)."""
        generation = ref.generation if isinstance(ref, SnapshotRef) else ref
        path = self.path / _file_name(generation)
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
                with path.open("rb") as file:
                    header = _read_header(file)
                    if wall_ns is not None and header.created_wall_ns > wall_ns:
                        continue
                    data = self._read_rest(file, header)
                return self._verify(generation, path, data)
            except FileNotFoundError:
                continue  # pruned by a writer while we looked
            except (DamagedFileError, UntrustedFileError, SnapshotDecodeError) as error:
                self._set_aside(path, error)
        return None

    def latest(self) -> StoredSnapshot | None:
        """The newest snapshot that verifies, or `None`. Damaged or untrusted files on the way
        are moved to `quarantine/` with a warning; a version or key problem is raised."""
        return self._newest_valid(None)

    def at(self, wall_ns: int) -> StoredSnapshot | None:
        """The newest verified snapshot taken at or before `wall_ns` (ns since the epoch)."""
        return self._newest_valid(wall_ns)

    def _set_aside(self, path: Path, error: Exception) -> None:
        if self.read_only:
            LOG.warning("skipping %s: %s", path, error)
            return
        quarantine = self.path / QUARANTINE
        quarantine.mkdir(mode=0o700, exist_ok=True)
        target = quarantine / path.name
        counter = 0
        while target.exists():
            counter += 1
            target = quarantine / f"{path.name}.{counter}"
        os.replace(path, target)
        if self._fsync:
            fsync_directory(quarantine)
            fsync_directory(self.path)
        LOG.warning("moved %s to %s: %s", path, target, error)

    # Saving and retention.

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        """Seal and store `snapshot` as the next generation, then apply retention.

        Durable when it returns (unless the store was opened with `fsync=False`). On failure it
        raises `StoreWriteError`; the snapshots already stored are untouched and no partial file
        remains.
        """
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        generation = self._reserve_generation()
        # Encoding and sealing, the CPU-heavy part, run outside the lock.
        data = seal(
            snapshot,
            generation=generation,
            signer=self._signer,
            encryption_key=self._encryption_key,
            compress=self._compress,
        )
        path = self.path / _file_name(generation)
        with self._lock:
            try:
                write_atomically(path, data, durable=self._fsync)
            except OSError as error:
                raise StoreWriteError(
                    f"{self.path}: saving generation {generation} failed: "
                    f"{error.strerror or error}",
                    error.errno,
                ) from error
            self._retain_after(generation)
        return SnapshotRef(generation, os.fspath(path), len(data), snapshot.taken_at.wall_ns)

    def _reserve_generation(self) -> int:
        with self._lock:
            if self._lock_descriptor is None:
                raise StoreError(f"{self.path}: the store is closed")
            generation = self._next_generation
            # Taken even if the save fails: numbers only grow, gaps are harmless.
            self._next_generation += 1
            return generation

    def _retain_after(self, generation: int) -> None:
        # The save itself succeeded: a failure to prune must not turn it into an error.
        try:
            self._apply_retention(keep=generation)
        except OSError as error:
            LOG.warning("%s: retention failed, retrying after the next save: %s", self.path, error)

    def prune(self) -> builtins.list[SnapshotRef]:
        """Apply the retention policy now, keeping the newest snapshot that verifies."""
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        newest = self.latest()
        if newest is None:
            return []
        with self._lock:
            return self._apply_retention(keep=newest.ref.generation)

    def _apply_retention(self, keep: int) -> builtins.list[SnapshotRef]:
        """Keep `keep` and, newest first, as many older snapshots as the limits allow; remove
        the rest. The kept ones form an unbroken run of the newest generations."""
        kept_count = 0
        kept_bytes = 0
        full = False
        removed: builtins.list[SnapshotRef] = []
        for generation, path in self._stored():
            try:
                size = path.stat().st_size  # kept files need no more than their size
            except FileNotFoundError:
                continue
            if generation != keep:
                full = full or (
                    (self.keep_last is not None and kept_count >= self.keep_last)
                    or (self.max_bytes is not None and kept_bytes + size > self.max_bytes)
                )
                if full:
                    removed.append(
                        SnapshotRef(generation, os.fspath(path), size, _created_wall_ns(path))
                    )
                    path.unlink(missing_ok=True)
                    continue
            kept_count += 1
            kept_bytes += size
        # No fsync of the directory here: an unlink lost to a power cut only brings back an old,
        # complete snapshot, which the next save's retention removes again. Syncing it would
        # make every save wait for the file system to commit the freed blocks (~45 ms for a
        # 24 MB file here), a third of a save, for nothing a reader could notice.
        return removed
