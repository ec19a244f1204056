"""Node benchmark: `Node.snapshot()` and `Node.restore()` on large nodes, next to bare msgpack.

The node (N peers) carries the same data as `benchmarks/codec.py`'s snapshot, built from a seeded
`random.Random` with that module's peer and address helpers. Each peer has an address book entry
(2 addresses, 1-3 references), a health entry and a backoff entry. The node also has N outbound
envelopes of 64 bytes, four counters, two fired phases and a blocklist of N/100 peers.

    .venv/bin/python -m benchmarks.node                      # N = 1k, 10k, 100k; 7 rounds
    .venv/bin/python -m benchmarks.node --quick              # N = 100, 1k; 2 rounds (smoke)
    .venv/bin/python -m benchmarks.node --sizes 1000,10000 --rounds 5

Each round times every operation once, in an order rotated by one per round:

* floor: `msgpack.packb` of `[1, encode_body(snapshot)]` as bare nested lists (as in
  `benchmarks/codec.py`; it writes exactly the bytes `encode` writes);
* unpack floor: `msgpack.unpackb` of those bytes (lists, no validation, no records);
* `node.snapshot()`, `encode(snapshot)`, and `encode(node.snapshot())` as one call;
* `decode(data)`, `Node.restore(snapshot, …)`, and `Node.restore(decode(data), …)` as one call.

The restore uses the node's own clock readings, so no deadline moves and the restored node
snapshots the same tables (checked before timing). Every result is assigned and `del`-ed inside
the timed region, so freeing it is timed too. Ratios are medians of per-round ratios to the
floor of the same round.
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

import msgpack

from benchmarks.codec import (
    DEFAULT_ROUNDS,
    ENVELOPE_SIZE,
    SEED,
    _addresses,
    _peer_ids,
    _require,
    as_lists,
)
from benchmarks.harness import (
    GC_MODES,
    benchmark_parser,
    gc_heading,
    load_line,
    machine_line,
    measure_per_gc_mode,
    parse_benchmark_args,
)
from node_runtime import (
    AddressBook,
    BackoffState,
    BackoffTable,
    IdAllocator,
    Identity,
    ManualClock,
    Node,
    PeerGovernor,
    PeerHealth,
)
from snapshot_schema import TransientSnapshot, decode, encode
from snapshot_schema.encoder import encode_body

DEFAULT_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (100, 1_000)  # a smoke test (the suite runs it), not a measurement
QUICK_ROUNDS = 2
TARGET_RATIO = 3.0  # snapshot() + encode() of a 100k-peer node within 3x the floor
IDENTITY = Identity.from_private_bytes(bytes(32))

# --- data --------------------------------------------------------------------------------------


ARRIVALS = ("sorted", "random")


def build_node(peer_count: int, seed: int = SEED, arrival: str = "sorted") -> Node:
    """A node that knows `peer_count` peers, reproducible from `seed`.

    `arrival` is the order the peers reach the components: "sorted" (by PeerId, as a node
    restored from a snapshot holds them) or "random" (as a live node meets them, which
    `snapshot()` must sort). The node's state is the same either way.
    """
    rng = random.Random(seed)
    own = IDENTITY.peer_id.to_bytes()
    peers = [peer for peer in _peer_ids(rng, peer_count + 1) if peer != own][:peer_count]
    now = 3_600 * 10**9 + rng.randrange(10**12)
    clock = ManualClock(monotonic_ns=now, wall_ns=1_700_000_000 * 10**9 + now)
    node = Node(IDENTITY, clock=clock, rng=random.Random(seed))
    book = []
    health = []
    backoff = []
    for peer in peers:
        addresses = _addresses(rng)  # permanent, as every address was before spec version 2
        book.append((peer, addresses, rng.randrange(1, 4), (None,) * len(addresses)))
        failures = rng.randrange(1, 5)  # a node keeps health only for peers that failed
        health.append((peer, PeerHealth(failures, now - rng.randrange(10**12), failures >= 3)))
        attempts = rng.randrange(1, 10)
        last_attempt = now - rng.randrange(10**11)
        delay = min(5 + attempts**2, 300) * 10**9
        backoff.append((peer, BackoffState(attempts, last_attempt, last_attempt + delay)))
    if arrival == "random":
        order = random.Random(seed + 1).sample(range(peer_count), peer_count)
        book = [book[index] for index in order]
        health = [health[index] for index in order]
        backoff = [backoff[index] for index in order]
    # The components' own restore entry points set exactly this state; a host would get there
    # through add_peer_address/record_dial_failure calls, one per event.
    node.address_book = AddressBook.from_state(book)
    node.governor = PeerGovernor.from_state(
        node.governor.failure_threshold, rng.sample(peers, peer_count // 100), None, health
    )
    node.backoff = BackoffTable.from_state(node.backoff.policy, node.rng, backoff)
    for _ in range(peer_count):
        node.outbound.enqueue(rng.randbytes(ENVELOPE_SIZE))
    for name, value in (
        ("dials", rng.randrange(10**6)),
        ("envelopes_received", rng.randrange(10**9)),
        ("envelopes_sent", rng.randrange(10**9)),
        ("restores", 3),
    ):
        node.counters.increment(name, value)
    node.lifecycle.fire("bootstrap")
    node.lifecycle.fire("ready")
    node.command_ids = IdAllocator(rng.randrange(10**6))
    node.exec_ids = IdAllocator(rng.randrange(10**6))
    return node


# --- operations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    run: Callable[[], object]


def _same_state(restored: TransientSnapshot, original: TransientSnapshot) -> bool:
    """Equal tables, except that every restored envelope is flagged `redelivered`."""
    again, saved = restored.framework, original.framework
    return (
        again.address_book == saved.address_book
        and again.peer_governor == saved.peer_governor
        and again.backoff_table == saved.backoff_table
        and again.counters == saved.counters
        and again.fired_phases == saved.fired_phases
        and (again.next_command_id, again.next_exec_id)
        == (saved.next_command_id, saved.next_exec_id)
        and [entry.envelope_bytes for entry in again.pending_outbound]
        == [entry.envelope_bytes for entry in saved.pending_outbound]
        and all(entry.redelivered for entry in again.pending_outbound)
    )


def operations(node: Node) -> list[Operation]:
    """Every timed operation on `node`, each checked before it is timed."""
    snapshot = node.snapshot()
    bare = as_lists([snapshot.spec_version, encode_body(snapshot)])
    data = encode(snapshot)
    _require(msgpack.packb(bare, use_bin_type=True) == data, "the floor writes encode()'s bytes")
    _require(decode(data) == snapshot, "decode(encode(s)) == s")
    clock = node.clock

    def restore(restored: TransientSnapshot) -> Node:
        # The node's own clock: no downtime, so every deadline maps to itself.
        return Node.restore(restored, IDENTITY, clock=clock, rng=random.Random(SEED))

    _require(_same_state(restore(snapshot).snapshot(), snapshot), "restore reproduces the node")

    return [
        Operation("floor", lambda: msgpack.packb(bare, use_bin_type=True)),
        Operation("snapshot", node.snapshot),
        Operation("encode", lambda: encode(snapshot)),
        Operation("snapshot+encode", lambda: encode(node.snapshot())),
        Operation("unpack floor", lambda: msgpack.unpackb(data)),
        Operation("decode", lambda: decode(data)),
        Operation("restore", lambda: restore(snapshot)),
        Operation("decode+restore", lambda: restore(decode(data))),
    ]


# --- timing ------------------------------------------------------------------------------------


def time_once(run: Callable[[], object]) -> int:
    gc.collect()
    start = time.perf_counter_ns()
    result = run()
    del result
    return time.perf_counter_ns() - start


def run_rounds(entries: Sequence[Operation], rounds: int) -> dict[str, list[int]]:
    """`rounds` interleaved rounds; round r starts at operation r (mod count)."""
    samples: dict[str, list[int]] = {entry.name: [] for entry in entries}
    for round_index in range(rounds):
        shift = round_index % len(entries)
        for entry in [*entries[shift:], *entries[:shift]]:
            samples[entry.name].append(time_once(entry.run))
    return samples


@dataclass(frozen=True)
class Row:
    peers: int
    ms: Mapping[str, float]  # median per operation
    save_ratio: float  # snapshot+encode / floor, median of per-round ratios
    snapshot_ratio: float  # snapshot alone / floor, likewise
    load_ratio: float  # decode+restore / unpack floor, likewise

    def us_per_peer(self, name: str) -> float:
        return self.ms[name] * 1e3 / self.peers


def _paired_ratio(samples: Mapping[str, list[int]], name: str, floor: str) -> float:
    return statistics.median(
        mine / base for mine, base in zip(samples[name], samples[floor], strict=True)
    )


def summarize(peers: int, samples: Mapping[str, list[int]]) -> Row:
    return Row(
        peers=peers,
        ms={name: statistics.median(times) / 1e6 for name, times in samples.items()},
        save_ratio=_paired_ratio(samples, "snapshot+encode", "floor"),
        snapshot_ratio=_paired_ratio(samples, "snapshot", "floor"),
        load_ratio=_paired_ratio(samples, "decode+restore", "unpack floor"),
    )


# --- report ------------------------------------------------------------------------------------


def save_table(rows: Sequence[Row]) -> str:
    lines = [
        "| N peers | snapshot() ms | encode ms | snapshot()+encode() ms | floor ms "
        "| snapshot() vs floor | snapshot()+encode() vs floor | snapshot() µs/peer "
        "| snapshot()+encode() µs/peer | floor µs/peer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.ms['snapshot']:.2f} | {row.ms['encode']:.2f} "
        f"| {row.ms['snapshot+encode']:.2f} | {row.ms['floor']:.2f} | {row.snapshot_ratio:.2f} "
        f"| {row.save_ratio:.2f} | {row.us_per_peer('snapshot'):.2f} "
        f"| {row.us_per_peer('snapshot+encode'):.2f} | {row.us_per_peer('floor'):.2f} |"
        for row in rows
    )
    return "\n".join(lines)


def load_table(rows: Sequence[Row]) -> str:
    lines = [
        "| N peers | decode ms | restore() ms | decode+restore() ms | unpack floor ms "
        "| decode+restore() vs unpack floor | restore() µs/peer | decode+restore() µs/peer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.ms['decode']:.2f} | {row.ms['restore']:.2f} "
        f"| {row.ms['decode+restore']:.2f} | {row.ms['unpack floor']:.2f} "
        f"| {row.load_ratio:.2f} | {row.us_per_peer('restore'):.2f} "
        f"| {row.us_per_peer('decode+restore'):.2f} |"
        for row in rows
    )
    return "\n".join(lines)


def verdict(rows: Mapping[str, Sequence[Row]]) -> str:
    """The snapshot()+encode() ratio at the largest size against the 3x target, per gc mode."""
    parts = []
    for mode, mode_rows in rows.items():
        row = max(mode_rows, key=lambda row: row.peers)
        met = "met" if row.save_ratio <= TARGET_RATIO else "missed"
        parts.append(f"gc {mode}: {row.save_ratio:.2f}x at N={row.peers:,} ({met})")
    return f"Target snapshot()+encode() ≤ {TARGET_RATIO:g}x the floor: " + "; ".join(parts) + "."


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = benchmark_parser(
        "python -m benchmarks.node",
        "Benchmark Node.snapshot() and Node.restore() against bare msgpack.",
        sizes=DEFAULT_SIZES,
        quick_sizes=QUICK_SIZES,
        rounds=DEFAULT_ROUNDS,
        quick_rounds=QUICK_ROUNDS,
    )
    parser.add_argument(
        "--arrival",
        choices=ARRIVALS,
        default="sorted",
        help="the order peers reach the node: by PeerId (as restored) or random (as met live)",
    )
    return parse_benchmark_args(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes: tuple[int, ...] = args.sizes
    rounds: int = args.rounds
    arrival: str = args.arrival
    thresholds = gc.get_threshold()
    started = time.perf_counter()
    rows = measure_per_gc_mode(
        sizes,
        rounds,
        lambda peers: operations(build_node(peers, arrival=arrival)),
        lambda peers, entries: [summarize(peers, run_rounds(entries, rounds))],
        "the node",
    )

    print("# Node snapshot and restore benchmark")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(f"Machine: {machine_line('msgpack')}; {load_line()} at the end of the run")
    print()
    print(
        f"Sizes {', '.join(f'{peers:,}' for peers in sizes)} peers, arriving in {arrival} "
        f"order; {rounds} interleaved rounds (operation order rotated each round); seed {SEED}; "
        f"total {time.perf_counter() - started:.0f} s."
    )
    print(
        "Times are medians over rounds; ratios are medians of per-round ratios to the floor "
        "(same round). Results are `del`-ed inside the timed region; the node is "
        "`gc.freeze()`-d and `gc.collect()` runs before each timed call, outside it."
    )
    print(
        "Note: `Node.snapshot()`, `Node.restore()` and `decode` pause the collector internally "
        "while they build their acyclic tables, so those run with gc off in both tables; "
        "`encode` and the floors do not."
    )
    for mode in GC_MODES:
        print()
        print(f"## {gc_heading(mode, thresholds)}")
        print()
        print(save_table(rows[mode]))
        print()
        print(load_table(rows[mode]))
    print()
    print(verdict(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
