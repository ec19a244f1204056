"""A generation's journal in an object store: one object per sealed delta record.

Objects cannot be appended to, so record N of generation G is its own object,
`<G>.journal/<N, 20 digits>.delta` (N from 1), created only if absent. A PUT is atomic: there
is no torn record here. Reading takes the records in order and stops at the first that is
missing (a hole: what follows is never applied), does not frame as this journal's, or is not
exactly one record long: each is damage, reported by the replay like a bad record in a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

import attrs

from node_runtime.journal_file import JournalRecord, RecordFraming, framing_problem
from node_runtime.object_storage.object_io import ObjectEntry, ObjectIO, ObjectTooLarge
from node_runtime.sealed_file import read_header, sealed_size_bound
from node_runtime.storage_errors import (
    DamagedFileError,
    JournalFramingError,
    StoreWriteError,
    UnsupportedContainerError,
    WriterConflictError,
)

RECORD_NAME = re.compile(r"^(\d{20})\.delta$")


def record_key(journal: str, sequence: int) -> str:
    """The key of record `sequence` (from 1) of the journal under the prefix `journal`."""
    return f"{journal}/{sequence:020d}.delta"


@attrs.frozen
class ListedJournal:
    """The records a journal prefix lists, in order, up to the first missing number, and what
    was listed after a hole (never read)."""

    records: tuple[ObjectEntry, ...] = ()
    after_hole: tuple[ObjectEntry, ...] = ()

    @property
    def bytes(self) -> int:
        return sum(entry.size for entry in self.records)

    @property
    def listed_bytes(self) -> int:
        return self.bytes + sum(entry.size for entry in self.after_hole)


def list_journal(io: ObjectIO, journal: str) -> ListedJournal:
    """The records listed under the prefix `journal` (other names there are ignored)."""
    numbered: list[tuple[int, ObjectEntry]] = []
    for entry in io.walk(journal + "/"):
        match = RECORD_NAME.match(PurePosixPath(entry.key).name)
        if match is not None and PurePosixPath(entry.key).parent == PurePosixPath(journal):
            numbered.append((int(match.group(1)), entry))
    numbered.sort(key=lambda item: item[0])
    for index, (sequence, _) in enumerate(numbered):
        if sequence != index + 1:
            return ListedJournal(
                tuple(entry for _, entry in numbered[:index]),
                tuple(entry for _, entry in numbered[index:]),
            )
    return ListedJournal(tuple(entry for _, entry in numbered))


def read_object_records(
    io: ObjectIO, listed: ListedJournal, framing: RecordFraming, max_size: int
) -> Iterator[JournalRecord]:
    """The records of `listed`, each read and framed, in order. Raises `JournalFramingError`
    at the first that is not one whole record of this journal, or at a hole."""
    offset = 0
    for index, entry in enumerate(listed.records):
        try:
            data = io.get(entry.key, sealed_size_bound(max_size))
            header = read_header(data)
        except FileNotFoundError:
            raise JournalFramingError(f"{entry.key} was listed but is gone") from None
        except ObjectTooLarge as large:
            raise JournalFramingError(
                f"{entry.key}: {large.size} bytes, more than a delta within the limit"
            ) from None
        except (DamagedFileError, UnsupportedContainerError) as error:
            raise JournalFramingError(f"{entry.key}: {error}") from None
        problem = framing_problem(header, framing, max_size)
        if problem is None and header.file_length != len(data):
            problem = f"{len(data)} bytes, its header says {header.file_length}"
        if problem is not None:
            raise JournalFramingError(f"{entry.key}: {problem}")
        yield JournalRecord(index, offset, header, data)
        offset += len(data)
    if listed.after_hole:
        missing = len(listed.records) + 1
        raise JournalFramingError(
            f"record {missing} is missing; the {len(listed.after_hole)} listed after it are "
            "not applied"
        )


class ObjectJournalWriter:
    """`JournalWriter`'s part for `JournalChain`, over objects: each append creates the next
    record's object. A failed PUT may have landed or not, and cannot be undone: appends to
    the generation stop (`broken`) until the next full save."""

    def __init__(self, io: ObjectIO, journal: str) -> None:
        self.io = io
        self.journal = journal
        self.path = PurePosixPath(journal)
        self.length = 0
        self.records = 0
        self.broken = False

    def append(self, record: bytes) -> None:
        try:
            self.io.create(record_key(self.journal, self.records + 1), record)
        except WriterConflictError:
            self.broken = True
            raise
        except StoreWriteError as error:
            self.broken = True
            raise StoreWriteError(
                f"{error}; appends to this generation stopped until the next full save"
            ) from None
        self.length += len(record)
        self.records += 1

    def close(self) -> None:
        """Nothing to release: each record is written whole or not at all."""
