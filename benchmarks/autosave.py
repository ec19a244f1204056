"""Autosave of a busy node: bytes written per hour and CPU per save, journal against full
snapshots.

Two identical nodes (`benchmarks/delta.py`'s, same seed) each get the same changes every 30 s
interval (1% of the peers, `delta.Churn`) and each has a `Checkpointer` over its own
`DirectoryStore` with the defaults (durable writes, ten generations kept, the journal's default
thresholds): one journaling (the default), one with `journal=False`. After each interval both
save, in alternating order; a save is timed from its `poll()` to its `flush()`, in CPU seconds
of the whole process (the node's thread and the writer's), and its bytes are what it added to
the store: a snapshot file, or the journal's growth. Per hour means 120 such saves; the first
save of each (a full snapshot at start-up, the same for both) is left out. Every few saves both
stores' newest state is loaded and compared with the node's snapshot.

    python -m benchmarks.autosave [--sizes 100000] [--saves 40] [--quick]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.codec import SEED
from benchmarks.delta import INTERVAL_NS, Churn, build_delta_node
from benchmarks.harness import load_line, machine_line, parse_sizes
from node_runtime import Checkpointer, DirectoryStore, Node, SnapshotRef

DEFAULT_SIZES = (100_000,)
QUICK_SIZES = (2_000,)
DEFAULT_SAVES = 40
QUICK_SAVES = 8
SAVES_PER_HOUR = 3_600 * 10**9 // INTERVAL_NS
CHECK_EVERY = 10
JOURNAL = "journal"
FULL = "full snapshots"
SIZE_TARGET = 0.03  # bytes written, journal / full
CPU_TARGET = 0.10  # CPU per save, journal / full
WAIT_S = 300.0


class FakeTimer:
    """The checkpointer's monotonic timer, moved one interval per save."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Contender:
    name: str
    node: Node
    churn: Churn
    store: DirectoryStore
    checkpointer: Checkpointer
    timer: FakeTimer
    cpu_ns: list[int] = field(default_factory=list)
    written: list[int] = field(default_factory=list)
    full_saves: int = 0
    last: SnapshotRef | None = None

    def save(self) -> None:
        self.timer.now += INTERVAL_NS / 1e9
        start = time.process_time_ns()
        if not self.checkpointer.poll():
            raise AssertionError(f"{self.name}: a changed node did not save")
        ref = self.checkpointer.flush(WAIT_S)
        cpu = time.process_time_ns() - start
        assert ref is not None
        last = self.last
        if last is not None and ref.generation == last.generation:
            written = ref.journal_bytes - last.journal_bytes
        else:
            written = ref.size
            self.full_saves += last is not None
        if last is not None:  # the start-up save is not part of the steady state
            self.cpu_ns.append(cpu)
            self.written.append(written)
        self.last = ref

    def check(self) -> None:
        latest = self.store.latest()
        if latest is None or latest.snapshot != self.node.snapshot():
            raise AssertionError(f"{self.name}: the store does not hold the node's state")


def contender(name: str, peers: int, directory: Path, *, journal: bool) -> Contender:
    node = build_delta_node(peers, SEED)
    store = DirectoryStore(directory / name.replace(" ", "-"))
    timer = FakeTimer()
    checkpointer = Checkpointer(node, store, timer=timer, journal=journal)
    return Contender(name, node, Churn(node), store, checkpointer, timer)


@dataclass(frozen=True)
class Row:
    peers: int
    name: str
    saves: int
    full_saves: int
    mb_per_hour: float
    cpu_ms_median: float
    cpu_ms_mean: float


def run(peers: int, saves: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="nodesnap-autosave-") as temporary:
        contenders = [
            contender(JOURNAL, peers, Path(temporary), journal=True),
            contender(FULL, peers, Path(temporary), journal=False),
        ]
        try:
            for each in contenders:
                each.save()  # the start-up snapshot
            for turn in range(saves):
                for each in contenders:
                    each.churn.make(each.churn.changes())
                for each in contenders[turn % 2 :] + contenders[: turn % 2]:
                    each.save()
                if (turn + 1) % CHECK_EVERY == 0 or turn + 1 == saves:
                    for each in contenders:
                        each.check()
        finally:
            for each in contenders:
                each.checkpointer.close(WAIT_S)
                each.store.close()
    return [
        Row(
            peers,
            each.name,
            len(each.written),
            each.full_saves,
            statistics.fmean(each.written) * SAVES_PER_HOUR / 1e6,
            statistics.median(each.cpu_ns) / 1e6,
            statistics.fmean(each.cpu_ns) / 1e6,
        )
        for each in contenders
    ]


def ratios(rows: Sequence[Row]) -> tuple[float, float]:
    """Journal / full: bytes per hour, and mean CPU per save."""
    journal = next(row for row in rows if row.name == JOURNAL)
    full = next(row for row in rows if row.name == FULL)
    return journal.mb_per_hour / full.mb_per_hour, journal.cpu_ms_mean / full.cpu_ms_mean


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| N peers | saves | mode | full snapshots among them | MB written per hour | "
        "CPU per save, median ms | CPU per save, mean ms |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.saves} | {row.name} | {row.full_saves} | "
        f"{row.mb_per_hour:,.1f} | {row.cpu_ms_median:,.1f} | {row.cpu_ms_mean:,.1f} |"
        for row in rows
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.autosave",
        description="Autosave of a node with 1% churn per interval: journal vs full snapshots.",
    )
    parser.add_argument("--sizes", type=parse_sizes, default=None)
    parser.add_argument("--saves", type=int, default=None, help=f"default {DEFAULT_SAVES}")
    parser.add_argument("--quick", action="store_true", help="a smoke run on a small node")
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    if args.saves is None:
        args.saves = QUICK_SAVES if args.quick else DEFAULT_SAVES
    if args.saves < 2:
        parser.error("--saves must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    rows = [row for peers in args.sizes for row in run(peers, args.saves)]
    print("# Autosave benchmark")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(f"Machine: {machine_line('msgpack')}; {load_line()} at the end of the run")
    print()
    print(
        f"{args.saves} saves after the start-up one, one per 30 s interval of 1% churn; per hour "
        f"= {SAVES_PER_HOUR} saves; seed {SEED}; total {time.perf_counter() - started:.0f} s."
    )
    print()
    print(table(rows))
    print()
    for peers in args.sizes:
        size, cpu = ratios([row for row in rows if row.peers == peers])
        print(
            f"{peers:,} peers: the journal writes {size:.2%} of the bytes "
            f"(the issue's bound for a delta: {SIZE_TARGET:.0%}) for {cpu:.2%} of the CPU per "
            f"save (for a delta's production and encoding: {CPU_TARGET:.0%})."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
