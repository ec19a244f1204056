"""Id minting under autosave: what reserving ids ahead costs, and that minting never waits.

Under a `Checkpointer` a node mints only ids a durable save has reserved (`id_allocator.py`).
This benchmark measures, for nodes of N peers (built as in `benchmarks/node.py`) autosaving into
a signed `DirectoryStore` with the default settings (fsync on):

* full speed: after the first save (a host's start), a loop turn mints 100 command ids and
  calls `poll()`, as a threaded host's loop does; next to it, the floor, an allocator with no
  autosave minting the same ids in the same turns (no poll). Rounds alternate the two; the
  ratio is the median of per-round ratios.
* paced: after the first save (a host's start), `--rate` ids a second (default 10,000) for
  `--seconds`, one turn a millisecond (mint what the rate allows, then `poll()`). Reported: the
  ids minted, how many mints had to wait for a save (any means durability fell behind), the
  saves made (the final one included), and the longest time a turn spent minting, next to the
  longest turn of the floor paced the same way. The longest `poll()` is shown too: it is the
  `Node.snapshot()` a renewal or a periodic save takes on the node's thread, as any autosave.

    .venv/bin/python -m benchmarks.ids                      # N = 1k, 100k; 5 rounds; 5 s paced
    .venv/bin/python -m benchmarks.ids --quick              # N = 100; 2 rounds; 1 s (smoke)
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import benchmark_parser, machine_line, parse_benchmark_args, progress
from benchmarks.node import IDENTITY, build_node
from node_runtime import Checkpointer, DirectoryStore, IdAllocator, Node

DEFAULT_SIZES = (1_000, 100_000)
QUICK_SIZES = (100,)
DEFAULT_ROUNDS = 5
QUICK_ROUNDS = 2
BATCH = 100
FULL_SPEED_IDS = 1_000_000
QUICK_FULL_SPEED_IDS = 20_000
TURN_S = 0.001
TARGET_RATE = 10_000


@dataclass(frozen=True)
class FullSpeed:
    peers: int
    floor_ids_per_s: float
    autosave_ids_per_s: float
    ratio: float
    mint_waits: int
    saves: int


@dataclass(frozen=True)
class Paced:
    peers: int
    minted: int
    seconds: float
    mint_waits: int
    saves: int
    longest_mint_ms: float
    floor_longest_mint_ms: float
    longest_poll_ms: float


def _autosaved(node: Node, directory: Path) -> tuple[DirectoryStore, Checkpointer]:
    store = DirectoryStore(directory, signer=IDENTITY)
    return store, Checkpointer(node, store)


def _full_speed_round(node: Node, directory: Path, ids: int) -> tuple[float, float, int, int]:
    floor = IdAllocator(node.command_ids.next_id)
    mint_floor = floor.mint
    started = time.perf_counter()
    for _ in range(ids // BATCH):
        for _ in range(BATCH):
            mint_floor()
    floor_s = time.perf_counter() - started

    store, checkpointer = _autosaved(node, directory)
    try:
        checkpointer.poll()  # a host's start: the first save, before the node mints
        checkpointer.flush()
        mint, poll = node.command_ids.mint, checkpointer.poll
        started = time.perf_counter()
        for _ in range(ids // BATCH):
            for _ in range(BATCH):
                mint()
            poll()
        autosave_s = time.perf_counter() - started
        checkpointer.close()
        return floor_s, autosave_s, checkpointer.mint_waits, checkpointer.saves
    finally:
        store.close()


def full_speed(peers: int, rounds: int, ids: int, directory: Path) -> FullSpeed:
    node = build_node(peers)
    results = [_full_speed_round(node, directory / f"full-{peers}-{r}", ids) for r in range(rounds)]
    floor_s = statistics.median(r[0] for r in results)
    autosave_s = statistics.median(r[1] for r in results)
    return FullSpeed(
        peers,
        ids / floor_s,
        ids / autosave_s,
        statistics.median(r[1] / r[0] for r in results),
        max(r[2] for r in results),
        max(r[3] for r in results),
    )


def _paced_loop(
    mint: Callable[[], int], poll: Callable[[], bool], rate: int, seconds: float
) -> tuple[int, float, float]:
    """Mint `rate` ids a second for `seconds`; the count, the longest mint and poll (s)."""
    minted = 0
    longest_mint = longest_poll = 0.0
    start = time.perf_counter()
    next_turn = start
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) * rate) - minted
        for _ in range(due):
            mint()
        minted_at = time.perf_counter()
        poll()
        polled_at = time.perf_counter()
        minted += due
        longest_mint = max(longest_mint, minted_at - now)
        longest_poll = max(longest_poll, polled_at - minted_at)
        next_turn += TURN_S
        time.sleep(max(0.0, next_turn - time.perf_counter()))
    return minted, longest_mint, longest_poll


def paced(peers: int, rate: int, seconds: float, directory: Path) -> Paced:
    node = build_node(peers)
    floor = IdAllocator()
    _, floor_longest, _ = _paced_loop(floor.mint, lambda: False, rate, seconds)
    store, checkpointer = _autosaved(node, directory / f"paced-{peers}")
    try:
        checkpointer.poll()  # a host's start: the first save, before the node mints
        checkpointer.flush()
        saves = checkpointer.saves
        minted, longest_mint, longest_poll = _paced_loop(
            node.command_ids.mint, checkpointer.poll, rate, seconds
        )
        checkpointer.close()
    finally:
        store.close()
    return Paced(
        peers,
        minted,
        seconds,
        checkpointer.mint_waits,
        checkpointer.saves - saves,
        longest_mint * 1e3,
        floor_longest * 1e3,
        longest_poll * 1e3,
    )


def full_speed_table(rows: Sequence[FullSpeed]) -> str:
    lines = [
        "| N peers | floor ids/s | autosave ids/s | vs floor | mints that waited | saves |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.peers:,} | {r.floor_ids_per_s:,.0f} | {r.autosave_ids_per_s:,.0f} "
        f"| {r.ratio:.2f}x | {r.mint_waits} | {r.saves} |"
        for r in rows
    ]
    return "\n".join(lines)


def paced_table(rows: Sequence[Paced]) -> str:
    lines = [
        "| N peers | ids minted | ids/s | mints that waited | saves "
        "| longest mint turn ms | floor's longest ms | longest poll ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.peers:,} | {r.minted:,} | {r.minted / r.seconds:,.0f} | {r.mint_waits} "
        f"| {r.saves} | {r.longest_mint_ms:.2f} | {r.floor_longest_mint_ms:.2f} "
        f"| {r.longest_poll_ms:.1f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser(
        "python -m benchmarks.ids",
        "Id minting under autosave against an allocator with no autosave.",
        sizes=DEFAULT_SIZES,
        quick_sizes=QUICK_SIZES,
        rounds=DEFAULT_ROUNDS,
        quick_rounds=QUICK_ROUNDS,
    )
    parser.add_argument("--rate", type=int, default=TARGET_RATE, help="paced ids a second")
    parser.add_argument("--seconds", type=float, default=None, help="paced run length")
    parser.add_argument("--dir", type=Path, default=None, help="where the stores go")
    args = parse_benchmark_args(parser, argv)
    seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 5.0)
    ids = QUICK_FULL_SPEED_IDS if args.quick else FULL_SPEED_IDS
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        directory = Path(scratch)
        fast, steady = [], []
        for peers in args.sizes:
            progress(f"N={peers:,}: {args.rounds} full-speed rounds")
            fast.append(full_speed(peers, args.rounds, ids, directory))
            progress(f"N={peers:,}: {seconds} s at {args.rate:,} ids/s")
            steady.append(paced(peers, args.rate, seconds, directory))
    print_report(args, fast, steady)
    return 0


def print_report(args: argparse.Namespace, fast: list[FullSpeed], steady: list[Paced]) -> None:
    print("# Id minting under autosave")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(f"Machine: {machine_line('msgpack', 'cryptography')}")
    print()
    print(f"## Full speed ({BATCH} ids a turn, then `poll()`; {args.rounds} rounds)")
    print()
    print(full_speed_table(fast))
    print()
    print(f"## Paced at {args.rate:,} ids/s, one turn a millisecond")
    print()
    print(paced_table(steady))


if __name__ == "__main__":
    raise SystemExit(main())
