"""A generation's journal file: sealed delta records (flag `DELTA`) back to back.

Each record is a sealed file (docs/FORMAT.md §8) whose header states its length, so records
need no other framing. `JournalWriter` appends one record per write, fsyncs the file (and the
directory when it creates the file), and cuts the file back to its previous length when an
append fails.

`read_records` walks the records header by header. A record cut short by the end of the file
(a crash during an append) is a torn tail and ends the walk quietly. A header that cannot
belong to this journal is damage: `JournalFramingError`. Every header field that decides a
record's length is checked against the others and against the generation's snapshot before
the length is trusted, so a bit flipped in one of them reads as damage, not as a torn tail.
The one exception is the body length of a compressed record, which only has an upper bound:
in the last record, a flip that lengthens it reads as a torn record (left out, unreported).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import attrs

from node_runtime.durable_io import fsync_directory, write_all
from node_runtime.peer_id import PeerId
from node_runtime.sealed_file import (
    MAX_HEADER_BYTES,
    Flags,
    SealedHeader,
    length_problem,
    read_header,
)
from node_runtime.storage_errors import (
    DamagedFileError,
    JournalFramingError,
    SnapshotTooLargeError,
    TruncatedFileError,
    UnsupportedContainerError,
)


@attrs.frozen
class RecordFraming:
    """What every record header of a generation's journal states: the generation, the node's
    PeerId, and the snapshot's flags plus `DELTA` (one store instance, with one set of
    options, writes a generation's snapshot and its journal)."""

    generation: int
    peer_id: PeerId
    flags: Flags

    @classmethod
    def of_snapshot(cls, header: SealedHeader) -> RecordFraming:
        """The framing of the journal that follows the snapshot whose header is `header`."""
        return cls(header.generation, header.peer_id, header.flags | Flags.DELTA)


@attrs.frozen
class JournalRecord:
    """One complete record: its position, its header (not verified), its bytes."""

    index: int
    offset: int
    header: SealedHeader
    data: bytes = attrs.field(repr=False)


def framing_problem(header: SealedHeader, framing: RecordFraming, max_size: int) -> str | None:
    if header.flags != framing.flags:
        return f"flags {int(header.flags):#x}, not the journal's {int(framing.flags):#x}"
    if header.generation != framing.generation:
        return f"generation {header.generation}, not the journal's {framing.generation}"
    if header.peer_id != framing.peer_id:
        return f"sealed by {header.peer_id}, not by the snapshot's {framing.peer_id}"
    if header.encoded_length > max_size:
        raise SnapshotTooLargeError(
            f"a delta of {header.encoded_length} bytes exceeds the {max_size}-byte limit"
        )
    return length_problem(header)


def record_headers(
    file: BinaryIO, size: int, framing: RecordFraming, max_size: int
) -> Iterator[tuple[int, SealedHeader]]:
    """Offset and header of each complete record of the journal `file` of `size` bytes, in
    order, until the end of the file or a torn last record. Raises `JournalFramingError` at a
    header that cannot be this journal's, `SnapshotTooLargeError` at one stating a delta above
    `max_size`: the caller names the record (the one after those it was given)."""
    offset = 0
    while offset < size:
        file.seek(offset)
        try:
            header = read_header(file.read(min(MAX_HEADER_BYTES, size - offset)))
        except TruncatedFileError:
            return  # the file ends inside this header: torn
        except (DamagedFileError, UnsupportedContainerError) as error:
            # The writer of this journal wrote this build's container: no newer one.
            raise JournalFramingError(str(error)) from None
        problem = framing_problem(header, framing, max_size)
        if problem is not None:
            raise JournalFramingError(problem)
        if size - offset < header.file_length:
            return  # the file ends inside this record: torn
        yield offset, header
        offset += header.file_length


def read_records(
    file: BinaryIO, size: int, framing: RecordFraming, max_size: int
) -> Iterator[JournalRecord]:
    """`record_headers`, each record with its bytes (read once its header has been checked)."""
    for index, (offset, header) in enumerate(record_headers(file, size, framing, max_size)):
        file.seek(offset)
        yield JournalRecord(index, offset, header, file.read(header.file_length))


class JournalWriter:
    """Appends records to one journal file, durably, all or nothing.

    The file is created on the first append (mode 0600, never over an existing file). After a
    failed append the file is cut back to its previous length; if that fails too, `broken` is
    set and the caller must not append again (the file may end in a partial record, which a
    reader takes for a torn tail)."""

    def __init__(self, path: Path, *, durable: bool) -> None:
        self.path = path
        self.length = 0
        self.records = 0
        self.broken = False
        self._durable = durable
        self._descriptor: int | None = None
        self._directory_synced = False

    def append(self, record: bytes) -> None:
        """Append `record`; durable when this returns (with `durable`). Raises the `OSError`."""
        if self._descriptor is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
            self._descriptor = os.open(self.path, flags, 0o600)
        try:
            write_all(self._descriptor, record)
            if self._durable:
                os.fsync(self._descriptor)
                if not self._directory_synced:
                    fsync_directory(self.path.parent)  # the new file's name, durable too
                    self._directory_synced = True
        except OSError:
            self._undo(self._descriptor)
            raise
        self.length += len(record)
        self.records += 1

    def _undo(self, descriptor: int) -> None:
        try:
            os.ftruncate(descriptor, self.length)
            if self._durable:
                os.fsync(descriptor)
        except OSError:
            self.broken = True

    def close(self) -> None:
        """Close the file (the writer is done: a later append would refuse to reopen it)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
