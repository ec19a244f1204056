"""What detecting py-libp2p host changes costs: `HostChangeTracker` and the trio autosave's idle
turn.

py-libp2p's peerstore does not notify, so the tracker replaces the mutating methods of the
host's objects with wrappers that call the original and count (`change_tracker.py`). Measured,
with the collector off while timing, on hosts whose peerstore holds N peers (each with an
address, a public key, protocols and metadata):

* per call: a tracked host's mutators next to the same calls on an untracked host built the
  same way, side by side (rounds alternate which goes first); a read (`addrs`) as the control,
  which the tracker does not touch. Reported: ns per call of each, the paired difference, and
  the median of per-round ratios.
* idle turn: what the autosave does on each wake when nothing changed (`TrioAutosave.step()`:
  the tracker's urgent flag, the node's and the tracker's revisions) next to an idle
  `Checkpointer.poll()` with no host; and, under trio, the CPU time of one wake of the `run`
  task (sleep, wake, step) with a 1 ms interval, so it wakes as often as it can. No save may
  happen while idle (checked).

    .venv/bin/python -m benchmarks.libp2p_tracking              # N = 1k; 7 rounds
    .venv/bin/python -m benchmarks.libp2p_tracking --quick      # N = 100; 2 rounds (smoke)
"""

from __future__ import annotations

import gc
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import trio
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStore
from multiaddr import Multiaddr

from benchmarks.harness import (
    benchmark_parser,
    load_line,
    machine_line,
    parse_benchmark_args,
    progress,
)
from node_runtime import Checkpointer, Identity, Node
from node_runtime.libp2p_adapter import HostChangeTracker, TrioAutosave
from node_runtime.libp2p_adapter.host_access import negative_peer_cache, swarm_of
from node_runtime.testing import MemoryStore

DEFAULT_SIZES = (1_000,)
QUICK_SIZES = (100,)
DEFAULT_ROUNDS = 7
QUICK_ROUNDS = 2
CALLS = 20_000
QUICK_CALLS = 2_000
IDLE_WAKES = 2_000
QUICK_IDLE_WAKES = 200
HOST_SEED = b"\x42" * 32
IDENTITY = Identity.from_private_bytes(HOST_SEED)
ADDRESS = Multiaddr("/ip4/10.0.0.1/tcp/4001")


def _add_addrs(host: IHost, peers: Sequence[ID], _texts: Sequence[str]) -> None:
    add_addrs, addresses = host.get_peerstore().add_addrs, [ADDRESS]
    for peer in peers:
        add_addrs(peer, addresses, 7_200)


def _put(host: IHost, peers: Sequence[ID], _texts: Sequence[str]) -> None:
    put = host.get_peerstore().put
    for peer in peers:
        put(peer, "agent", "x/1")


def _record_latency(host: IHost, peers: Sequence[ID], _texts: Sequence[str]) -> None:
    record_latency = host.get_peerstore().record_latency
    for peer in peers:
        record_latency(peer, 0.01)


def _mark_failed(host: IHost, _peers: Sequence[ID], texts: Sequence[str]) -> None:
    mark_failed = negative_peer_cache(swarm_of(host)).mark_failed
    for text in texts:
        mark_failed(text)


def _addrs(host: IHost, peers: Sequence[ID], _texts: Sequence[str]) -> None:
    addrs = host.get_peerstore().addrs
    for peer in peers:
        addrs(peer)


Operation = Callable[[IHost, Sequence[ID], Sequence[str]], None]
"""Makes one call per peer given (the method looked up once, as a caller's loop would)."""
OPERATIONS: dict[str, Operation] = {
    "add_addrs (identify, connect)": _add_addrs,
    "put (metadata)": _put,
    "record_latency": _record_latency,
    "mark_failed (dial backoff)": _mark_failed,
    "addrs (a read: control)": _addrs,
}


@dataclass(frozen=True)
class CallCost:
    peers: int
    operation: str
    untracked_ns: float
    tracked_ns: float
    difference_ns: float
    ratio: float


@dataclass(frozen=True)
class IdleCost:
    peers: int
    poll_ns: float
    step_ns: float
    ratio: float
    wake_us: float
    saves_while_idle: int


def build_host(peers: Sequence[ID]) -> IHost:
    host = new_host(key_pair=create_new_key_pair(HOST_SEED))
    store = host.get_peerstore()
    assert isinstance(store, PeerStore)
    store.max_peers = len(peers) + 1
    key = create_new_key_pair(b"\x07" * 32).public_key
    for index, peer in enumerate(peers):
        store.add_addrs(peer, [Multiaddr(f"/ip4/10.{index >> 8 & 255}.{index & 255}.1/tcp/1")], 0)
        store.add_protocols(peer, ["/ipfs/id/1.0.0"])
        store.put(peer, "agent", "x/1")
    store.add_pubkey(ID.from_pubkey(key), key)
    return host


def peer_ids(count: int) -> list[ID]:
    return [ID(b"\x00\x24\x08\x01\x12\x20" + index.to_bytes(32, "big")) for index in range(count)]


def _time_calls(operation: Operation, host: IHost, peers: Sequence[ID], calls: int) -> float:
    """ns per call of `operation`, cycling through `peers`."""
    targets = [peers[index % len(peers)] for index in range(calls)]
    texts = [str(peer) for peer in targets]
    started = time.perf_counter_ns()
    operation(host, targets, texts)
    return (time.perf_counter_ns() - started) / calls


def call_costs(peer_count: int, rounds: int, calls: int) -> list[CallCost]:
    peers = peer_ids(peer_count)
    plain, tracked = build_host(peers), build_host(peers)
    tracker = HostChangeTracker(tracked)
    rows = []
    try:
        for name, operation in OPERATIONS.items():
            before = tracker.revision
            per_round: list[tuple[float, float]] = []
            for round_number in range(rounds):
                order = [plain, tracked] if round_number % 2 == 0 else [tracked, plain]
                timed = {id(host): _time_calls(operation, host, peers, calls) for host in order}
                per_round.append((timed[id(plain)], timed[id(tracked)]))
            _require_counted(name, tracker.revision - before, rounds * calls)
            untracked_ns = statistics.median(p for p, _ in per_round)
            tracked_ns = statistics.median(t for _, t in per_round)
            rows.append(
                CallCost(
                    peer_count,
                    name,
                    untracked_ns,
                    tracked_ns,
                    statistics.median(t - p for p, t in per_round),
                    statistics.median(t / p for p, t in per_round),
                )
            )
    finally:
        tracker.close()
    return rows


def _require_counted(name: str, counted: int, calls: int) -> None:
    expected = 0 if "read" in name else calls
    if counted < expected or (expected == 0 and counted):
        raise AssertionError(f"{name}: the tracker counted {counted} of {calls} calls")


class CountingCapture:
    """Stands in for `capture_host`: an idle host must be captured only by the first save."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, host: IHost, node: Node, *, pubsub: object = None) -> None:
        self.calls += 1


def idle_costs(peer_count: int, rounds: int, calls: int, wakes: int) -> IdleCost:
    peers = peer_ids(peer_count)
    host = build_host(peers)
    tracker = HostChangeTracker(host)
    node, plain_node = Node(IDENTITY), Node(IDENTITY)
    capture = CountingCapture()
    autosave = TrioAutosave(
        host, node, MemoryStore(), tracker=tracker, capture=capture, timer=time.monotonic
    )
    plain = Checkpointer(plain_node, MemoryStore())
    try:
        autosave.checkpointer.poll()  # the first save: idle from here on
        plain.poll()
        autosave.checkpointer.flush()
        plain.flush()
        per_round = []
        for _ in range(rounds):
            poll_ns = _time_idle(plain.poll, calls)
            step_ns = _time_idle(autosave.step, calls)
            per_round.append((poll_ns, step_ns))
        wake_us = _idle_wake_cpu_us(host, Node(IDENTITY), tracker, wakes)
        saves_while_idle = autosave.checkpointer.saves - 1
        if capture.calls != 1:
            raise AssertionError("an idle host was captured")
    finally:
        autosave.checkpointer.close()
        plain.close()
        tracker.close()
    return IdleCost(
        peer_count,
        statistics.median(p for p, _ in per_round),
        statistics.median(s for _, s in per_round),
        statistics.median(s / p for p, s in per_round),
        wake_us,
        saves_while_idle,
    )


def _time_idle(poll: Callable[[], bool], calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        if poll():
            raise AssertionError("an idle node was saved")
    return (time.perf_counter_ns() - started) / calls


def _idle_wake_cpu_us(host: IHost, node: Node, tracker: HostChangeTracker, wakes: int) -> float:
    """CPU µs per wake of an idle `run` task whose interval is 1 ms."""
    capture = CountingCapture()
    autosave = TrioAutosave(
        host, node, MemoryStore(), tracker=tracker, capture=capture, interval=0.001
    )
    counted: list[int] = []
    step = autosave.step

    def counting_step() -> bool:
        counted.append(1)
        return step()

    autosave.step = counting_step  # type: ignore[method-assign]  # counts the wakes

    async def run() -> float:
        autosave.checkpointer.poll()  # the first save
        await autosave.flush()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(autosave.run)
            await trio.sleep(0)
            started_cpu, started = time.process_time(), len(counted)
            while len(counted) - started < wakes:
                await trio.sleep(0.01)
            cpu = time.process_time() - started_cpu
            done = len(counted) - started
            nursery.cancel_scope.cancel()
        if autosave.checkpointer.saves != 1 or capture.calls != 1:
            raise AssertionError("an idle host was captured or saved")
        await autosave.aclose()
        return cpu / done * 1e6

    return trio.run(run)


def call_table(rows: Sequence[CallCost]) -> str:
    lines = [
        "| N peers | call | untracked ns | tracked ns | difference ns | vs untracked |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.peers:,} | {r.operation} | {r.untracked_ns:,.0f} | {r.tracked_ns:,.0f} "
        f"| {r.difference_ns:,.0f} | {r.ratio:.2f}x |"
        for r in rows
    ]
    return "\n".join(lines)


def idle_table(rows: Sequence[IdleCost]) -> str:
    lines = [
        "| N peers | `Checkpointer.poll()` ns | `TrioAutosave.step()` ns | vs poll "
        "| CPU µs per idle wake of `run` | saves while idle |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.peers:,} | {r.poll_ns:,.0f} | {r.step_ns:,.0f} | {r.ratio:.2f}x "
        f"| {r.wake_us:,.1f} | {r.saves_while_idle} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser(
        "python -m benchmarks.libp2p_tracking",
        "What HostChangeTracker adds to py-libp2p host calls, and an idle autosave turn.",
        sizes=DEFAULT_SIZES,
        quick_sizes=QUICK_SIZES,
        rounds=DEFAULT_ROUNDS,
        quick_rounds=QUICK_ROUNDS,
    )
    args = parse_benchmark_args(parser, argv)
    calls = QUICK_CALLS if args.quick else CALLS
    wakes = QUICK_IDLE_WAKES if args.quick else IDLE_WAKES
    calls_rows: list[CallCost] = []
    idle_rows: list[IdleCost] = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for peers in args.sizes:
            progress(f"N={peers:,}: {args.rounds} rounds of {calls:,} calls per operation")
            calls_rows += call_costs(peers, args.rounds, calls)
            progress(f"N={peers:,}: idle turns, then {wakes:,} idle wakes under trio")
            idle_rows.append(idle_costs(peers, args.rounds, calls, wakes))
    finally:
        if enabled:
            gc.enable()
    print("# Detecting py-libp2p host changes")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(f"Machine: {machine_line('libp2p', 'trio')}; {load_line()}")
    print()
    print(f"## Per call ({calls:,} calls a round, {args.rounds} rounds, collector off)")
    print()
    print(call_table(calls_rows))
    print()
    print("## An idle autosave turn")
    print()
    print(idle_table(idle_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
