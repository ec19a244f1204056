"""The `nodesnap` command line: argument parsing, dispatch, and the one place errors end up.

Each command group lives in its own module with a `register(commands)` function that adds its
parser and sets `run`, a function from the parsed arguments to an `ExitCode`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from node_runtime.cli import demo, diff, inspect, keygen, migrate, replay, store, validate
from node_runtime.cli.exit_codes import EPILOG, INTERRUPTED, CliError, ExitCode, classify
from node_runtime.cli.render import printable
from snapshot_schema import CURRENT_SNAPSHOT_SPEC_VERSION, SnapshotError

# In the order `--help` lists them: the networked demo first, the README's first command.
COMMANDS = (demo, inspect, validate, diff, replay, migrate, keygen, store)

_BROKEN_PIPE = 128 + 13  # what a shell reports for a process killed by SIGPIPE


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; 2 means an unreadable file here (see `ExitCode`)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        line = printable(f"{self.prog}: error: {message} — see `{self.prog} --help`")
        self.exit(ExitCode.USAGE, line + "\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal; keeps the exit-code table's lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text == EPILOG:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _installed_version() -> str:
    try:
        return version("nodesnap")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nodesnap",
        description="Run the networked restart demo; inspect, verify, compare, replay and "
        "migrate nodesnap snapshot files; manage snapshot stores and node identities.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"nodesnap {_installed_version()} (snapshot spec version "
        f"{CURRENT_SNAPSHOT_SPEC_VERSION})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    _add_epilog(parser)
    return parser


def _add_epilog(parser: argparse.ArgumentParser) -> None:
    """The exit-code table at the end of every command's help, `store ls` and the like too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.epilog = EPILOG
                command.formatter_class = _HelpFormatter
                _add_epilog(command)


class _PrintableFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _escape_what_the_terminal_cannot_show() -> None:
    """A terminal whose encoding cannot show a character (a non-UTF-8 locale) gets its escape,
    `\\u2014`, instead of an encoding error ending the command with a traceback."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """The library logs what it does on the operator's behalf (a damaged file moved to
    quarantine/ by `store prune`): show it as a line of ours, only while the command runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrintableFormatter("nodesnap: warning: %(message)s"))
    logger = logging.getLogger("node_runtime")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the process exit status. Every refusal becomes one line on stderr,
    `nodesnap: error: <what> — <what to do>`; only argparse exits by itself (`SystemExit` for
    --help, --version and usage errors)."""
    _escape_what_the_terminal_cannot_show()
    args = build_parser().parse_args(argv)
    try:
        with _warnings_to_stderr():
            return int(args.run(args))
    except CliError as error:
        return _fail(error.code, str(error))
    except BrokenPipeError:
        # The reader stopped reading (`| head`): nothing to report. Point stdout at /dev/null
        # so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _BROKEN_PIPE
    except (SnapshotError, OSError) as error:
        code, todo = classify(error)
        return _fail(code, f"{error} — {todo}")
    except KeyboardInterrupt:
        print(f"nodesnap: interrupted: {args.command} stopped", file=sys.stderr)
        return INTERRUPTED


def _fail(code: ExitCode, message: str) -> int:
    print(printable(f"nodesnap: error: {message}"), file=sys.stderr)
    return code
