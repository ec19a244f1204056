"""Every shell transcript in docs/cli.md and docs/quickstart.md runs, and prints what it shows.

A transcript is a ```console block: each `$ ` line is a command, the lines up to the next one
its output (stdout and stderr, as a terminal shows them). Each block runs in a new temporary
directory holding the example files (`example_files`), one command after another, with bash
and a `nodesnap` that runs this checkout's code (`python -m node_runtime`). What changes from
run to run is normalised, as docs/cli.md says under "About the examples":

- `/var/lib/mynode` in a command is that directory, and its path in the output is shown as
  `/var/lib/mynode`;
- `…` in the output stands for any text within its line; a line that is only `…` stands for
  any number of lines;
- `echo $?` prints the exit status of the command before it.
"""

from __future__ import annotations

import calendar
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import IDENTITY, KEY, PEERS, S, seal_version_1, snapshots, version_1_golden

from node_runtime import DirectoryStore, ManualClock, Multiaddr, Node, seal
from snapshot_schema import VersionedSnapshot, diff, encode

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "docs" / "cli.md", ROOT / "docs" / "quickstart.md"]
STAND_IN = "/var/lib/mynode"
ANY_LINES = "…"
Step = tuple[str, list[str]]


def transcripts(path: Path) -> list[list[Step]]:
    """Each console block of `path` as its commands, each with the output lines it shows."""
    blocks = []
    for block in re.findall(r"```console\n(.*?)```", path.read_text(), re.S):
        steps: list[Step] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        blocks.append(steps)
    return blocks


def shows(expected: list[str], actual: str) -> bool:
    """Whether `actual` is what the `expected` lines show, wildcards (`…`) included."""
    pattern = "".join(
        r"(?:[^\n]*\n)*"
        if line == ANY_LINES
        else "[^\n]*".join(map(re.escape, line.split("…"))) + "\n"
        for line in expected
    )
    return re.fullmatch(pattern, actual) is not None


def example_files(root: Path) -> None:
    """The files the transcripts name: snapshots A and B of tests/cli/cli_support.py (`a.nsnap`
    signed and compressed, `b.nsnap` signed and encrypted with `snapshot.key`), A raw
    (`c.snapshot`) and torn (`torn.nsnap`), the version 1 golden `typical` as the node's, sealed
    signed and compressed by a version 1 build (`old.nsnap`), the node's identity (`node.pem`),
    a `store/` holding one snapshot of a node with a peer and an envelope queued, and a
    `journaled/` store holding A as generation 1 and the delta from A to B in its journal."""
    a, b = snapshots()
    IDENTITY.save(root / "node.pem")
    (root / "snapshot.key").write_text(KEY.hex() + "\n")
    (root / "snapshot.key").chmod(0o600)
    (root / "a.nsnap").write_bytes(seal(a, generation=1, signer=IDENTITY, compress=True))
    (root / "b.nsnap").write_bytes(seal(b, generation=2, signer=IDENTITY, encryption_key=KEY))
    (root / "c.snapshot").write_bytes(encode(a))
    (root / "torn.nsnap").write_bytes((root / "a.nsnap").read_bytes()[:-40])
    old = version_1_golden("typical", IDENTITY.peer_id)
    (root / "old.nsnap").write_bytes(
        seal_version_1(old, generation=7, signer=IDENTITY, compress=True)
    )
    wall = calendar.timegm((2026, 11, 25, 9, 45, 13)) * S + 660_106_387
    node = Node(IDENTITY, clock=ManualClock(monotonic_ns=16_543_860_000_000, wall_ns=wall))
    node.add_peer_address(PEERS[0], Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001"))
    node.outbound.enqueue(b"hello")
    node.command_ids.mint()
    with DirectoryStore(root / "store", signer=IDENTITY, fsync=False) as store:
        store.save(node.snapshot())
    with DirectoryStore(root / "journaled", signer=IDENTITY, fsync=False) as store:
        saved = store.save(a)
        assert saved.state is not None
        store.append(diff(VersionedSnapshot(saved.state, a), b))


@pytest.fixture(scope="module")
def commands(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose `nodesnap` runs this checkout, whatever else is installed."""
    directory = tmp_path_factory.mktemp("bin")
    script = directory / "nodesnap"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m node_runtime "$@"\n')
    script.chmod(0o755)
    return directory


def run(
    command: str, root: Path, previous_status: int, commands: Path
) -> subprocess.CompletedProcess[str]:
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    environment = {
        **os.environ,
        "PATH": f"{commands}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": python_path,
    }
    return subprocess.run(
        ["bash", "-c", f"(exit {previous_status}); {command.replace(STAND_IN, str(root))}"],
        cwd=root,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=120,
    )


BLOCKS = [
    pytest.param(
        steps,
        id=f"{path.name}:{number}",
        marks=[pytest.mark.slow] if any(cmd == "nodesnap demo" for cmd, _ in steps) else [],
    )
    for path in DOCUMENTS
    for number, steps in enumerate(transcripts(path))
]


def test_every_document_has_transcripts() -> None:
    assert all(transcripts(path) for path in DOCUMENTS)


@pytest.mark.parametrize("steps", BLOCKS)
def test_documented_transcript_prints_what_it_shows(
    tmp_path: Path, commands: Path, steps: list[Step]
) -> None:
    example_files(tmp_path)
    status = 0
    for command, expected in steps:
        result = run(command, tmp_path, status, commands)
        status = result.returncode
        actual = result.stdout.replace(str(tmp_path), STAND_IN)
        assert shows(expected, actual), (
            f"$ {command}\n--- the docs show:\n"
            + "\n".join(expected)
            + f"\n--- it printed:\n{actual}"
        )


def test_wildcards_stand_for_text_within_a_line_or_for_whole_lines() -> None:
    assert shows(["a … c"], "a b c\n")
    assert not shows(["a … c"], "a b\nc\n")
    assert shows(["first", "…", "last"], "first\nx\ny\nlast\n")
    assert shows(["first", "…", "last"], "first\nlast\n")
    assert not shows(["first", "last"], "first\nx\nlast\n")
    assert shows([], "")
