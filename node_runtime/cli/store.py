"""`nodesnap store ls|verify|prune DIR`: a `DirectoryStore` seen from outside its process."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from node_runtime.cli.exit_codes import CliError, ExitCode, classify, most_severe, naming
from node_runtime.cli.files import (
    add_max_size_option,
    add_reading_options,
    int_at_least,
    reading_options,
)
from node_runtime.cli.render import (
    JsonValue,
    dump_json,
    flags_text,
    header_json,
    header_summary,
    iso_utc,
    say,
    u64,
)
from node_runtime.directory_store import DirectoryStore
from node_runtime.journal_replay import JournalExtent, journal_extent
from node_runtime.quarantine import QUARANTINE
from node_runtime.sealed_file import SealedHeader
from node_runtime.snapshot_store import JournalState
from node_runtime.storage_errors import StoreLockedError
from node_runtime.store_directory import LOCK_FILE
from node_runtime.store_files import journal_beside, read_stored_header, stored_files
from snapshot_schema import SnapshotError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "store",
        help="list, verify or prune a snapshot store directory",
        description="Work on a DirectoryStore directory. `ls` and `verify` only read (no lock, "
        "nothing moved), so they are safe while the node runs; `prune` takes the writer lock.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    ls = actions.add_parser(
        "ls",
        help="list the stored snapshots, oldest first",
        description="One line per stored file, oldest first: generation, creation time "
        "(ISO-8601 UTC), size in bytes, flags, and its journal if it has one: deltas, bytes, "
        "the last delta's time, a torn tail or damage. Headers are read, not verified (see "
        "`verify`); a file whose header does not read shows its problem instead.",
    )
    ls.add_argument("directory", metavar="DIR")
    ls.add_argument("--json", action="store_true", help="a JSON array, one object per file")
    add_max_size_option(ls)
    ls.set_defaults(run=run_ls)

    verify = actions.add_parser(
        "verify",
        help="verify every stored snapshot",
        description="Load and verify every stored file (read-only: nothing is moved), one line "
        "per file as `validate` prints them, and a line per journal: the deltas that verify "
        "and apply, or the record where loading stops (DAMAGED, UNTRUSTED, ...); exits with "
        "the most severe failure's code.",
    )
    verify.add_argument("directory", metavar="DIR")
    add_reading_options(verify)
    verify.set_defaults(run=run_verify)

    prune = actions.add_parser(
        "prune",
        help="apply a retention policy now",
        description="Verify every stored file, then remove the oldest verified snapshots "
        "beyond the limits given. The newest verified snapshot of each signer (and the newest "
        "unsigned one) is always kept, so that without --peer a newer forgery cannot cost the "
        "node its own snapshots. Damaged or untrusted files are moved to quarantine/; a file "
        "too large to read is left in place. Takes the writer lock, so it fails while a node "
        "writes the store.",
    )
    prune.add_argument("directory", metavar="DIR")
    prune.add_argument(
        "--keep-last", type=int_at_least(1), metavar="N", help="keep the newest N snapshots"
    )
    prune.add_argument(
        "--max-bytes",
        type=int_at_least(0),
        metavar="B",
        help="keep the newest snapshots whose sizes sum to at most B bytes",
    )
    add_reading_options(prune)
    prune.set_defaults(run=run_prune)


def _snapshot_files(directory: Path) -> list[tuple[int, Path]]:
    """`stored_files(directory)`; when there are none, refuse a directory that holds other
    things only (no lock, no quarantine/ either): a wrong path, most likely, not a store."""
    stored = stored_files(directory)
    if stored:
        return stored
    entries = [entry.name for entry in directory.iterdir()]
    if entries and LOCK_FILE not in entries and QUARANTINE not in entries:
        raise CliError(
            ExitCode.UNREADABLE,
            f"{directory}: not a snapshot store: none of its {len(entries)} entries is a "
            f"snapshot file, {LOCK_FILE} or {QUARANTINE}/",
            "check the store's path",
        )
    return stored


def run_ls(args: argparse.Namespace) -> ExitCode:
    store = DirectoryStore(args.directory, read_only=True, max_snapshot_size=args.max_size)
    rows: list[JsonValue] = []
    # Every name, not `DirectoryStore.list()`, which leaves damaged files out: an operator
    # wants to see those too.
    stored = _snapshot_files(store.path)
    if not stored and not args.json:
        say(f"no snapshots in {store.path}")
    for generation, path in stored:
        size: int | None = None
        header: SealedHeader | None = None
        problem: str | None = None
        extent: JournalExtent | None = None
        try:
            size = os.lstat(path).st_size  # of a link or FIFO itself: never followed or opened
            header = read_stored_header(path, args.max_size)
            extent = journal_extent(journal_beside(path), header, args.max_size)
        except (SnapshotError, OSError) as error:
            problem = f"{classify(error)[0].name}: {error}"
        if args.json:
            rows.append(
                {
                    "generation": u64(generation),
                    "path": str(path),
                    "size": None if size is None else u64(size),
                    "header": None if header is None else header_json(header),
                    "problem": problem,
                    "journal": _extent_json(journal_beside(path), extent),
                }
            )
        elif header is None:
            say(f"{generation}  -  {'-' if size is None else size}  {problem}")
        else:
            created = iso_utc(header.created_wall_ns)
            line = f"{generation}  {created}  {size}  {flags_text(header.flags)}"
            say(line if extent is None else f"{line}  journal {_extent_text(extent)}")
    if args.json:
        print(dump_json(rows))
    return ExitCode.OK


def _extent_text(extent: JournalExtent) -> str:
    """A journal as its headers show it: deltas, bytes, the last one's time, what follows."""
    text = f"{extent.deltas} deltas {extent.bytes} bytes"
    if extent.last_wall_ns is not None:
        text += f" to {iso_utc(extent.last_wall_ns)}"
    if extent.problem is not None:
        return f"{text}, then {classify(extent.problem)[0].name}: {extent.problem}"
    if extent.file_size > extent.bytes:
        text += f" (+{extent.file_size - extent.bytes} bytes torn)"
    return text


def _extent_json(path: Path, extent: JournalExtent | None) -> JsonValue:
    if extent is None:
        return None
    problem = extent.problem
    return {
        "path": str(path),
        "deltas": u64(extent.deltas),
        "bytes": u64(extent.bytes),
        "file_size": u64(extent.file_size),
        "last_created": None if extent.last_wall_ns is None else iso_utc(extent.last_wall_ns),
        "problem": None if problem is None else f"{classify(problem)[0].name}: {problem}",
    }


def run_verify(args: argparse.Namespace) -> ExitCode:
    options = reading_options(args)
    store = DirectoryStore(
        args.directory,
        read_only=True,
        encryption_key=options.key,
        expected_signer=options.peer,
        max_snapshot_size=options.max_size,
    )
    codes = []
    stored = _snapshot_files(store.path)
    if not stored:
        say(f"no snapshots in {store.path}")
    for generation, path in stored:
        try:
            loaded = store.load(generation)
        except (SnapshotError, OSError) as error:
            code = classify(error)[0]
            say(f"{code.name} {naming(path, str(error))}")
            codes.append(code)
            continue
        say(f"OK {path} {header_summary(loaded.header)}")
        journal_path = journal_beside(path)
        if os.path.lexists(journal_path):
            line, code = _journal_line(journal_path, loaded.journal)
            say(line)
            codes.append(code)
    quarantined = store.path / QUARANTINE
    if quarantined.is_dir():
        count = sum(1 for _ in quarantined.iterdir())
        say(f"{count} files in {quarantined} (set aside earlier, not checked)")
    return most_severe(codes)


def _journal_line(path: Path, journal: JournalState) -> tuple[str, ExitCode]:
    """The verification line of a generation's journal, and its exit code."""
    if journal.error is not None:
        code = classify(journal.error)[0]
        return f"{code.name} {path}: {journal.deltas} deltas apply, then {journal.damage}", code
    line = f"OK {path} {journal.deltas} deltas, {journal.bytes} bytes"
    if journal.ignored_bytes:
        line += f"; a torn last record of {journal.ignored_bytes} bytes left out"
    return line, ExitCode.OK


def run_prune(args: argparse.Namespace) -> ExitCode:
    if args.keep_last is None and args.max_bytes is None:
        raise CliError(
            ExitCode.USAGE,
            "store prune needs a retention limit",
            "pass --keep-last N and/or --max-bytes B",
        )
    # A reader first: it checks the directory and its mode without creating either (a writer
    # would), and with nothing to prune no writer is opened, nor its lock left behind.
    directory = DirectoryStore(args.directory, read_only=True).path
    options = reading_options(args)
    if not _snapshot_files(directory):
        say(f"no snapshots in {directory}")
        return ExitCode.OK
    try:
        store = DirectoryStore(
            directory,
            keep_last=args.keep_last,
            max_bytes=args.max_bytes,
            expected_signer=options.peer,
            encryption_key=options.key,
            max_snapshot_size=options.max_size,
        )
    except StoreLockedError:
        raise CliError(
            ExitCode.LOCKED,
            f"{directory}: another process writes this store",
            "stop it first or retry later (`store ls` and `store verify` work meanwhile)",
        ) from None
    with store:
        removed = store.prune()
        kept = len(stored_files(directory))
    say(
        *(
            f"removed generation {ref.generation} ({ref.size + ref.journal_bytes} bytes)"
            for ref in removed
        ),
        f"kept {kept} snapshots, removed {len(removed)}",
    )
    return ExitCode.OK
