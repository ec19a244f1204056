"""`nodesnap demo`: real nodes on loopback; one is SIGKILLed, restored, and checked."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from pathlib import Path

from node_runtime.cli.exit_codes import INTERRUPTED, CliError, ExitCode
from node_runtime.cli.files import int_at_least
from node_runtime.cli.render import printable, say
from node_runtime.demo.processes import DemoError

# Marks a directory as the demo's own, so a later run may replace it and nothing else.
_MARKER = ".nodesnap-demo"
_MAX_NODES = 8


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo",
        help="run nodes on loopback, SIGKILL one, restore it, and check it carried on",
        description="Start a few py-libp2p nodes, each its own process with an identity, a "
        "snapshot store and autosave, talking over TCP (Noise, yamux) on 127.0.0.1. Midway, "
        "kill one with SIGKILL, restart it from its newest snapshot, and check from what the "
        "processes did that it carried on: same PeerId, no ID reused, blocked peer still "
        "blocked and unable to connect, backoff honoured, an expired address not dialled, "
        "peers reached by PeerId alone, signed peer records verified, pending envelopes "
        "redelivered, every envelope delivered exactly once. Prints one line per check and "
        "exits 1 if any failed. Each phase is printed as it starts; Ctrl-C stops the nodes "
        "and says which phase it interrupted. A previous demo's data in --dir is replaced; "
        "any other non-empty directory is refused.",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("nodesnap-data/demo"),
        metavar="DIR",
        help="where the nodes keep their keys, stores and logs (default nodesnap-data/demo)",
    )
    parser.add_argument(
        "--nodes",
        type=int_at_least(3),
        default=3,
        metavar="N",
        help=f"how many node processes, 3 to {_MAX_NODES} (default 3)",
    )
    parser.set_defaults(run=run)


def _prepare(directory: Path) -> None:
    """An empty directory for the run: fresh, or a previous demo's, emptied."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / _MARKER).exists():
            raise CliError(
                ExitCode.USAGE,
                f"{directory} exists and was not made by `nodesnap demo`",
                "pass another --dir",
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / _MARKER).touch()


class _Phases:
    """Prints each phase as the run starts it (at once, even into a pipe), and remembers the
    current one, so that an interrupted run can say what it interrupted."""

    def __init__(self) -> None:
        self.current = "preparing the run"

    def __call__(self, phase: str) -> None:
        self.current = phase
        print(f"- {phase}", flush=True)


def run(args: argparse.Namespace) -> int:
    if args.nodes > _MAX_NODES:
        raise CliError(ExitCode.USAGE, f"--nodes {args.nodes} is over {_MAX_NODES}", "run fewer")
    # The demo's nodes run on py-libp2p: imported only when the demo runs, so that the other
    # commands (and `import node_runtime`) never import libp2p or trio.
    try:
        from node_runtime.demo import report, scenario
    except ImportError as error:
        raise CliError(
            ExitCode.USAGE,
            f"nodesnap demo runs py-libp2p nodes, which are not installed ({error})",
            "install the extra: pip install 'nodesnap[libp2p]'",
        ) from None

    directory: Path = args.dir.resolve()
    _prepare(directory)
    phases = _Phases()
    try:
        # On Ctrl-C, asyncio.run cancels the run, which kills the nodes, then raises.
        measured = asyncio.run(scenario.run(directory, args.nodes, phases))
    except DemoError as error:
        print(
            printable(f"nodesnap: error: demo stopped: {error} — node logs are in {directory}"),
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(
            printable(
                f'nodesnap: interrupted: the demo stopped in the phase "{phases.current}" and '
                f"killed its nodes — their data and logs are in {directory}"
            ),
            file=sys.stderr,
        )
        return INTERRUPTED
    checks = report.judge(measured)
    lines = report.render(measured, checks)
    say(*lines)
    (directory / "report.txt").write_text("\n".join(lines) + "\n")
    return report.exit_status(checks)
