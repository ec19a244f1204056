"""`nodesnap validate FILE…`: verify each file, one line per file, exit with the worst result."""

from __future__ import annotations

import argparse

from node_runtime.cli.exit_codes import CliError, ExitCode, most_severe
from node_runtime.cli.files import SnapshotFile, add_trust_options, key_of, read_snapshot_file
from node_runtime.cli.render import header_summary
from node_runtime.peer_id import PeerId


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "validate",
        help="verify snapshot files: integrity, signature, version",
        description="Verify each file completely (integrity, signature when present or when "
        "--peer demands one, decryption, decoding including the version gate) and print one "
        "line per file: OK, or the failure's label (DAMAGED, UNTRUSTED, UNSUPPORTED, KEY, "
        "UNREADABLE) and reason. Exits with the most severe failure's code.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="sealed or raw snapshot files")
    add_trust_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    key = key_of(args)
    codes = []
    for path in args.files:
        line, code = check_file(path, key, args.peer)
        print(line)
        codes.append(code)
    return most_severe(codes)


def check_file(path: str, key: bytes | None, peer: PeerId | None) -> tuple[str, ExitCode]:
    """The report line for one file and its exit code."""
    try:
        loaded = read_snapshot_file(path, key=key, peer=peer)
    except CliError as error:
        return f"{error.code.name} {error.what}", error.code
    return f"OK {path} {describe(loaded)}", ExitCode.OK


def describe(loaded: SnapshotFile) -> str:
    header = loaded.header
    if header is None:
        return f"raw snapshot, spec {loaded.stored_version}, unsigned"
    return header_summary(header)
