"""`nodesnap validate FILE…`: verify each file, one line per file, exit with the worst result."""

from __future__ import annotations

import argparse

from node_runtime.cli.exit_codes import CliError, ExitCode, most_severe
from node_runtime.cli.files import (
    ReadOptions,
    SnapshotFile,
    add_reading_options,
    read_snapshot_file,
    reading_options,
)
from node_runtime.cli.render import header_summary, say


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "validate",
        help="verify snapshot files: integrity, signature, version",
        description="Verify each file completely (integrity, signature when present or when "
        "--peer demands one, decryption, decoding including the version gate) and print one "
        "line per file: OK, or the failure's label (DAMAGED, UNTRUSTED, UNSUPPORTED, KEY, "
        "UNREADABLE, TOO_LARGE) and reason. Exits with the most severe failure's code.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="sealed or raw snapshot files")
    add_reading_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    options = reading_options(args)
    codes = []
    for path in args.files:
        line, code = check_file(path, options)
        say(line)
        codes.append(code)
    return most_severe(codes)


def check_file(path: str, options: ReadOptions) -> tuple[str, ExitCode]:
    """The report line for one file and its exit code."""
    try:
        loaded = read_snapshot_file(path, options)
    except CliError as error:
        return f"{error.code.name} {error.what}", error.code
    return f"OK {path} {describe(loaded)}", ExitCode.OK


def describe(loaded: SnapshotFile) -> str:
    header = loaded.header
    if header is None:
        return f"raw snapshot, spec {loaded.stored_version}, unsigned"
    return header_summary(header)
