"""Replication's cost: a `Replicator` shipping a store directory, against the floor of putting
the same objects with plain `obstore.put` calls, side by side in one process.

The directory is a busy node's history: `benchmarks/delta.py`'s node autosaved by a
`Checkpointer` through 60 intervals of 1% churn (six full snapshots, nine deltas after each). Each
round ships it, in alternating order, to a fresh in-memory obstore store twice: once as the
floor (read each file or record, `put` it: what a script copying the directory would do) and
once by a `Replicator` per batch size (durable watermark writes, conditional creates, the plan
read from the directory). An in-memory target has no network latency, so the ratio is the
worst case: over a real network, uploads dominate and the watermark's fsyncs (two per batch)
weigh less.

    python -m benchmarks.replication [--sizes 10000] [--rounds 5] [--quick]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import obstore
from obstore.store import MemoryStore

from benchmarks.autosave import FakeTimer
from benchmarks.codec import SEED
from benchmarks.delta import Churn, build_delta_node
from benchmarks.harness import benchmark_parser, load_line, machine_line, parse_benchmark_args
from node_runtime import Checkpointer, DirectoryStore
from node_runtime.object_storage import Replicator
from node_runtime.replication_plan import plan
from node_runtime.replication_watermark import WATERMARK_NAME, Watermark

DEFAULT_SIZES = (10_000,)
QUICK_SIZES = (500,)
SAVES = 60
JOURNAL_DELTAS = 9  # a full snapshot every ten saves: six generations
BATCH_SIZES = (1, 16, 64)
FLOOR = "floor: obstore.put of each object"
PREFIX = "fleet/node"


def busy_history(peers: int, directory: Path) -> None:
    """`directory` after `SAVES` autosaves of a node with 1% churn between them."""
    node = build_delta_node(peers, SEED)
    churn, timer = Churn(node), FakeTimer()
    with DirectoryStore(directory, keep_last=None, journal_max_deltas=JOURNAL_DELTAS) as store:
        autosave = Checkpointer(node, store, timer=timer)
        try:
            for _ in range(SAVES):
                churn.make(churn.changes())
                timer.now += 30.0
                autosave.poll()
                autosave.flush(300.0)
        finally:
            autosave.close(300.0)


def floor_copy(directory: Path, target: MemoryStore) -> int:
    """Every object a replica holds, put one by one; the objects put."""
    items = plan(directory, Watermark("floor")).items
    for item in items:
        if item.sequence == 0:
            key = f"{PREFIX}/{item.path.name}"
        else:
            key = f"{PREFIX}/{item.path.name}/{item.sequence:020d}.delta"
        obstore.put(target, key, item.read())
    return len(items)


def replicate(directory: Path, target: MemoryStore, batch_size: int) -> int:
    (directory / WATERMARK_NAME).unlink(missing_ok=True)
    return Replicator(directory, target, PREFIX, batch_size=batch_size).run_once().sent


@dataclass(frozen=True)
class Row:
    peers: int
    contender: str
    objects: int
    megabytes: float
    median_ms: float
    ratio: float


def run(peers: int, rounds: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="nodesnap-replication-") as temporary:
        directory = Path(temporary) / "store"
        busy_history(peers, directory)
        megabytes = sum(p.stat().st_size for p in directory.glob("0*")) / 1e6
        contenders: list[tuple[str, Callable[[MemoryStore], int]]] = [
            (FLOOR, lambda target: floor_copy(directory, target)),
            *(
                (f"Replicator, batch_size={size}", _replicating(directory, size))
                for size in BATCH_SIZES
            ),
        ]
        times: dict[str, list[float]] = {name: [] for name, _ in contenders}
        objects: dict[str, int] = {}
        for round_index in range(rounds):
            shift = round_index % len(contenders)
            for name, ship in contenders[shift:] + contenders[:shift]:
                target = MemoryStore()
                start = time.perf_counter()
                objects[name] = ship(target)
                times[name].append(time.perf_counter() - start)
                held = sum(len(chunk) for chunk in obstore.list(target, PREFIX + "/"))
                if held != objects[name]:
                    raise AssertionError(f"{name}: {held} objects held, {objects[name]} shipped")
    floor = times[FLOOR]
    return [
        Row(
            peers,
            name,
            objects[name],
            megabytes,
            statistics.median(times[name]) * 1e3,
            statistics.median(mine / base for mine, base in zip(times[name], floor, strict=True)),
        )
        for name, _ in contenders
    ]


def _replicating(directory: Path, batch_size: int) -> Callable[[MemoryStore], int]:
    return lambda target: replicate(directory, target, batch_size)


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| N peers | contender | objects | MB | median ms | vs floor |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row.peers:,} | {row.contender} | {row.objects} | {row.megabytes:.1f} | "
        f"{row.median_ms:.1f} | {row.ratio:.2f} |"
        for row in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser(
        "python -m benchmarks.replication",
        __doc__.split("\n\n")[0] if __doc__ else "",
        sizes=DEFAULT_SIZES,
        quick_sizes=QUICK_SIZES,
        rounds=5,
        quick_rounds=1,
    )
    args = parse_benchmark_args(parser, argv)
    rows = [row for peers in args.sizes for row in run(peers, args.rounds)]
    print(table(rows))
    print()
    print(machine_line("obstore", "msgpack"))
    print(load_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
