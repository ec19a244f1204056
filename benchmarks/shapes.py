"""What `decode` costs per input byte for every shape of body the format allows, against a typical
snapshot's cost per byte.

A typical snapshot is mostly PeerIds, addresses and envelopes: a few large values per msgpack
object. The format also allows bodies of nothing but tiny entries: a frontier of `[0, 0]` pairs
(3 bytes each), timer events, one-byte names, address lists of one-byte addresses. Each shape
here fills one repeated structure of an otherwise empty, valid snapshot with as many of its
smallest entries as fit in the input size; its refused variant has the last of those entries of
the wrong type, so a decoder must look through all of them before it can refuse it. Every
input decodes, and every variant is refused (the benchmark checks both).

    .venv/bin/python -m benchmarks.shapes                 # 1 MiB inputs, 5 rounds
    .venv/bin/python -m benchmarks.shapes --size 262144 --rounds 3

Per shape, each per input byte and as a ratio to the typical snapshot's: the best time of
`rounds` decodes, of msgpack's own unpacking and of refusing the variant (rounds interleave the
shapes and the typical snapshot, so a busy machine slows them alike; the collector is off, as
`decode` keeps it), and the peak traced memory (`tracemalloc`) of one decode.
`tests/schema/test_shape_costs.py` holds every ratio under `TIME_BOUND` and `MEMORY_BOUND`
(docs/FORMAT.md §5)."""

from __future__ import annotations

import argparse
import gc
import itertools
import shlex
import string
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from benchmarks.codec import TYPICAL_SHAPE, build_snapshot
from benchmarks.harness import cell, load_line, machine_line
from snapshot_schema import SnapshotDecodeError, decode, encode

TIME_BOUND = 20.0
"""Decode time per input byte of any valid shape, at most this many times a typical snapshot's."""
MEMORY_BOUND = 8.0
"""Peak traced memory per input byte of any valid shape, at most this many times a typical
snapshot's."""
DEFAULT_SIZE = 1 << 20
DEFAULT_ROUNDS = 5

PEER = b"\x12\x20" + bytes(32)  # the node's own PeerId in every shape
Body = list[Any]


def _empty_body() -> Body:
    framework = [[], [], [], [[], None, [], 1], [], [], PEER, 0, 0]
    return [[0, 0], [], [], [], [], framework, [[]], [], [], []]


def _tiny_peer(index: int) -> bytes:
    """The smallest distinct PeerIds, ascending: identity multihashes of 3-byte digests."""
    return b"\x00\x03" + index.to_bytes(3, "big")


def _tiny_address(index: int) -> bytes:
    return index.to_bytes((index.bit_length() + 7) // 8 or 1, "big")


_ALPHABET = "".join(sorted(string.ascii_letters + string.digits))


def _names(count: int) -> list[str]:
    """The `count` shortest distinct names, ascending."""
    shortest = itertools.chain.from_iterable(
        itertools.product(_ALPHABET, repeat=length) for length in itertools.count(1)
    )
    return sorted("".join(letters) for letters in itertools.islice(shortest, count))


def _with(setter: Callable[[Body, int], None]) -> Callable[[int], Body]:
    def build(count: int) -> Body:
        body = _empty_body()
        setter(body, count)
        return body

    return build


def _set(path: tuple[int, ...], value: Callable[[int], object]) -> Callable[[int], Body]:
    """A body whose element at `path` is `value(count)`."""

    def setter(body: Body, count: int) -> None:
        target: Any = body
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value(count)

    return _with(setter)


FRAMEWORK, GOVERNOR = 5, 3
MIXED_EVENTS = [[0, b""], [1, "a", "b", b""], [2, "a", []], [3, 0], [4, 0, []]]

SHAPES: dict[str, Callable[[int], Body]] = {
    "frontier: [0, 0]": _set((1,), lambda n: [[0, 0]] * n),
    "slot_table: [[a, b], nil]": _set(
        (2,), lambda n: [[[i >> 7, i & 127], None] for i in range(n)]
    ),
    "pending_async: [k, [0, 0, [], nil]]": _set(
        (3,), lambda n: [[i, [0, 0, [], None]] for i in range(n)]
    ),
    "pending_async output_sites: 0": _set((3,), lambda n: [[0, [0, 0, [0] * n, None]]]),
    "execution_state: [k, [0]]": _set((4,), lambda n: [[i, [0]] for i in range(n)]),
    "counters: [name, 0]": _set((FRAMEWORK, 0), lambda n: [[name, 0] for name in _names(n)]),
    "fired_phases: 'a'": _set((FRAMEWORK, 1), lambda n: ["a"] * n),
    "address_book: [peer, [], 0]": _set(
        (FRAMEWORK, 2), lambda n: [[_tiny_peer(i), [], 0] for i in range(n)]
    ),
    "address_book addresses: 1-2 bytes": _set(
        (FRAMEWORK, 2), lambda n: [[PEER, [_tiny_address(i) for i in range(n)], 0]]
    ),
    "blocklist: peer": _set((FRAMEWORK, GOVERNOR, 0), lambda n: list(map(_tiny_peer, range(n)))),
    "allowlist: peer": _set((FRAMEWORK, GOVERNOR, 1), lambda n: list(map(_tiny_peer, range(n)))),
    "health: [peer, 0, 0, false]": _set(
        (FRAMEWORK, GOVERNOR, 2), lambda n: [[_tiny_peer(i), 0, 0, False] for i in range(n)]
    ),
    "backoff_table: [peer, 0, 0, 0]": _set(
        (FRAMEWORK, 4), lambda n: [[_tiny_peer(i), 0, 0, 0] for i in range(n)]
    ),
    "pending_outbound: [1 byte, false]": _set((FRAMEWORK, 5), lambda n: [[b"x", False]] * n),
    "event_subscriptions: [name, []]": _set((6, 0), lambda n: [[name, []] for name in _names(n)]),
    "event_subscriptions sites: k": _set((6, 0), lambda n: [["k", list(range(n))]]),
    "ingress envelope: [0, '']": _set((7,), lambda n: [[0, b""]] * n),
    "ingress app event: [1, 'a', 'b', '']": _set((7,), lambda n: [[1, "a", "b", b""]] * n),
    "ingress invoke: [2, 'a', []]": _set((7,), lambda n: [[2, "a", []]] * n),
    "ingress invoke inputs: ['a', '']": _set((7,), lambda n: [[2, "a", [["a", b""]] * n]]),
    "ingress timer: [3, 0]": _set((7,), lambda n: [[3, 0]] * n),
    "ingress completion: [4, 0, []]": _set((7,), lambda n: [[4, 0, []]] * n),
    "ingress completion results: ''": _set((7,), lambda n: [[4, 0, [b""] * n]]),
    "ingress, all five kinds in turn": _set(
        (7,), lambda n: [MIXED_EVENTS[i % len(MIXED_EVENTS)] for i in range(n)]
    ),
    "wire_states: [k, '']": _set((8,), lambda n: [[i, b""] for i in range(n)]),
    "pending_completions: [0, []]": _set((9,), lambda n: [[0, []]] * n),
    "pending_completions results: ['a', '']": _set((9,), lambda n: [[0, [["a", b""]] * n]]),
}
"""Every repeated structure of the body (docs/FORMAT.md §3) filled with its smallest entries."""


def _encoded(body: Body) -> bytes:
    return msgpack.packb([1, body], use_bin_type=True)


def _entry_count(name: str, size: int) -> int:
    """How many entries make the shape `name` about `size` bytes (within 1%)."""
    build = SHAPES[name]
    small, large = len(_encoded(build(1_000))), len(_encoded(build(2_000)))
    per_entry = (large - small) / 1_000
    count = max(1, round((size - (small - 1_000 * per_entry)) / per_entry))
    while len(_encoded(build(count))) > size * 1.01:
        count = count * 99 // 100
    return count


def shape_input(name: str, size: int) -> bytes:
    """A valid snapshot of about `size` bytes (within 1%) of the shape `name`."""
    return _encoded(SHAPES[name](_entry_count(name, size)))


def _longest_array(value: object) -> list[Any]:
    """The longest array anywhere in a body of nested lists."""
    longest: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            longest = item if len(item) > len(longest) else longest
            stack.extend(item)
    return longest


def shape_inputs(name: str, size: int) -> tuple[bytes, bytes]:
    """`shape_input(name, size)`, and the same with the last entry of its long array of the
    wrong type: what a decoder must look through, entry by entry, before it can refuse it."""
    body = SHAPES[name](_entry_count(name, size))
    valid = _encoded(body)
    longest = _longest_array(body)
    longest[-1] = 0 if isinstance(longest[-1], str) else "x"
    return valid, _encoded(body)


def typical_input(size: int) -> bytes:
    """The `typical` golden snapshot's rows, grown to about `size` bytes (within 1%)."""
    per_peer = len(encode(build_snapshot(2_000, shape=TYPICAL_SHAPE))) / 2_000
    return encode(build_snapshot(max(1, round(size / per_peer)), shape=TYPICAL_SHAPE))


def unpack_floor(data: bytes) -> object:
    """What msgpack alone makes of `data`: the same objects, nothing checked."""
    return msgpack.unpackb(data, use_list=False)


def refuse(data: bytes) -> object:
    """`decode(data)` for an input it must refuse: the refusal, instead of a result."""
    try:
        decode(data)
    except SnapshotDecodeError as error:
        return error
    raise AssertionError("a refused input was accepted")


def best_time(data: bytes, rounds: int, run: Callable[[bytes], object] = decode) -> float:
    """The shortest of `rounds` runs of `run(data)`, in seconds (the result freed outside),
    with the collector off, as `decode` keeps it."""
    best = float("inf")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            gc.collect()
            started = time.perf_counter()
            result = run(data)
            best = min(best, time.perf_counter() - started)
            del result
    finally:
        if was_enabled:
            gc.enable()
    return best


def traced_peak(data: bytes) -> int:
    """Peak bytes allocated while `decode(data)` runs (deterministic, unlike the RSS)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = decode(data)
        peak = tracemalloc.get_traced_memory()[1]
        del result
        return peak
    finally:
        tracemalloc.stop()


@dataclass(frozen=True)
class Inputs:
    """Per shape (and "typical"), a valid input and the same with its last entry wrong."""

    valid: Mapping[str, bytes]
    refused: Mapping[str, bytes]


def inputs(names: Sequence[str], size: int) -> Inputs:
    """The typical snapshot (as "typical") and each shape in `names`, about `size` bytes each."""
    pairs = {name: shape_inputs(name, size) for name in names}
    return Inputs(
        {"typical": typical_input(size)} | {name: pair[0] for name, pair in pairs.items()},
        {name: pair[1] for name, pair in pairs.items()},
    )


@dataclass(frozen=True)
class Cost:
    shape: str
    size: int
    ns_per_byte: float
    time_ratio: float  # to the typical snapshot's ns per byte
    floor_ratio: float  # decode time over msgpack's own unpacking of the same bytes
    refused_ratio: float | None  # refusing the last-entry-wrong input, to the typical's ns/B
    memory_per_byte: float | None  # peak traced bytes per input byte (None: not measured)
    memory_ratio: float | None


def measure(inputs: Inputs, rounds: int, *, memory: bool = True) -> list[Cost]:
    """The cost of each input against the typical one, best of `rounds` interleaved rounds:
    round r decodes every input once, unpacks it with msgpack alone and refuses its variant."""
    for data in inputs.valid.values():
        decode(data)  # every valid input decodes, every other is refused
    for data in inputs.refused.values():
        refuse(data)
    best = dict.fromkeys(inputs.valid, float("inf"))
    floors = dict.fromkeys(inputs.valid, float("inf"))
    refusals = dict.fromkeys(inputs.refused, float("inf"))
    for _ in range(rounds):
        for name, data in inputs.valid.items():
            best[name] = min(best[name], best_time(data, 1))
            floors[name] = min(floors[name], best_time(data, 1, unpack_floor))
            if name in inputs.refused:
                refused = inputs.refused[name]
                refusals[name] = min(refusals[name], best_time(refused, 1, refuse) / len(refused))
    typical = inputs.valid["typical"]
    base_time = best["typical"] / len(typical)
    peaks = {
        name: traced_peak(data) / len(data) if memory else 0.0
        for name, data in inputs.valid.items()
    }
    costs = []
    for name, data in inputs.valid.items():
        time_per_byte = best[name] / len(data)
        costs.append(
            Cost(
                name,
                len(data),
                time_per_byte * 1e9,
                time_per_byte / base_time,
                best[name] / floors[name],
                refusals[name] / base_time if name in refusals else None,
                peaks[name] if memory else None,
                peaks[name] / peaks["typical"] if memory else None,
            )
        )
    return costs


def markdown_table(costs: Sequence[Cost]) -> str:
    lines = [
        "| shape | bytes | ns per byte | time vs typical | time vs msgpack "
        "| refusing it, last entry wrong, vs typical | peak memory per byte | memory vs typical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {cost.shape} | {cost.size:,} | {cost.ns_per_byte:.1f} | {cost.time_ratio:.2f} "
        f"| {cost.floor_ratio:.2f} | {cell(cost.refused_ratio)} "
        f"| {cell(cost.memory_per_byte, 1)} | {cell(cost.memory_ratio)} |"
        for cost in costs
    )
    return "\n".join(lines)


def worst(costs: Sequence[Cost]) -> tuple[float, float]:
    """The largest time ratio (decoding or refusing) and memory ratio of any shape."""
    times = [cost.time_ratio for cost in costs] + [
        cost.refused_ratio for cost in costs if cost.refused_ratio is not None
    ]
    return max(times), max(cost.memory_ratio or 0.0 for cost in costs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.shapes",
        description="Decode cost per input byte of every body shape, against a typical one.",
    )
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="input bytes (1 MiB)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds (5)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    costs = measure(inputs(list(SHAPES), args.size), args.rounds)
    worst_time, worst_memory = worst(costs)
    print("# Decode cost by body shape")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(f"Machine: {machine_line('msgpack')}")
    print()
    print(
        f"Inputs of about {args.size:,} bytes; best of {args.rounds} interleaved rounds, the "
        f"collector off; total {time.perf_counter() - started:.0f} s; {load_line()} at the end."
    )
    print()
    print(markdown_table(costs))
    print()
    print(
        f"Worst: time {worst_time:.2f}x (bound {TIME_BOUND:g}x), memory {worst_memory:.2f}x "
        f"(bound {MEMORY_BOUND:g}x) the typical snapshot's per byte."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
