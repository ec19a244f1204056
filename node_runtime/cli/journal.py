"""The journal beside a sealed snapshot file, as `inspect` and `replay` read it.

A store keeps a generation's deltas in `NAME.journal` beside its snapshot `NAME.nsnap`
(docs/storage.md). The commands read it as the store does: records verified and applied in
order, up to a torn last record or the first that does not verify, which is reported.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from node_runtime.cli.files import ReadOptions, SnapshotFile
from node_runtime.cli.render import JsonValue, iso_utc, u64
from node_runtime.journal_replay import RecordChecks, journal_extent, replay_journal
from node_runtime.snapshot_store import JournalState
from node_runtime.store_files import JOURNAL_SUFFIX, SUFFIX, journal_beside
from snapshot_schema import root_ref
from snapshot_schema.delta_records import StateRef, VersionedSnapshot


@attrs.frozen
class JournalView:
    """What the journal beside a snapshot file holds, and what of it was applied."""

    path: Path
    journal: JournalState
    applied: bool
    """False when the snapshot is encrypted and no key was given: counted from the headers."""
    state: StateRef | None
    """The state after the records applied (`None` when not applied)."""
    last_wall_ns: int | None
    """When the last record counted was taken."""


def snapshot_named(path: str) -> str:
    """The snapshot file a command reads for `path`: `path` itself, or for a journal
    (`NAME.journal`) its snapshot `NAME.nsnap`, which it applies to."""
    if path.endswith(JOURNAL_SUFFIX):
        return path.removesuffix(JOURNAL_SUFFIX) + SUFFIX
    return path


def read_journal(
    loaded: SnapshotFile, options: ReadOptions
) -> tuple[SnapshotFile, JournalView | None]:
    """`loaded` with the journal beside it applied (its `snapshot` the state after the
    records that verify), and what the journal held; `None` when there is no journal (or
    `loaded` is a raw snapshot, which has none)."""
    header = loaded.header
    if header is None:
        return loaded, None
    path = journal_beside(Path(loaded.path))
    if loaded.snapshot is None:
        extent = journal_extent(path, header, options.max_size)
        if extent is None:
            return loaded, None
        counted = JournalState(
            extent.deltas,
            extent.bytes,
            extent.file_size - extent.bytes,
            None if extent.problem is None else str(extent.problem),
            extent.problem,
        )
        return loaded, JournalView(path, counted, False, None, extent.last_wall_ns)
    if not os.path.lexists(path):  # a link there is reported, never followed
        return loaded, None
    # The writer named the snapshot by the SHA-256 of its canonical bytes: encoding it again
    # gives them (a journal follows only a snapshot this build's version wrote).
    root = VersionedSnapshot(root_ref(loaded.snapshot, header.generation), loaded.snapshot)
    checks = RecordChecks(options.key, options.peer, False, options.max_size)
    replayed = replay_journal(path, root, header, checks)
    view = JournalView(
        path,
        replayed.journal,
        True,
        replayed.state.ref,
        replayed.wall_ns if replayed.journal.deltas else None,
    )
    return attrs.evolve(loaded, snapshot=replayed.state.snapshot), view


def journal_text(view: JournalView) -> str:
    """One line: how many deltas, their bytes and the last one's time, and what stopped the
    reading early (a torn last record, or damage)."""
    journal = view.journal
    text = f"{journal.deltas} deltas, {journal.bytes} bytes"
    if view.last_wall_ns is not None:
        text += f", to {iso_utc(view.last_wall_ns)}"
    if journal.damage is not None:
        return f"{text}; stopped at {journal.damage}"
    if journal.ignored_bytes:
        text += f"; a torn last record of {journal.ignored_bytes} bytes left out"
    if not view.applied:
        text += " (encrypted: pass --key-file to verify and apply them)"
    return text


def journal_json(view: JournalView | None) -> JsonValue:
    if view is None:
        return None
    journal, state = view.journal, view.state
    return {
        "path": str(view.path),
        "applied": view.applied,
        "deltas": u64(journal.deltas),
        "bytes": u64(journal.bytes),
        "ignored_bytes": u64(journal.ignored_bytes),
        "damage": journal.damage,
        "last_created": None if view.last_wall_ns is None else iso_utc(view.last_wall_ns),
        "state": None
        if state is None
        else {
            "generation": u64(state.generation),
            "sequence": u64(state.sequence),
            "digest": state.digest.hex(),
        },
    }
