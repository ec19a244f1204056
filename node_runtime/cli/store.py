"""`nodesnap store ls|verify|prune DIR`: a `DirectoryStore` seen from outside its process;
`ls` and `verify` of a URL, and `fleet`, `pull` and `push`, work on object storage
(`object_store_cli`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import attrs

from node_runtime.cli import object_store_cli
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
        help="list, verify or prune a snapshot store; ship it to and from object storage",
        description="Work on a DirectoryStore directory, or on a node's prefix in an object "
        "store (a URL, s3://BUCKET/PREFIX). `ls` and `verify` only read (no lock, nothing "
        "moved), so they are safe while the node runs; `prune` takes the writer lock.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    ls = actions.add_parser(
        "ls",
        help="list the stored snapshots, oldest first",
        description="One line per stored file, oldest first: generation, creation time "
        "(ISO-8601 UTC), size in bytes, flags, and its journal if it has one: deltas, bytes, "
        "the last delta's time, a torn tail or damage. Headers are read, not verified (see "
        "`verify`); a file whose header does not read shows its problem instead. A directory "
        "replicated to an object store ends with a line saying how far behind that is.",
    )
    ls.add_argument("directory", metavar="DIR|URL")
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
    verify.add_argument("directory", metavar="DIR|URL")
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
    object_store_cli.register(actions)


def snapshot_files(directory: Path) -> list[tuple[int, Path]]:
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
    if object_store_cli.is_url(args.directory):
        return object_store_cli.run_ls(args)
    store = DirectoryStore(args.directory, read_only=True, max_snapshot_size=args.max_size)
    # Every name, not `DirectoryStore.list()`, which leaves damaged files out: an operator
    # wants to see those too.
    stored = snapshot_files(store.path)
    replication = object_store_cli.replication_of(store.path, args.max_size)
    if not stored and not args.json:
        say(f"no snapshots in {store.path}")
    rows: list[JsonValue] = []
    for generation, path in stored:
        listed = _listed_file(generation, path, args.max_size)
        if args.json:
            rows.append(
                listed.json(None if replication is None else generation in replication.shipped)
            )
        else:
            say(listed.line())
    if args.json:
        print(dump_json(rows))
    elif replication is not None:
        say(replication.line())
    return ExitCode.OK


@attrs.frozen
class Listed:
    """One line of `store ls`, a stored file's or object's: its header or the problem reading
    it, and its journal as far as `extent` shows it."""

    generation: int
    path: str
    size: int | None
    journal_path: str
    header: SealedHeader | None = None
    problem: str | None = None
    extent: JournalExtent | None = None

    def line(self) -> str:
        if self.header is None:
            return (
                f"{self.generation}  -  {'-' if self.size is None else self.size}  {self.problem}"
            )
        created = iso_utc(self.header.created_wall_ns)
        line = f"{self.generation}  {created}  {self.size}  {flags_text(self.header.flags)}"
        return line if self.extent is None else f"{line}  journal {extent_text(self.extent)}"

    def json(self, shipped: bool | None) -> JsonValue:
        """The JSON object; `shipped`: whether a replicated directory's generation is all in
        its object store (`None`: not replicated)."""
        return {
            "generation": u64(self.generation),
            "path": self.path,
            "size": None if self.size is None else u64(self.size),
            "header": None if self.header is None else header_json(self.header),
            "problem": self.problem,
            "journal": extent_json(self.journal_path, self.extent),
            "shipped": shipped,
        }


def _listed_file(generation: int, path: Path, max_size: int) -> Listed:
    journal = journal_beside(path)
    size: int | None = None
    header: SealedHeader | None = None
    try:
        size = os.lstat(path).st_size  # of a link or FIFO itself: never followed or opened
        header = read_stored_header(path, max_size)
        extent = journal_extent(journal, header, max_size)
    except (SnapshotError, OSError) as error:
        problem = f"{classify(error)[0].name}: {error}"
        return Listed(generation, str(path), size, str(journal), header, problem)
    return Listed(generation, str(path), size, str(journal), header, extent=extent)


def extent_text(extent: JournalExtent) -> str:
    """A journal as its headers show it: deltas, bytes, the last one's time, what follows."""
    text = f"{extent.deltas} deltas {extent.bytes} bytes"
    if extent.last_wall_ns is not None:
        text += f" to {iso_utc(extent.last_wall_ns)}"
    if extent.problem is not None:
        return f"{text}, then {classify(extent.problem)[0].name}: {extent.problem}"
    if extent.file_size > extent.bytes:
        text += f" (+{extent.file_size - extent.bytes} bytes torn)"
    return text


def extent_json(path: str, extent: JournalExtent | None) -> JsonValue:
    if extent is None:
        return None
    problem = extent.problem
    return {
        "path": path,
        "deltas": u64(extent.deltas),
        "bytes": u64(extent.bytes),
        "file_size": u64(extent.file_size),
        "last_created": None if extent.last_wall_ns is None else iso_utc(extent.last_wall_ns),
        "problem": None if problem is None else f"{classify(problem)[0].name}: {problem}",
    }


def run_verify(args: argparse.Namespace) -> ExitCode:
    if object_store_cli.is_url(args.directory):
        return object_store_cli.run_verify(args)
    options = reading_options(args)
    store = DirectoryStore(
        args.directory,
        read_only=True,
        encryption_key=options.key,
        expected_signer=options.peer,
        max_snapshot_size=options.max_size,
    )
    codes = []
    stored = snapshot_files(store.path)
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
            line, code = journal_line(journal_path, loaded.journal)
            say(line)
            codes.append(code)
    quarantined = store.path / QUARANTINE
    if quarantined.is_dir():
        count = sum(1 for _ in quarantined.iterdir())
        say(f"{count} files in {quarantined} (set aside earlier, not checked)")
    return most_severe(codes)


def journal_line(path: str | Path, journal: JournalState) -> tuple[str, ExitCode]:
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
    if not snapshot_files(directory):
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
