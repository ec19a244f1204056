"""No id is ever minted twice, whenever a node minting ids under autosave is SIGKILLed.

Each round forks a child that starts the way a node host does (the documented set-up: a signed
`DirectoryStore`, restore from `latest()` if there is one, a `Checkpointer` with its defaults,
`poll()` on every turn; every other round with a small `id_block`) and then mints command and
exec ids as fast as it can, writing every id to a pipe once `mint` has returned it. The parent
kills the child at a random moment, restores a node from the store as the next start would,
and checks that its next ids are above every id any earlier round printed. One store serves
every round, as for a node that keeps crashing.

`NODESNAP_MINT_KILLS` sets the kill count of the slow test (default 100).
"""

from __future__ import annotations

import os
import random
import signal
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import NoReturn

import pytest

from node_runtime import Checkpointer, DirectoryStore, Identity, Node
from node_runtime.checkpointer import DEFAULT_ID_BLOCK

IDENTITY = Identity.from_private_bytes(b"\x0b" * 32)
RECORD = struct.Struct(">QQ")  # command id, exec id; < PIPE_BUF bytes, so writes are atomic
CHILD_FAILED = 3
MAX_DELAY_S = 0.3
SMALL_BLOCK = 64
"""Every other round reserves ids 64 at a time (`id_block`), so a round renews its reservation
hundreds of times and kills land around renewals; the others use the default block."""


def _child(directory: Path, report_fd: int, id_block: int) -> NoReturn:
    # Never return into pytest: whatever happens, this process ends here.
    try:
        with DirectoryStore(directory, signer=IDENTITY) as store:
            latest = store.latest()
            node = Node.restore(latest.snapshot, IDENTITY) if latest else Node(IDENTITY)
            checkpointer = Checkpointer(node, store, id_block=id_block)
            while True:
                command, execution = node.command_ids.mint(), node.exec_ids.mint()
                os.write(report_fd, RECORD.pack(command, execution))
                checkpointer.poll()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(CHILD_FAILED)


def _collect(read_fd: int, into: list[tuple[int, int]]) -> None:
    buffer = b""
    while chunk := os.read(read_fd, 1 << 16):
        buffer += chunk
        whole = len(buffer) - len(buffer) % RECORD.size
        into.extend(RECORD.iter_unpack(buffer[:whole]))
        buffer = buffer[whole:]


def _one_round(directory: Path, delay: float, id_block: int) -> list[tuple[int, int]]:
    """Run a child for `delay` seconds, kill it; the ids it printed."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(directory, write_fd, id_block)
    os.close(write_fd)
    printed: list[tuple[int, int]] = []
    reader = threading.Thread(target=_collect, args=(read_fd, printed))
    reader.start()
    try:
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        reader.join()
    finally:
        os.close(read_fd)
    assert os.WIFSIGNALED(status), f"the child ended by itself (status {status})"
    return printed


def _kill_many_times(directory: Path, kills: int) -> None:
    rng = random.Random(kills)
    highest_command = highest_exec = -1
    minted = 0
    for kill in range(kills):
        block = DEFAULT_ID_BLOCK if kill % 2 else SMALL_BLOCK
        printed = _one_round(directory, rng.uniform(0, MAX_DELAY_S), block)
        if printed:
            assert printed[0][0] > highest_command, "a restarted node minted a command id again"
            assert printed[0][1] > highest_exec, "a restarted node minted an exec id again"
            highest_command = max(highest_command, printed[-1][0])
            highest_exec = max(highest_exec, printed[-1][1])
            minted += len(printed)
        with DirectoryStore(directory, signer=IDENTITY, read_only=True) as store:
            latest = store.latest()
            if latest is None:
                assert highest_command == -1, "ids were minted before any save was durable"
                continue
            restored = Node.restore(latest.snapshot, IDENTITY)
        assert restored.command_ids.mint() > highest_command
        assert restored.exec_ids.mint() > highest_exec
    assert minted > 0


def test_ids_are_never_minted_twice_across_sigkills(tmp_path: Path) -> None:
    _kill_many_times(tmp_path, kills=10)


@pytest.mark.slow
def test_ids_are_never_minted_twice_across_many_sigkills(tmp_path: Path) -> None:
    _kill_many_times(tmp_path, kills=int(os.environ.get("NODESNAP_MINT_KILLS", "100")))
