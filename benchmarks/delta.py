"""Delta benchmark: what a node saves after 1% of its peers changed, as a delta or in full.

The node (N peers) is `benchmarks/node.py`'s (an address book entry with 2 addresses, a health
and a backoff entry per peer, N outbound envelopes of 64 bytes, a blocklist of N/100 peers),
with spec version 2's peer state as `benchmarks/codec.py`'s `peer-state` shape has it: half the
addresses expiring (1 to 25 hours ahead) and a peer record per peer (its public key, three
protocols, two metadata entries, a latency). Each round is one save interval (30 s, autosave's
default) in which 1% of the peers change, N/100 of them, in the ways a live node sees:

* an address's TTL refreshed (2 in 10), an address added with a TTL (1 in 10), an address set
  to expire before the next interval ends (1 in 10: it changes again then, by time alone);
* a dial failure (health, backoff, a counter) or a success (health and backoff dropped);
* a latency sample (2 in 10), the protocols identify reports (1 in 10);
* a peer forgotten and a new one met in its place (1 in 10);

and N/1000 envelopes are sent (popped) and as many queued.

    .venv/bin/python -m benchmarks.delta                     # N = 1k, 10k, 100k; 7 rounds
    .venv/bin/python -m benchmarks.delta --quick             # N = 2k, 10k; 3 rounds
    .venv/bin/python -m benchmarks.delta --sizes 100000 --rounds 5

Each round marks the node saved (`snapshot()`, `mark_saved()`), changes it (untimed), then
times, in an order rotated by one per round:

* `snapshot()+encode()`: a full save's CPU;
* `encode()`: encoding the node's snapshot alone (the baseline of the 10% target);
* `take_delta()+encode_delta()`: the delta from what the node recorded (once per round: it
  moves the mark);
* `diff()+encode_delta()`: the delta by comparing the saved snapshot with the new one (which a
  save by comparison must also take: `snapshot()` is not included here).

Every delta is checked: applied to the saved snapshot it gives the node's snapshot, byte for
byte. Ratios are medians of per-round ratios. A second table times the changes themselves on a
node that records them (marked saved, a delta taken every round) and on one that never saved:
the bookkeeping's cost on the hot paths.
"""

from __future__ import annotations

import argparse
import gc
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from benchmarks.codec import DEFAULT_ROUNDS, METADATA, PROTOCOLS, SEED, _require
from benchmarks.harness import (
    GC_MODES,
    benchmark_parser,
    gc_heading,
    load_line,
    machine_line,
    measure_per_gc_mode,
    parse_benchmark_args,
)
from benchmarks.node import build_node
from node_runtime import AddressBook, ManualClock, Multiaddr, Node, PeerId, PeerRecordBook
from snapshot_schema import (
    SnapshotDelta,
    VersionedSnapshot,
    apply,
    diff,
    encode,
    encode_delta,
    root_ref_of_encoded,
)

DEFAULT_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (2_000, 10_000)
QUICK_ROUNDS = 3
CHURN = 100  # one peer in CHURN changes per interval
SENT_PER_PEERS = 1_000  # envelopes sent (and as many queued) per interval: N / SENT_PER_PEERS
INTERVAL_NS = 30 * 10**9
HOUR_NS = 3_600 * 10**9
SIZE_TARGET = 0.03  # delta bytes / full snapshot bytes
TIME_TARGET = 0.10  # (take_delta + encode_delta) / encode
FULL_SAVE = "snapshot()+encode()"
ENCODE = "encode()"
TAKE = "take_delta()+encode_delta()"
DIFF = "diff()+encode_delta()"
OPERATIONS = (FULL_SAVE, ENCODE, TAKE, DIFF)
TRACKED, UNTRACKED = "changes, recorded", "changes, not recorded"
BATCH = 10  # intervals' changes per timed sample of the bookkeeping table

# --- data --------------------------------------------------------------------------------------


def build_delta_node(peer_count: int, seed: int = SEED) -> Node:
    """`benchmarks/node.py`'s node with the `peer-state` shape's expiring addresses and peer
    records, reproducible from `seed`."""
    node = build_node(peer_count, seed)
    rng = random.Random(seed + 2)
    now = node.clock.monotonic_ns()
    book = [
        (
            peer,
            addresses,
            ref_count,
            tuple(
                None if rng.random() < 0.5 else now + rng.randrange(1, 25) * HOUR_NS
                for _ in addresses
            ),
        )
        for peer, addresses, ref_count, _ in node.address_book.entries()
    ]
    node.address_book = AddressBook.from_state(book)
    metadata = tuple(sorted(METADATA.items()))
    node.peer_records = PeerRecordBook.from_state(
        (peer, peer[2:], PROTOCOLS, metadata, rng.randrange(10**5, 10**9), None)
        for peer, *_ in book
    )
    return node


def _new_peer(rng: random.Random) -> PeerId:
    return PeerId.from_bytes(b"\x00\x24\x08\x01\x12\x20" + rng.randbytes(32))


def _address(rng: random.Random) -> Multiaddr:
    ip = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
    return Multiaddr.from_string(f"/ip4/{ip}/tcp/{rng.randrange(1024, 65536)}")


class Churn:
    """One interval's changes to a node, the same on every node built from the same seed."""

    def __init__(self, node: Node, seed: int = SEED) -> None:
        self.node = node
        self.rng = random.Random(seed)
        self.peers = [entry[0] for entry in node.address_book.entries()]

    def changes(self) -> list[Callable[[], object]]:
        """The next interval's changes, as calls to make (drawn now, so making them costs only
        the calls)."""
        node, rng, peers = self.node, self.rng, self.peers
        calls: list[Callable[[], object]] = []
        for slot, index in enumerate(rng.sample(range(len(peers)), len(peers) // CHURN)):
            peer = PeerId.from_bytes(peers[index])
            known = node.address_book.addresses(peer.to_bytes())
            address = known[0] if known else _address(rng)
            kind = slot % 10
            if kind in (0, 1):  # its TTL refreshed
                calls.append(partial(node.set_peer_address_ttl, peer, address, HOUR_NS))
            elif kind == 2:
                calls.append(partial(node.add_peer_address, peer, _address(rng), HOUR_NS))
            elif kind == 3:  # expires during the next interval
                calls.append(
                    partial(node.set_peer_address_ttl, peer, address, INTERVAL_NS * 3 // 2)
                )
            elif kind == 4:
                calls.append(partial(node.record_dial_failure, peer))
            elif kind == 5:
                calls.append(partial(node.record_dial_success, peer))
            elif kind in (6, 7):
                calls.append(partial(node.record_latency, peer, rng.randrange(10**5, 10**9)))
            elif kind == 8:
                protocols = PROTOCOLS[rng.randrange(len(PROTOCOLS)) :]
                calls.append(partial(node.set_peer_protocols, peer, protocols))
            else:
                newcomer = _new_peer(rng)
                peers[index] = newcomer.to_bytes()
                calls.append(partial(self._replace, peer, newcomer, _address(rng)))
        for _ in range(len(peers) // SENT_PER_PEERS):
            calls.append(node.outbound.pop)
            calls.append(partial(node.outbound.enqueue, rng.randbytes(64)))
        return calls

    def _replace(self, gone: PeerId, newcomer: PeerId, address: Multiaddr) -> None:
        self.node.forget_peer(gone)
        self.node.add_peer_address(newcomer, address, HOUR_NS)
        self.node.set_peer_protocols(newcomer, PROTOCOLS)

    def make(self, calls: Sequence[Callable[[], object]]) -> None:
        for call in calls:
            call()
        assert isinstance(self.node.clock, ManualClock)
        self.node.clock.advance(INTERVAL_NS)


# --- timing ------------------------------------------------------------------------------------


def _timed(run: Callable[[], object]) -> int:
    gc.collect()
    start = time.perf_counter_ns()
    result = run()
    del result
    return time.perf_counter_ns() - start


@dataclass(frozen=True)
class Round:
    ns: Mapping[str, int]
    full_bytes: int
    delta_bytes: int
    diff_bytes: int


def run_round(churn: Churn, shift: int) -> Round:
    """Mark the node saved, change it, time the four operations (rotated by `shift`)."""
    node = churn.node
    base = node.snapshot()
    node.mark_saved()
    saved = VersionedSnapshot(root_ref_of_encoded(encode(base)), base)
    churn.make(churn.changes())
    target = node.snapshot()
    taken: list[SnapshotDelta] = []
    written: dict[str, bytes] = {}

    def take() -> None:
        taken.append(node.take_delta(saved.ref))
        written[TAKE] = encode_delta(taken[0])

    def compare() -> None:
        written[DIFF] = encode_delta(diff(saved, target))

    runs: dict[str, Callable[[], object]] = {
        FULL_SAVE: lambda: encode(node.snapshot()),
        ENCODE: lambda: encode(target),
        TAKE: take,
        DIFF: compare,
    }
    ns = {name: _timed(runs[name]) for name in [*OPERATIONS[shift:], *OPERATIONS[:shift]]}
    applied = apply(saved, taken[0]).snapshot
    _require(applied == target, "the delta gives the node's snapshot")
    _require(encode(applied) == encode(target), "the delta gives the node's snapshot's bytes")
    return Round(ns, len(encode(target)), len(written[TAKE]), len(written[DIFF]))


@dataclass(frozen=True)
class Row:
    peers: int
    ms: Mapping[str, float]  # median per operation
    size_ratio: float  # delta bytes / full snapshot bytes
    full_kib: float
    delta_kib: float
    diff_kib: float
    take_vs_encode: float  # median of per-round ratios
    take_vs_full_save: float
    diff_vs_encode: float


def _median_ratio(rounds: Sequence[Round], mine: str, base: str) -> float:
    return statistics.median(r.ns[mine] / r.ns[base] for r in rounds)


def summarize(peers: int, rounds: Sequence[Round]) -> Row:
    return Row(
        peers=peers,
        ms={name: statistics.median(r.ns[name] for r in rounds) / 1e6 for name in OPERATIONS},
        size_ratio=statistics.median(r.delta_bytes / r.full_bytes for r in rounds),
        full_kib=statistics.median(r.full_bytes for r in rounds) / 1024,
        delta_kib=statistics.median(r.delta_bytes for r in rounds) / 1024,
        diff_kib=statistics.median(r.diff_bytes for r in rounds) / 1024,
        take_vs_encode=_median_ratio(rounds, TAKE, ENCODE),
        take_vs_full_save=_median_ratio(rounds, TAKE, FULL_SAVE),
        diff_vs_encode=_median_ratio(rounds, DIFF, ENCODE),
    )


@dataclass(frozen=True)
class BookkeepingRow:
    peers: int
    snapshot_ms: float  # the full save's snapshot() before the first mark
    first_mark_ms: float  # the first mark_saved(): every expiring address armed
    tracked_ms: float
    untracked_ms: float
    ratio: float  # median of per-round ratios
    calls: int


def measure_bookkeeping(peers: int, rounds: int) -> BookkeepingRow:
    """The first `mark_saved()`, next to the `snapshot()` it follows; then the same changes
    (`BATCH` intervals' worth per sample) made to a node that records them and to one that
    never saved."""
    tracked, untracked = build_delta_node(peers), build_delta_node(peers)
    snapshot_ns = _timed(tracked.snapshot)
    first_mark_ns = _timed(tracked.mark_saved)
    churns = {TRACKED: Churn(tracked, SEED), UNTRACKED: Churn(untracked, SEED)}
    samples: dict[str, list[int]] = {TRACKED: [], UNTRACKED: []}
    calls = 0
    ref = root_ref_of_encoded(b"")  # the saved state's name: the node takes it as given
    for round_index in range(rounds):
        order = (TRACKED, UNTRACKED) if round_index % 2 == 0 else (UNTRACKED, TRACKED)
        for name in order:
            batch = [call for _ in range(BATCH) for call in churns[name].changes()]
            calls = len(batch)
            samples[name].append(_timed(partial(churns[name].make, batch)))
        ref = tracked.take_delta(ref).target  # a save: the recorded keys start afresh
    return BookkeepingRow(
        peers=peers,
        snapshot_ms=snapshot_ns / 1e6,
        first_mark_ms=first_mark_ns / 1e6,
        tracked_ms=statistics.median(samples[TRACKED]) / 1e6,
        untracked_ms=statistics.median(samples[UNTRACKED]) / 1e6,
        ratio=statistics.median(
            mine / base for mine, base in zip(samples[TRACKED], samples[UNTRACKED], strict=True)
        ),
        calls=calls,
    )


# --- report ------------------------------------------------------------------------------------


def size_table(rows: Sequence[Row]) -> str:
    lines = [
        "| N peers | full snapshot KiB | delta KiB | delta / full | diff() delta KiB |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.full_kib:,.1f} | {row.delta_kib:,.1f} "
        f"| {row.size_ratio:.2%} | {row.diff_kib:,.1f} |"
        for row in rows
    )
    return "\n".join(lines)


def time_table(rows: Sequence[Row]) -> str:
    lines = [
        f"| N peers | {FULL_SAVE} ms | {ENCODE} ms | {TAKE} ms | {DIFF} ms "
        f"| {TAKE} vs {ENCODE} | {TAKE} vs {FULL_SAVE} | {DIFF} vs {ENCODE} |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.ms[FULL_SAVE]:.2f} | {row.ms[ENCODE]:.2f} "
        f"| {row.ms[TAKE]:.2f} | {row.ms[DIFF]:.2f} | {row.take_vs_encode:.1%} "
        f"| {row.take_vs_full_save:.1%} | {row.diff_vs_encode:.1%} |"
        for row in rows
    )
    return "\n".join(lines)


def bookkeeping_table(rows: Sequence[BookkeepingRow]) -> str:
    lines = [
        "| N peers | snapshot() ms | first mark_saved() ms | calls per sample "
        f"| {TRACKED} ms | {UNTRACKED} ms | recorded vs not |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.snapshot_ms:.2f} | {row.first_mark_ms:.2f} | {row.calls:,} "
        f"| {row.tracked_ms:.2f} | {row.untracked_ms:.2f} | {row.ratio:.2f} |"
        for row in rows
    )
    return "\n".join(lines)


def verdict(rows: Mapping[str, Sequence[Row]]) -> str:
    """The largest size's ratios against the targets, per gc mode."""
    parts = []
    for mode, mode_rows in rows.items():
        row = max(mode_rows, key=lambda row: row.peers)
        met = row.size_ratio <= SIZE_TARGET and row.take_vs_encode <= TIME_TARGET
        parts.append(
            f"gc {mode}: {row.size_ratio:.2%} of the bytes and {row.take_vs_encode:.1%} of "
            f"encode()'s time at N={row.peers:,} ({'met' if met else 'missed'})"
        )
    return (
        f"Targets: a delta ≤ {SIZE_TARGET:.0%} of the full snapshot's bytes, take_delta() + "
        f"encode_delta() ≤ {TIME_TARGET:.0%} of encode(): " + "; ".join(parts) + "."
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = benchmark_parser(
        "python -m benchmarks.delta",
        "Benchmark a node's delta after 1% churn against its full snapshot.",
        sizes=DEFAULT_SIZES,
        quick_sizes=QUICK_SIZES,
        rounds=DEFAULT_ROUNDS,
        quick_rounds=QUICK_ROUNDS,
    )
    return parse_benchmark_args(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes: tuple[int, ...] = args.sizes
    rounds: int = args.rounds
    thresholds = gc.get_threshold()
    started = time.perf_counter()
    rows = measure_per_gc_mode(
        sizes,
        rounds,
        lambda peers: Churn(build_delta_node(peers)),
        lambda peers, churn: [
            summarize(peers, [run_round(churn, r % len(OPERATIONS)) for r in range(rounds)])
        ],
        "the node",
    )
    bookkeeping = [measure_bookkeeping(peers, rounds) for peers in sizes]

    print("# Delta benchmark")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(f"Machine: {machine_line('msgpack')}; {load_line()} at the end of the run")
    print()
    print(
        f"Sizes {', '.join(f'{peers:,}' for peers in sizes)} peers; 1 in {CHURN} peers changed "
        f"and N/{SENT_PER_PEERS} envelopes sent and queued per {INTERVAL_NS // 10**9} s "
        f"interval; {rounds} rounds (operation order rotated each round); seed {SEED}; total "
        f"{time.perf_counter() - started:.0f} s."
    )
    print(
        "Times are medians over rounds; ratios are medians of per-round ratios. The node is "
        "`gc.freeze()`-d and `gc.collect()` runs before each timed call, outside it."
    )
    for mode in GC_MODES:
        print()
        print(f"## {gc_heading(mode, thresholds)}")
        print()
        print(size_table(rows[mode]))
        print()
        print(time_table(rows[mode]))
    print()
    print("## Bookkeeping: the first mark, and the hot paths (gc enabled)")
    print()
    print(bookkeeping_table(bookkeeping))
    print()
    print(verdict(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
