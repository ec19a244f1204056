"""How a store names and reads the entries of its directory, as things others may have written.

A generation's files are `<generation, 20 digits>.nsnap` (its snapshot) and, beside it,
`<generation>.journal` (the deltas appended after it). Whatever sits under such a name is read
defensively: opened without following a symbolic link or blocking on a FIFO, refused unless a
regular file, and never read past its header unless its size fits the header and the reader's
`max_snapshot_size`.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

from node_runtime.sealed_file import (
    MAX_HEADER_BYTES,
    Flags,
    SealedHeader,
    read_header,
    sealed_size_bound,
    unseal,
)
from node_runtime.storage_errors import (
    CorruptFileError,
    NotRegularFileError,
    SnapshotTooLargeError,
    TruncatedFileError,
    UnsupportedContainerError,
)
from snapshot_schema import DEFAULT_MAX_SNAPSHOT_SIZE

SUFFIX = ".nsnap"
JOURNAL_SUFFIX = ".journal"
SNAPSHOT_NAME = re.compile(r"^(\d{20})\.nsnap$")
JOURNAL_NAME = re.compile(r"^(\d{20})\.journal$")
_SAFE_OPEN = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO would block a plain open
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def snapshot_name(generation: int) -> str:
    """The file name of a generation's snapshot."""
    return f"{generation:020d}{SUFFIX}"


def journal_name(generation: int) -> str:
    """The file name of a generation's journal."""
    return f"{generation:020d}{JOURNAL_SUFFIX}"


def journal_beside(snapshot_path: Path) -> Path:
    """The journal that belongs to the snapshot at `snapshot_path` (also for a quarantined
    `NAME.nsnap.N`, whose journal is `NAME.journal.N`)."""
    return snapshot_path.with_name(snapshot_path.name.replace(SUFFIX, JOURNAL_SUFFIX, 1))


def generations(directory: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    """Generation and path of every entry of `directory` whose name `pattern` matches (its
    first group is the generation), unsorted; none when `directory` is not a directory."""
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
    return sorted(generations(directory, SNAPSHOT_NAME))


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


def regular_file_size(path: Path) -> int | None:
    """The size of the regular file at `path` (never following a link); `None` when there is
    none, or something else is there."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _check_file_fits(path: Path, size: int, max_snapshot_size: int) -> None:
    """No sealed file of a snapshot within the limit is larger: refuse to read one that is."""
    if size > sealed_size_bound(max_snapshot_size):
        raise SnapshotTooLargeError(
            f"{path}: {size} bytes, more than any sealed snapshot of at most "
            f"{max_snapshot_size} bytes (max_snapshot_size)"
        )


def read_open_header(file: BinaryIO, path: Path, size: int, max_snapshot_size: int) -> SealedHeader:
    """The header of an open sealed snapshot file. A container version or flag this build
    does not know, or the flag of a delta record, may also be a flipped bit: the whole file's
    integrity check decides which (damage is raised as such, so the file is set aside instead
    of blocking every load; an intact delta record is `ContentKindError`, damage too)."""
    try:
        header = read_header(file.read(MAX_HEADER_BYTES))
    except UnsupportedContainerError:
        _check_whole_file(file, path, size, max_snapshot_size)  # intact: the same error
        raise
    if Flags.DELTA in header.flags:
        _check_whole_file(file, path, size, max_snapshot_size)
    return header


def _check_whole_file(file: BinaryIO, path: Path, size: int, max_snapshot_size: int) -> None:
    _check_file_fits(path, size, max_snapshot_size)
    file.seek(0)
    unseal(file.read(size), max_snapshot_size=max_snapshot_size)


def read_stored_header(
    path: Path, max_snapshot_size: int = DEFAULT_MAX_SNAPSHOT_SIZE
) -> SealedHeader:
    """The header of the file under a snapshot's name, read as a store reads it (never
    following a link, never blocking); not verified."""
    file, size = open_regular_file(path)
    with file:
        return read_open_header(file, path, size, max_snapshot_size)


def read_rest(
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
    header = read_open_header(file, path, size, max_snapshot_size)
    return read_rest(file, path, size, header, max_snapshot_size)
