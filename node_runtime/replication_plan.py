"""What a store directory still has to ship to its replica, from the directory and its
watermark alone (no object store needed: `nodesnap store ls` shows the lag offline).

Items come in shipping order: oldest generation first, a snapshot before its journal, records
in order. An item names where its bytes lie (a snapshot file, or a record's offset and length
in a journal file, which only ever grows) and is read when it is shipped, so a plan of any
size costs memory per item, not per byte.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs

from node_runtime.journal_file import RecordFraming, record_headers
from node_runtime.replication_watermark import Status, Watermark, load_watermark
from node_runtime.store_files import (
    journal_beside,
    open_regular_file,
    read_stored_header,
    regular_file_size,
    stored_files,
)
from snapshot_schema import DEFAULT_MAX_SNAPSHOT_SIZE, SnapshotError

LOG = logging.getLogger(__name__)


@attrs.frozen
class Lag:
    """How far a replica is behind the directory: generations with something left to ship,
    and the bytes left to ship."""

    generations: int = 0
    bytes: int = 0


@attrs.frozen
class Item:
    """One object to ship: a generation's snapshot (`sequence` 0) or journal record."""

    generation: int
    sequence: int
    path: Path
    offset: int
    length: int
    maybe_sent: bool
    """Marked `uploading` by a replicator that may have been killed: check before sending."""

    def read(self) -> bytes:
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read(self.length)
        if len(data) != self.length:
            raise OSError(f"{self.path}: {self.length} bytes expected at {self.offset}")
        return data


@attrs.frozen
class Plan:
    """The watermark with what the directory shows added (generations done or lost), the
    items left to ship, in order, and the lag they make."""

    watermark: Watermark
    items: tuple[Item, ...]
    lag: Lag


def _record_spans(snapshot: Path, max_size: int) -> list[tuple[int, int]]:
    """Offset and length of each complete record of the journal beside `snapshot`, up to any
    damage (what follows it is never shipped: a reader would stop there anyway)."""
    try:
        header = read_stored_header(snapshot, max_size)
        file, size = open_regular_file(journal_beside(snapshot))
    except FileNotFoundError:
        return []
    spans: list[tuple[int, int]] = []
    with file:
        try:
            framing = RecordFraming.of_snapshot(header)
            spans.extend(
                (offset, record.file_length)
                for offset, record in record_headers(file, size, framing, max_size)
            )
        except SnapshotError as error:
            LOG.warning("%s: shipping the records before the damage: %s", snapshot, error)
    return spans


def plan(directory: Path, watermark: Watermark, max_size: int = DEFAULT_MAX_SNAPSHOT_SIZE) -> Plan:
    """What `directory` still has to ship, given `watermark`."""
    local = stored_files(directory)
    newest = max((generation for generation, _ in local), default=None)
    present = {generation for generation, _ in local}
    lost = {
        generation
        for generation, mark in watermark.generations.items()
        if not mark.done and generation not in present
    } - watermark.lost
    for generation in sorted(lost):
        LOG.warning("generation %d was removed locally before it was shipped", generation)
    watermark = attrs.evolve(watermark, lost=watermark.lost | lost)
    items: list[Item] = []
    lag = Lag()
    for generation, path in local:
        mark = watermark.mark(generation)
        if mark.done or generation in watermark.lost:
            continue
        try:
            spans = _record_spans(path, max_size)
            size = regular_file_size(path)
        except (OSError, SnapshotError) as error:
            LOG.warning("%s: not shipped this round: %s", path, error)
            continue
        if size is None:
            continue
        left = spans[mark.records :]
        if mark.snapshot is not Status.COMPLETE:
            items.append(Item(generation, 0, path, 0, size, mark.snapshot is Status.UPLOADING))
        journal = journal_beside(path)
        for index, (offset, length) in enumerate(left):
            sequence = mark.records + 1 + index
            items.append(
                Item(generation, sequence, journal, offset, length, index < mark.uploading)
            )
        if not left and mark.snapshot is Status.COMPLETE:
            # Shipped so far; an older one is frozen (nothing is appended to it again).
            shipped = attrs.evolve(mark, uploading=0, done=generation != newest)
            watermark = watermark.with_mark(generation, shipped)
            continue
        unsent = (0 if mark.snapshot is Status.COMPLETE else size) + sum(n for _, n in left)
        lag = Lag(lag.generations + 1, lag.bytes + unsent)
    return Plan(watermark, tuple(items), lag)


def replication_lag(directory: Path, max_size: int = DEFAULT_MAX_SNAPSHOT_SIZE) -> Lag | None:
    """How far the directory's replica is behind (`None`: the directory is not replicated).
    A watermark that does not parse counts everything as left to ship."""
    try:
        watermark = load_watermark(directory, set_aside=False)
    except ValueError:
        watermark = Watermark("")
    return None if watermark is None else plan(directory, watermark, max_size).lag
