"""A writer killed with SIGKILL at any moment of a save never leaves a torn `latest()`.

Each round forks a child from the test process (cheap next to a new interpreter: the child
inherits the node already built) that opens the store and saves snapshots in a loop, reporting
every generation `save()` returned through a pipe. The parent kills it at a random moment, then
reopens the store as the next writer would after a crash, and checks: the newest snapshot is the
last one reported or the one after it (completed but not yet reported), holds exactly what was
saved for that generation, every listed file verifies, and no temporary file survives the reopen.
One directory serves every round, so generations keep growing as for a node that keeps
restarting; `keep_last` changes between rounds, so some kills land while retention prunes
several files.

`NODESNAP_CRASH_KILLS` sets the kill count of the slow test (default 200).
"""

from __future__ import annotations

import gc
import hashlib
import os
import random
import signal
import statistics
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from benchmarks.codec import _addresses, _peer_ids
from node_runtime.clock import ManualClock
from node_runtime.directory_store import QUARANTINE, DirectoryStore
from node_runtime.durable_io import TEMPORARY_PREFIX
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.peer_id import PeerId
from snapshot_schema import TransientSnapshot

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(b"\x07" * 32)
PEERS = 3_000  # ~0.5 MB snapshots: a save takes a few ms, a cycle (snapshot + save) ~15-20 ms
SEQ = "seq"
SEQ_STRIDE = 1_000_000  # seq numbers of one round never meet those of another
KEEP_LAST_CHOICES = (2, 3, 5)
RECORD = struct.Struct(">BQQ")  # kind, generation, seq; < PIPE_BUF bytes, so writes are atomic
SAVING = 0  # the child is about to call save() (generation not known yet)
SAVED = 1  # save() returned this generation
CHILD_FAILED = 3


def _sealed_name(name: str) -> bool:
    return len(name) == 26 and name.endswith(".nsnap") and name[:20].isdigit()


def _build_node() -> tuple[Node, list[PeerId]]:
    rng = random.Random(11)
    node = Node(IDENTITY, clock=ManualClock(1_000 * S, 1_764_000_000 * S), rng=random.Random(12))
    peers = [PeerId.from_bytes(raw) for raw in _peer_ids(rng, PEERS)]
    for peer in peers:
        for address in _addresses(rng):
            node.add_peer_address(peer, Multiaddr.from_bytes(address))
        node.record_dial_failure(peer)
    return node, peers


def _next_snapshot(node: Node, peers: list[PeerId]) -> tuple[TransientSnapshot, int]:
    """Change the node, so consecutive snapshots differ; its snapshot and seq number."""
    seq = node.counters.increment(SEQ)
    assert isinstance(node.clock, ManualClock)
    node.clock.advance(S)
    node.record_dial_failure(peers[seq % len(peers)])
    return node.snapshot(), seq


def _child(directory: Path, report_fd: int, node: Node, peers: list[PeerId], keep: int) -> NoReturn:
    # Never return into pytest: whatever happens, this process ends here.
    try:
        gc.disable()  # a collection pass would only dilute the time spent saving
        with DirectoryStore(directory, keep_last=keep) as store:
            while True:
                snapshot, seq = _next_snapshot(node, peers)
                os.write(report_fd, RECORD.pack(SAVING, 0, seq))
                generation = store.save(snapshot).generation
                os.write(report_fd, RECORD.pack(SAVED, generation, seq))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(CHILD_FAILED)


def _read_record(read_fd: int) -> tuple[int, int, int] | None:
    # Records are written whole and read whole, so a read never splits one.
    data = os.read(read_fd, RECORD.size)
    if not data:
        return None
    assert len(data) == RECORD.size
    kind, generation, seq = RECORD.unpack(data)
    return kind, generation, seq


@dataclass
class Observed:
    kills: int = 0
    aimed: int = 0
    """Kills timed from the child's announcing a save, rather than from the fork."""
    mid_write: int = 0
    """Kills that left a temporary file: the save was between creating it and the rename."""
    unpruned: int = 0
    """Kills after the new file's rename but before retention had removed the excess."""
    unreported: int = 0
    """Kills after a save completed but before the child reported it."""
    before_first_save: int = 0
    """Kills before the child completed (renamed) any file."""
    saves: int = 0


@dataclass(frozen=True)
class Timing:
    cycle_s: float
    """One snapshot and save."""
    save_s: float
    """One save (encode, seal, write, fsync, rename, retention)."""


def _calibrate(directory: Path, node: Node, peers: list[PeerId]) -> Timing:
    cycles = []
    saves = []
    with DirectoryStore(directory, keep_last=2) as store:
        for _ in range(5):
            started = time.perf_counter()
            snapshot, _ = _next_snapshot(node, peers)
            saving = time.perf_counter()
            store.save(snapshot)
            cycles.append(time.perf_counter() - started)
            saves.append(time.perf_counter() - saving)
    return Timing(statistics.median(cycles), statistics.median(saves))


def _kill_at_random(
    directory: Path,
    node: Node,
    peers: list[PeerId],
    keep: int,
    *,
    aim_at_save: int,
    delay_s: float,
) -> tuple[list[tuple[int, int]], set[str]]:
    """Fork a saving child and kill it `delay_s` after the fork or, if `aim_at_save`, after it
    announces that save (1 = its first). Returns its reported saves and the files it left."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(directory, write_fd, node, peers, keep)
    records: list[tuple[int, int, int]] = []
    try:
        os.close(write_fd)
        while aim_at_save and (record := _read_record(read_fd)) is not None:
            records.append(record)
            aim_at_save -= record[0] == SAVING
        time.sleep(delay_s)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.WIFSIGNALED(status), f"the child ended on its own (status {status:#x})"
        assert os.WTERMSIG(status) == signal.SIGKILL
        while (record := _read_record(read_fd)) is not None:
            records.append(record)
    finally:
        os.close(read_fd)
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    saved = [(generation, seq) for kind, generation, seq in records if kind == SAVED]
    return saved, {entry.name for entry in directory.iterdir()}


def _wait_for_other_threads_to_end(timeout_s: float = 20.0) -> None:
    """fork() with other threads running is unsafe. Earlier tests in the same run may leave
    idle worker threads behind (trio keeps its idle ones for 10 s): wait for them, bounded."""
    deadline = time.monotonic() + timeout_s
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == 1, (
        f"fork() with other threads running is unsafe: {threading.enumerate()}"
    )


def run_kills(directory: Path, kills: int, seed: int) -> Observed:
    _wait_for_other_threads_to_end()
    rng = random.Random(seed)
    node, peers = _build_node()
    timing = _calibrate(directory.parent / "calibration", node, peers)
    observed = Observed()
    expected_seq: dict[int, int] = {}  # generation -> seq, for every file that may be on disk
    digests: dict[int, bytes] = {}  # generation -> SHA-256 of a file already verified in full
    newest = 0  # the newest generation known complete (reported, or found as latest on disk)

    for _ in range(kills):
        base_seq = node.counters.increment(SEQ, SEQ_STRIDE)
        keep = rng.choice(KEEP_LAST_CHOICES)
        newest_before = newest
        # Half the kills fall anywhere in the child's life (opening the store, snapshots,
        # saves); the other half inside one save, where the interesting moments are.
        if rng.random() < 0.5:
            aim, delay = 0, rng.uniform(0.0, 0.003 + 3 * timing.cycle_s)
        else:
            aim, delay = rng.choice((1, 2)), rng.uniform(0.0, 1.3 * timing.save_s)
            observed.aimed += 1
        reports, left = _kill_at_random(
            directory, node, peers, keep, aim_at_save=aim, delay_s=delay
        )
        observed.kills += 1
        observed.saves += len(reports)
        for offset, (generation, seq) in enumerate(reports, start=1):
            assert generation > newest
            assert seq == base_seq + offset
            expected_seq[generation] = seq
            newest = generation

        sealed = sorted(name for name in left if _sealed_name(name))
        temporaries = [name for name in left if name.startswith(TEMPORARY_PREFIX)]
        assert set(left) <= {".lock", *sealed, *temporaries}, left
        highest_left = int(sealed[-1][:20]) if sealed else 0
        observed.mid_write += bool(temporaries)
        observed.before_first_save += highest_left <= newest_before
        observed.unpruned += highest_left > newest_before and len(sealed) > keep

        with DirectoryStore(directory, keep_last=keep) as store:
            remaining = {entry.name for entry in directory.iterdir()}
            assert remaining == {".lock", *sealed}, "reopening removes the temporaries, only"
            latest = store.latest()
            assert newest == 0 or latest is not None
            if latest is not None:
                generation = latest.ref.generation
                assert newest <= generation <= newest + 1
                if generation == newest + 1:
                    # Completed, killed before reporting it: the save after the last reported.
                    observed.unreported += 1
                    expected_seq[generation] = base_seq + len(reports) + 1
                    newest = generation
                assert dict(latest.snapshot.framework.counters)[SEQ] == expected_seq[generation]
            listed = store.list()
            assert [ref.generation for ref in listed] == [int(name[:20]) for name in sealed]
            for ref in listed:
                digest = hashlib.sha256(Path(ref.path).read_bytes()).digest()
                if ref.generation in digests:
                    # Verified in an earlier round: unchanged bytes verify again, and a later
                    # crash must not have touched them.
                    assert digest == digests[ref.generation]
                    continue
                counters = dict(store.load(ref).snapshot.framework.counters)
                assert counters[SEQ] == expected_seq[ref.generation]
                digests[ref.generation] = digest
            assert not (directory / QUARANTINE).exists(), "a torn file reached its final name"

    # The node comes back from the last snapshot, as a restarting node would.
    with DirectoryStore(directory) as store:
        latest = store.latest()
        assert latest is not None
        restored = Node.restore(latest.snapshot, IDENTITY)
        assert restored.counters.get(SEQ) == expected_seq[newest]
        assert len(restored.address_book) == PEERS
    return observed


def _report(observed: Observed, elapsed_s: float) -> None:
    print(
        f"\n{observed.kills} kills ({observed.aimed} aimed at a save) in {elapsed_s:.1f} s; "
        f"{observed.saves} saves reported; "
        f"{observed.mid_write} kills left a temporary file (mid-write), "
        f"{observed.unpruned} came between a rename and the end of pruning, "
        f"{observed.unreported} after a completed save not yet reported, "
        f"{observed.before_first_save} before the child's first save completed"
    )


@pytest.mark.slow
def test_sigkill_during_saves_never_tears_latest(tmp_path: Path) -> None:
    kills = int(os.environ.get("NODESNAP_CRASH_KILLS", "200"))
    started = time.perf_counter()
    observed = run_kills(tmp_path / "store", kills, seed=20_240_611)
    _report(observed, time.perf_counter() - started)
    assert observed.kills == kills
    # Kills are spread over whole save cycles: some must land inside the write itself.
    assert observed.mid_write > 0


def test_sigkill_during_saves_quick(tmp_path: Path) -> None:
    started = time.perf_counter()
    observed = run_kills(tmp_path / "store", 20, seed=7)
    _report(observed, time.perf_counter() - started)
    assert observed.kills == 20
