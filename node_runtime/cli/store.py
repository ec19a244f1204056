"""`nodesnap store ls|verify|prune DIR`: a `DirectoryStore` seen from outside its process."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from node_runtime.cli.exit_codes import CliError, ExitCode, classify, most_severe
from node_runtime.cli.files import add_trust_options, int_at_least, key_of
from node_runtime.cli.render import (
    JsonValue,
    dump_json,
    flags_text,
    header_json,
    header_summary,
    iso_utc,
)
from node_runtime.directory_store import (
    QUARANTINE,
    DirectoryStore,
    read_stored_header,
    stored_files,
)
from node_runtime.sealed_file import SealedHeader
from node_runtime.storage_errors import StoreLockedError
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
        "(ISO-8601 UTC), size in bytes, flags. Headers are read, not verified (see `verify`); "
        "a file whose header does not read shows its problem instead.",
    )
    ls.add_argument("directory", metavar="DIR")
    ls.add_argument("--json", action="store_true", help="a JSON array, one object per file")
    ls.set_defaults(run=run_ls)

    verify = actions.add_parser(
        "verify",
        help="verify every stored snapshot",
        description="Load and verify every stored file (read-only: nothing is moved), one line "
        "per file as `validate` prints them; exits with the most severe failure's code.",
    )
    verify.add_argument("directory", metavar="DIR")
    add_trust_options(verify)
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
    add_trust_options(prune)
    prune.set_defaults(run=run_prune)


def run_ls(args: argparse.Namespace) -> ExitCode:
    store = DirectoryStore(args.directory, read_only=True)
    rows: list[JsonValue] = []
    # Every name, not `DirectoryStore.list()`, which leaves damaged files out: an operator
    # wants to see those too.
    for generation, path in stored_files(store.path):
        size: int | None = None
        header: SealedHeader | None = None
        problem: str | None = None
        try:
            size = os.lstat(path).st_size  # of a link or FIFO itself: never followed or opened
            header = read_stored_header(path)
        except (SnapshotError, OSError) as error:
            problem = f"{classify(error)[0].name}: {error}"
        if args.json:
            rows.append(
                {
                    "generation": generation,
                    "path": str(path),
                    "size": size,
                    "header": None if header is None else header_json(header),
                    "problem": problem,
                }
            )
        elif header is None:
            print(f"{generation}  -  {'-' if size is None else size}  {problem}")
        else:
            created = iso_utc(header.created_wall_ns)
            print(f"{generation}  {created}  {size}  {flags_text(header.flags)}")
    if args.json:
        print(dump_json(rows))
    return ExitCode.OK


def run_verify(args: argparse.Namespace) -> ExitCode:
    store = DirectoryStore(
        args.directory, read_only=True, encryption_key=key_of(args), expected_signer=args.peer
    )
    codes = []
    stored = stored_files(store.path)
    if not stored:
        print(f"no snapshots in {store.path}")
    for generation, path in stored:
        try:
            header = store.load(generation).header
        except (SnapshotError, OSError) as error:
            code = classify(error)[0]
            print(f"{code.name} {path}: {error}")
            codes.append(code)
        else:
            print(f"OK {path} {header_summary(header)}")
    quarantined = store.path / QUARANTINE
    if quarantined.is_dir():
        count = sum(1 for _ in quarantined.iterdir())
        print(f"{count} files in {quarantined} (set aside earlier, not checked)")
    return most_severe(codes)


def run_prune(args: argparse.Namespace) -> ExitCode:
    if args.keep_last is None and args.max_bytes is None:
        raise CliError(
            ExitCode.USAGE,
            "store prune needs a retention limit",
            "pass --keep-last N and/or --max-bytes B",
        )
    directory = Path(args.directory)
    if not directory.is_dir():  # a writer would create it: pruning must not
        raise CliError(
            ExitCode.UNREADABLE, f"{directory}: no snapshot store here", "check the store's path"
        )
    try:
        store = DirectoryStore(
            directory,
            keep_last=args.keep_last,
            max_bytes=args.max_bytes,
            expected_signer=args.peer,
            encryption_key=key_of(args),
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
    for ref in removed:
        print(f"removed generation {ref.generation} ({ref.size} bytes)")
    print(f"kept {kept} snapshots, removed {len(removed)}")
    return ExitCode.OK
