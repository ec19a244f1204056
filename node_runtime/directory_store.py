"""`DirectoryStore`: sealed snapshot files in a local directory, the embedded default store.

Layout of the directory (mode 0700; one writable by group or others is refused):

    00000000000000000001.nsnap   one sealed file per generation (20-digit, zero-padded)
    quarantine/                  files that failed verification, moved aside, never deleted
    .lock                        held (flock) by the one process allowed to write
    .tmp-*                       a save in progress; one left by a crash is removed on open

Every file is written with `durable_io.write_atomically` (temp file, fsync, rename, fsync the
directory), mode 0600. A file appears under its final name only when complete, so a crash at any
moment leaves the store with the snapshots it had plus, at most, the one being saved.

Whatever else sits under a snapshot's name is read defensively: opened without following a
symbolic link or blocking on a FIFO, refused unless a regular file, and never read past its
header unless its size fits the header and the reader's `max_snapshot_size`.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import logging
import os
import re
import stat
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from node_runtime.durable_io import TEMPORARY_PREFIX, fsync_directory, write_atomically
from node_runtime.identity import Identity
from node_runtime.peer_id import PeerId
from node_runtime.sealed_file import (
    MAX_HEADER_BYTES,
    Flags,
    SealedHeader,
    read_header,
    seal,
    sealed_size_bound,
    unseal,
)
from node_runtime.snapshot_store import SnapshotRef, StoredSnapshot
from node_runtime.storage_errors import (
    CorruptFileError,
    DamagedFileError,
    InsecureStoreError,
    NotRegularFileError,
    SnapshotNotFoundError,
    SnapshotTooLargeError,
    StoreError,
    StoreFullError,
    StoreLockedError,
    StoreWriteError,
    TruncatedFileError,
    UnsupportedContainerError,
    UntrustedFileError,
)
from snapshot_schema import (
    DEFAULT_MAX_SNAPSHOT_SIZE,
    SnapshotDecodeError,
    SnapshotError,
    TransientSnapshot,
)

LOG = logging.getLogger(__name__)

SUFFIX = ".nsnap"
QUARANTINE = "quarantine"
DEFAULT_KEEP_LAST = 10
"""Ten generations: enough to step back past a bad state, small next to one snapshot's cost."""

MAX_GENERATION = 2**64 - 1
"""Sealed files hold the generation in 64 bits."""
SEQUENCE_LIMIT = 2**63
"""Names below this number the next save (one above the highest); names at or above it do only
when their file verifies. No store saves its way up here (at a million saves a second it takes
292,000 years), so a stray name up here can never use up the numbers left."""

_NAME = re.compile(r"^(\d{20})\.nsnap$")
_QUARANTINED_NAME = re.compile(r"^(\d{20})\.nsnap(?:\.\d+)?$")  # `.N` when set aside twice
LOCK_FILE = ".lock"
"""The writer lock's name in a store directory."""
_SAFE_OPEN = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO would block a plain open
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _not_regular(path: Path, mode: int) -> NotRegularFileError:
    kind = next((name for is_kind, name in _KINDS if is_kind(mode)), "not a regular file")
    return NotRegularFileError(f"{path} is {kind}, not a regular file: never followed or read")


def open_regular_file(path: Path, *, follow_symlinks: bool = False) -> tuple[BinaryIO, int]:
    """`path` opened for reading, and its size; `NotRegularFileError` for anything but a regular
    file. A FIFO never blocks the open; a symbolic link is never followed unless
    `follow_symlinks` (for a path an operator names, not an entry found in a store)."""
    flags = os.O_RDONLY | _SAFE_OPEN
    if follow_symlinks:
        flags &= ~os.O_NOFOLLOW
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        # O_NOFOLLOW meets a symbolic link with ELOOP; opening a socket fails with ENXIO.
        if error.errno in (errno.ELOOP, errno.ENXIO):
            status = os.stat(path) if follow_symlinks else os.lstat(path)
            raise _not_regular(path, status.st_mode) from None
        raise
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise _not_regular(path, status.st_mode)
    return os.fdopen(descriptor, "rb"), status.st_size


def _check_file_fits(path: Path, size: int, max_snapshot_size: int) -> None:
    """No sealed file of a snapshot within the limit is larger: refuse to read one that is."""
    if size > sealed_size_bound(max_snapshot_size):
        raise SnapshotTooLargeError(
            f"{path}: {size} bytes, more than any sealed snapshot of at most "
            f"{max_snapshot_size} bytes (max_snapshot_size)"
        )


def _read_header(file: BinaryIO, path: Path, size: int, max_snapshot_size: int) -> SealedHeader:
    """The header of an open sealed file. A container version or flag this build does not know
    may also be a flipped bit: the whole file's integrity check decides which (damage is raised
    as such, so the file is set aside instead of blocking every load)."""
    try:
        return read_header(file.read(MAX_HEADER_BYTES))
    except UnsupportedContainerError:
        _check_file_fits(path, size, max_snapshot_size)
        file.seek(0)
        unseal(file.read(size), max_snapshot_size=max_snapshot_size)  # intact: the same error
        raise


def read_stored_header(
    path: Path, max_snapshot_size: int = DEFAULT_MAX_SNAPSHOT_SIZE
) -> SealedHeader:
    """The header of the file under a snapshot's name, read as a store reads it (never
    following a link, never blocking); not verified."""
    file, size = open_regular_file(path)
    with file:
        return _read_header(file, path, size, max_snapshot_size)


def _read_rest(
    file: BinaryIO, path: Path, size: int, header: SealedHeader, max_snapshot_size: int
) -> bytes:
    """The whole file of `size` bytes whose `header` was just read from `file`. Sizes first:
    a file is never read unless its length is the one its header states and a snapshot within
    the limit can have it."""
    if header.encoded_length > max_snapshot_size:
        raise SnapshotTooLargeError(
            f"{path}: a snapshot of {header.encoded_length} bytes exceeds the "
            f"{max_snapshot_size}-byte limit (max_snapshot_size)"
        )
    if size < header.file_length:
        raise TruncatedFileError(f"{size} bytes; its header says {header.file_length}")
    if size > header.file_length:
        raise CorruptFileError(f"{size - header.file_length} bytes trail the file")
    if size > sealed_size_bound(header.encoded_length):
        raise CorruptFileError(
            f"{size} bytes cannot hold the {header.encoded_length}-byte snapshot the header states"
        )
    file.seek(0)
    return file.read(size)


def read_sealed_file(
    file: BinaryIO, path: Path, size: int, max_snapshot_size: int = DEFAULT_MAX_SNAPSHOT_SIZE
) -> bytes:
    """All `size` bytes of the sealed file `file`, open at its start (as `open_regular_file`
    returns it), read as a store reads them: the header first, the rest only if its length is
    the one the header states and a snapshot within `max_snapshot_size` can have it. Not
    verified: pass the bytes to `unseal`."""
    header = _read_header(file, path, size, max_snapshot_size)
    return _read_rest(file, path, size, header, max_snapshot_size)


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


def stored_files(directory: Path) -> list[tuple[int, Path]]:
    """Generation and path of every entry under a snapshot's name in `directory`, oldest first,
    whatever it is (a damaged file, a FIFO, a directory)."""
    return sorted(_generations(directory, _NAME))


def _signer(header: SealedHeader) -> PeerId | None:
    return header.peer_id if Flags.SIGNED in header.flags else None


def _beyond_limits(
    candidates: Iterable[tuple[int, int]],
    protected: set[int],
    keep_last: int | None,
    max_bytes: int | None,
) -> set[int]:
    """Of `candidates` (generation and size, newest first), the generations the limits do not
    keep. The kept ones form an unbroken run of the newest; `protected` ones are kept in any
    case (and count towards the limits)."""
    kept_count = 0
    kept_bytes = 0
    full = False
    beyond: set[int] = set()
    for generation, size in candidates:
        if generation not in protected:
            full = full or (
                (keep_last is not None and kept_count >= keep_last)
                or (max_bytes is not None and kept_bytes + size > max_bytes)
            )
            if full:
                beyond.add(generation)
                continue
        kept_count += 1
        kept_bytes += size
    return beyond


class DirectoryStore:
    """One node's snapshots in a local directory. `DirectoryStore(path)` alone is durable.

    Options (keyword-only):
    - `keep_last`, `max_bytes`: retention after each save (the newest snapshot is always kept;
      `None` disables a limit);
    - `signer`: sign every file with this identity; loading then demands its signature;
    - `expected_signer`: demand files signed by this PeerId (a reader without the private key);
    - `encryption_key`: 32-byte AES-256-GCM key to encrypt new files and decrypt old ones;
      loading then demands encrypted files;
    - `compress`: zlib-compress new files;
    - `fsync`: `False` trades power-loss durability for speed (process crashes stay safe);
    - `read_only`: open without taking the writer lock, to inspect a store another process
      writes; damaged files are then skipped but not moved;
    - `max_snapshot_size`: files holding a larger snapshot are skipped unread.

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
        self._next_generation = 0  # a reader never saves
        if read_only:
            if not self.path.is_dir():
                raise StoreError(f"{self.path}: no snapshot store here (not a directory)")
            self._check_directory_mode()
        else:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._check_directory_mode()
            self._lock_descriptor = self._take_writer_lock()
            self._remove_stale_temporaries()
            self._next_generation = self._first_free_generation()

    # Opening and closing.

    def _check_directory_mode(self) -> None:
        # Whoever can write the directory can plant, swap or delete snapshots: refuse rather
        # than tighten, since the mode may be shared on purpose and is the owner's to change.
        mode = stat.S_IMODE(os.stat(self.path).st_mode)
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise InsecureStoreError(
                f"{self.path}: the store directory is writable by group or others "
                f"(mode {mode:04o}), who could plant or remove snapshots; run `chmod go-w` on it"
            )

    def _take_writer_lock(self) -> int:
        lock_path = self.path / LOCK_FILE
        unsafe = InsecureStoreError(
            f"{lock_path}: not a regular file (a symbolic link is never followed); remove it"
        )
        try:
            descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | _SAFE_OPEN, 0o600)
        except OSError as error:
            # ELOOP: a symbolic link; EISDIR: a directory; ENXIO: a socket.
            if error.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise unsafe from None
            raise
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise unsafe
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

    def _first_free_generation(self) -> int:
        """One above the highest generation named in the store or its quarantine (a number is
        never handed out twice), except that a name at or above `SEQUENCE_LIMIT` counts only
        if its file verifies: a stray name there must not use up the numbers left."""
        stored = _generations(self.path, _NAME)
        quarantined = _generations(self.path / QUARANTINE, _QUARANTINED_NAME)
        names = (generation for generation, _ in (*stored, *quarantined))
        sequence = max(
            (generation for generation in names if generation < SEQUENCE_LIMIT), default=0
        )
        high = sorted((entry for entry in stored if entry[0] >= SEQUENCE_LIMIT), reverse=True)
        for generation, path in high:
            try:
                self._load(generation, path)
            except (SnapshotError, OSError) as error:
                LOG.warning("%s does not verify, so it numbers no new snapshot: %s", path, error)
                continue
            return max(sequence, generation) + 1
        return sequence + 1

    def _in_use(self, generation: int) -> bool:
        name = _file_name(generation)
        return os.path.lexists(self.path / name) or os.path.lexists(self.path / QUARANTINE / name)

    def _stored(self) -> list[tuple[int, Path]]:
        """Generation and path of every file under its final name, newest first."""
        return stored_files(self.path)[::-1]

    def _ref(self, generation: int, path: Path) -> SnapshotRef:
        file, size = open_regular_file(path)
        with file:
            header = _read_header(file, path, size, self._max_snapshot_size)
        return SnapshotRef(generation, path, size, header.created_wall_ns)

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
            except (UnsupportedContainerError, SnapshotTooLargeError) as error:
                LOG.warning("leaving out %s: %s", path, error)
        return refs

    # Loading.

    def _verify(self, generation: int, path: Path, data: bytes) -> StoredSnapshot:
        sealed = unseal(
            data,
            encryption_key=self._encryption_key,
            expected_signer=self._expected_signer,
            require_encryption=self._encryption_key is not None,
            max_snapshot_size=self._max_snapshot_size,
        )
        if sealed.header.generation != generation:
            raise CorruptFileError(f"file name says generation {generation}, its header another")
        ref = SnapshotRef(generation, path, len(data), sealed.header.created_wall_ns)
        return StoredSnapshot(ref, sealed.header, sealed.snapshot)

    def _load(self, generation: int, path: Path) -> StoredSnapshot:
        file, size = open_regular_file(path)
        with file:
            data = read_sealed_file(file, path, size, self._max_snapshot_size)
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
                file, size = open_regular_file(path)
                with file:
                    header = _read_header(file, path, size, self._max_snapshot_size)
                    if wall_ns is not None and header.created_wall_ns > wall_ns:
                        continue
                    data = _read_rest(file, path, size, header, self._max_snapshot_size)
                return self._verify(generation, path, data)
            except FileNotFoundError:
                continue  # pruned by a writer while we looked
            except SnapshotTooLargeError as error:
                # Maybe fine for a reader with a larger limit: moving it would hide it there.
                LOG.warning("skipping %s: %s", path, error)
            except (DamagedFileError, UntrustedFileError, SnapshotDecodeError) as error:
                self._set_aside(path, error)
        return None

    def latest(self) -> StoredSnapshot | None:
        """The newest snapshot that verifies, or `None`. Damaged or untrusted files on the way
        are moved to `quarantine/` with a warning; a file holding a snapshot above
        `max_snapshot_size` is skipped with a warning; a version or key problem is raised."""
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
        while os.path.lexists(target):
            counter += 1
            target = quarantine / f"{path.name}.{counter}"
        os.replace(path, target)  # moves a link or a FIFO itself, never what it points to
        if self._fsync:
            fsync_directory(quarantine)
            fsync_directory(self.path)
        LOG.warning("moved %s to %s: %s", path, target, error)

    # Saving and retention.

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        """Seal and store `snapshot` as the next generation, then apply retention.

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
        try:
            data = seal(
                snapshot,
                generation=generation,
                signer=self._signer,
                encryption_key=self._encryption_key,
                compress=self._compress,
                max_snapshot_size=self._max_snapshot_size,
            )
        except SnapshotTooLargeError as error:
            # Written, it would be skipped by every reader with this store's limit: a save
            # that no restore could load is no save.
            raise SnapshotTooLargeError(f"{self.path}: {error}: not saved") from None
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
        return SnapshotRef(generation, path, len(data), snapshot.taken_at.wall_ns)

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
        """Keep `keep` and, newest first, as many older regular files as the limits allow;
        remove the rest. Unverified (a save must stay cheap); a name above `keep` is no
        snapshot of ours and is left to `latest`, uncounted."""
        candidates: builtins.list[tuple[int, int]] = []
        paths: dict[int, Path] = {}
        for generation, path in self._stored():
            if generation > keep:
                continue
            try:
                status = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(status.st_mode):
                candidates.append((generation, status.st_size))
                paths[generation] = path
        for generation in _beyond_limits(candidates, {keep}, self.keep_last, self.max_bytes):
            paths[generation].unlink(missing_ok=True)
        # No fsync of the directory here: an unlink lost to a power cut only brings back an old,
        # complete snapshot, which the next save's retention removes again. Syncing it would
        # make every save wait for the file system to commit the freed blocks (~45 ms for a
        # 24 MB file here), a third of a save, for nothing a reader could notice.

    def prune(self) -> builtins.list[SnapshotRef]:
        """Apply the retention policy now; the snapshots removed, newest first.

        Every stored file is verified first, and only snapshots that verify count or are
        removed. The newest of each signer (and the newest unsigned one) is always kept: a store
        opened without `expected_signer` cannot tell which one the node demands, and a newer
        forgery must not cost the node its own snapshots. Damaged or untrusted files are moved
        to `quarantine/`, too-large ones left in place; a version or key problem is raised
        before anything is moved or removed.
        """
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        verified: builtins.list[tuple[SnapshotRef, PeerId | None]] = []
        unusable: builtins.list[tuple[Path, SnapshotError]] = []
        for generation, path in self._stored():
            try:
                loaded = self._load(generation, path)
            except FileNotFoundError:
                continue
            except SnapshotTooLargeError as error:
                LOG.warning("leaving %s in place: %s", path, error)
                continue
            except (DamagedFileError, UntrustedFileError, SnapshotDecodeError) as error:
                unusable.append((path, error))
                continue
            verified.append((loaded.ref, _signer(loaded.header)))
        for path, problem in unusable:
            self._set_aside(path, problem)
        newest_of_each_signer: dict[PeerId | None, int] = {}
        for ref, signer in verified:
            newest_of_each_signer.setdefault(signer, ref.generation)
        beyond = _beyond_limits(
            ((ref.generation, ref.size) for ref, _ in verified),
            set(newest_of_each_signer.values()),
            self.keep_last,
            self.max_bytes,
        )
        removed = [ref for ref, _ in verified if ref.generation in beyond]
        with self._lock:
            for ref in removed:
                ref.path.unlink(missing_ok=True)
        return removed
