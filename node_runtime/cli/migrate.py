"""`nodesnap migrate FILE --to VERSION`: rewrite a snapshot file at another spec version.

A file already at VERSION is current: it is verified and then left as it is (`--in-place`) or
copied byte for byte (`--out`), never sealed again, so no key or signature is needed to "migrate"
it and its bytes do not change.
"""

from __future__ import annotations

import argparse
import os
from functools import partial

from node_runtime.cli.exit_codes import CliError, ExitCode, file_error
from node_runtime.cli.files import (
    SnapshotFile,
    add_reading_options,
    read_identity,
    read_snapshot_file_and_bytes,
    reading_options,
    write_output,
)
from node_runtime.cli.render import say
from node_runtime.durable_io import write_atomically
from node_runtime.sealed_file import Flags, seal
from snapshot_schema import MIGRATIONS, SnapshotError, encode


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "migrate",
        help="rewrite a snapshot file at another spec version",
        description="Verify FILE, upgrade it with the registered migrations and write it at "
        "spec version VERSION, keeping its container options (a sealed file stays sealed with "
        "the same generation and flags: a signed one is signed again, which needs --identity; "
        "an encrypted one needs --key-file). A file already at VERSION is left unchanged (or "
        f"copied as it is to --out). This build writes spec version "
        f"{MIGRATIONS.current_version} and reads versions "
        f"{', '.join(map(str, MIGRATIONS.restorable_versions()))}.",
    )
    parser.add_argument("file", metavar="FILE", help="a sealed .nsnap file or a raw snapshot")
    parser.add_argument(
        "--to", type=int, required=True, metavar="VERSION", help="the spec version to write"
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="PATH", help="write the migrated file here")
    target.add_argument("--in-place", action="store_true", help="replace FILE (atomically)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument(
        "--identity",
        metavar="KEYFILE",
        help="the node's identity key file, to sign again a signed file (ignored otherwise)",
    )
    add_reading_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    current = MIGRATIONS.current_version
    if args.to != current:
        raise CliError(
            ExitCode.UNSUPPORTED,
            f"this build cannot write spec version {args.to}: it writes version {current} only",
            f"pass --to {current}, or use a nodesnap build that writes version {args.to}",
        )
    path: str = args.file
    out: str = path if args.in_place else args.out
    if not args.in_place and os.path.exists(out) and os.path.samefile(path, out):
        raise CliError(ExitCode.USAGE, f"--out {out} is the input file", "pass --in-place")
    options = reading_options(args)
    loaded, original = read_snapshot_file_and_bytes(path, options)
    if loaded.stored_version == current:
        if args.in_place:
            say(f"{path} is at spec version {current} already: left unchanged")
            return ExitCode.OK
        write_output(out, partial(write_atomically, data=original), force=args.force)
        say(
            f"{path} is at spec version {current} already: copied unchanged to {out} "
            f"({len(original)} bytes)"
        )
        return ExitCode.OK
    data = _rewrite(loaded, options.key, args.identity)
    write_output(out, partial(write_atomically, data=data), force=args.force or args.in_place)
    say(
        f"migrated {path} from spec version {loaded.stored_version} to {current}: {out} "
        f"({len(data)} bytes)"
    )
    return ExitCode.OK


def _rewrite(loaded: SnapshotFile, key: bytes | None, identity: str | None) -> bytes:
    header = loaded.header
    if header is None:
        return encode(loaded.state)
    signer = None
    if Flags.SIGNED in header.flags:
        if identity is None:
            raise CliError(
                ExitCode.KEY,
                f"{loaded.path} is signed by {header.peer_id}",
                "pass --identity with that node's key file to sign the migrated file",
            )
        signer = read_identity(identity)
    try:
        return seal(
            loaded.state,
            generation=header.generation,
            signer=signer,
            encryption_key=key if Flags.ENCRYPTED in header.flags else None,
            compress=Flags.COMPRESSED in header.flags,
        )
    except SnapshotError as error:  # the identity of another node
        raise file_error(str(identity), error) from None
