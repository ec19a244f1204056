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
import copy
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
from snapshot_schema import CURRENT_SNAPSHOT_SPEC_VERSION, SnapshotDecodeError, decode, encode

TIME_BOUND = 20.0
"""Decode time per input byte of any valid shape, at most this many times a typical snapshot's."""
MEMORY_BOUND = 8.0
"""Peak traced memory per input byte of any valid shape, at most this many times a typical
snapshot's."""
DEFAULT_SIZE = 1 << 20
DEFAULT_ROUNDS = 5

PEER = b"\x12\x20" + bytes(32)  # the node's own PeerId in every shape
Body = list[Any]
Envelope = list[Any]  # [spec_version, body]


def _empty_body() -> Body:
    governor: list[Any] = [[], None, [], 1, [], []]
    framework = [[], [], [], governor, [], [], PEER, 0, 0, [], []]
    return [[0, 0], [], [], [], [], framework, [[]], [], [], []]


def _tiny_peer(index: int) -> bytes:
    """The smallest distinct PeerIds, ascending: identity multihashes of 3-byte digests."""
    return b"\x00\x03" + index.to_bytes(3, "big")


def _tiny_address(index: int) -> bytes:
    return index.to_bytes((index.bit_length() + 7) // 8 or 1, "big")


_ALPHABET = "".join(sorted(string.ascii_letters + string.digits))
_EXTENSION_ALPHABET = "".join(sorted(string.ascii_lowercase + string.digits + "._/-"))


def _names(count: int, alphabet: str = _ALPHABET) -> list[str]:
    """The `count` shortest distinct names of `alphabet`, ascending."""
    shortest = itertools.chain.from_iterable(
        itertools.product(alphabet, repeat=length) for length in itertools.count(1)
    )
    return sorted("".join(letters) for letters in itertools.islice(shortest, count))


def _with(setter: Callable[[Body, int], None]) -> Callable[[int], Envelope]:
    def build(count: int) -> Envelope:
        body = _empty_body()
        setter(body, count)
        return [CURRENT_SNAPSHOT_SPEC_VERSION, body]

    return build


def _set(path: tuple[int, ...], value: Callable[[int], object]) -> Callable[[int], Envelope]:
    """A body whose element at `path` is `value(count)`."""

    def setter(body: Body, count: int) -> None:
        target: Any = body
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value(count)

    return _with(setter)


FRAMEWORK, GOVERNOR, PEER_RECORDS = 5, 3, 9
MIXED_EVENTS = [[0, b""], [1, "a", "b", b""], [2, "a", []], [3, 0], [4, 0, []]]
METADATA_VALUES = ["", 0, 0.5, False, b"", None]
"""One metadata value of each type, the smallest of each."""


def _record(protocols: object = (), metadata: object = ()) -> list[object]:
    """The node's own peer record, with nothing but `protocols` and `metadata`."""
    return [PEER, None, protocols, metadata, None, None]


SHAPES: dict[str, Callable[[int], Envelope]] = {
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
    "address_book: [peer, [], 0, []]": _set(
        (FRAMEWORK, 2), lambda n: [[_tiny_peer(i), [], 0, []] for i in range(n)]
    ),
    "address_book addresses: 1-2 bytes, nil": _set(
        (FRAMEWORK, 2), lambda n: [[PEER, [_tiny_address(i) for i in range(n)], 0, [None] * n]]
    ),
    "address_book addresses: 1-2 bytes, expiring at 0": _set(
        (FRAMEWORK, 2), lambda n: [[PEER, [_tiny_address(i) for i in range(n)], 0, [0] * n]]
    ),
    "blocklist: peer": _set((FRAMEWORK, GOVERNOR, 0), lambda n: list(map(_tiny_peer, range(n)))),
    "allowlist: peer": _set((FRAMEWORK, GOVERNOR, 1), lambda n: list(map(_tiny_peer, range(n)))),
    "health: [peer, 0, 0, false]": _set(
        (FRAMEWORK, GOVERNOR, 2), lambda n: [[_tiny_peer(i), 0, 0, False] for i in range(n)]
    ),
    "ip_allow: [4 bytes, 32]": _set(
        (FRAMEWORK, GOVERNOR, 4), lambda n: [[i.to_bytes(4, "big"), 32] for i in range(n)]
    ),
    "ip_deny: [4 bytes, 32]": _set(
        (FRAMEWORK, GOVERNOR, 5), lambda n: [[i.to_bytes(4, "big"), 32] for i in range(n)]
    ),
    "backoff_table: [peer, 0, 0, 0]": _set(
        (FRAMEWORK, 4), lambda n: [[_tiny_peer(i), 0, 0, 0] for i in range(n)]
    ),
    "pending_outbound: [1 byte, false]": _set((FRAMEWORK, 5), lambda n: [[b"x", False]] * n),
    "peer_records: [peer, nil, [], [], nil, nil]": _set(
        (FRAMEWORK, PEER_RECORDS),
        lambda n: [[_tiny_peer(i), None, [], [], None, None] for i in range(n)],
    ),
    "peer_records protocols: name": _set(
        (FRAMEWORK, PEER_RECORDS), lambda n: [_record(protocols=_names(n))]
    ),
    "peer_records metadata: [name, 0]": _set(
        (FRAMEWORK, PEER_RECORDS), lambda n: [_record(metadata=[[key, 0] for key in _names(n)])]
    ),
    "peer_records metadata: [name, value], every type in turn": _set(
        (FRAMEWORK, PEER_RECORDS),
        lambda n: [
            _record(
                metadata=[
                    [key, METADATA_VALUES[i % len(METADATA_VALUES)]]
                    for i, key in enumerate(_names(n))
                ]
            )
        ],
    ),
    "extensions: [name, '']": _set(
        (FRAMEWORK, 10), lambda n: [[name, b""] for name in _names(n, _EXTENSION_ALPHABET)]
    ),
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


def as_version_1(envelope: Envelope) -> Envelope:
    """The same snapshot as version 1 wrote it: without what version 2 added, which it must
    not use (`ValueError`)."""
    body = copy.deepcopy(envelope[1])
    framework = body[FRAMEWORK]
    if any(framework[9:]) or any(framework[GOVERNOR][4:]):
        raise ValueError("version 1 has no peer records, IP filters or extensions")
    for entry in framework[2]:
        if any(expiry is not None for expiry in entry.pop()):
            raise ValueError("version 1 addresses never expire")
    del framework[9:], framework[GOVERNOR][4:]
    return [1, body]


V1_PREFIX = "version 1, migrated: "


def _version_1(build: Callable[[int], Envelope]) -> Callable[[int], Envelope]:
    return lambda count: as_version_1(build(count))


SHAPES.update(
    {
        f"{V1_PREFIX}{name}": _version_1(SHAPES[name])
        for name in (
            "frontier: [0, 0]",
            "address_book: [peer, [], 0, []]",
            "address_book addresses: 1-2 bytes, nil",
            "health: [peer, 0, 0, false]",
            "ingress, all five kinds in turn",
            "pending_completions: [0, []]",
        )
    }
)
"""Version 1 bodies go through the migration (`snapshot_schema/v1_to_v2.py`), which upgrades
the decoded body, packs it and unpacks it again: the structures it rewrites (address book
entries), the densest (the frontier) and the costliest to build (ingress, completions)."""


def _encoded(envelope: Envelope) -> bytes:
    return msgpack.packb(envelope, use_bin_type=True)


def shape_bytes(name: str, count: int) -> bytes:
    """A valid snapshot of the shape `name` holding `count` entries."""
    return _encoded(SHAPES[name](count))


def _entry_count(name: str, size: int) -> int:
    """How many entries make the shape `name` about `size` bytes (within 1%)."""
    small, large = len(shape_bytes(name, 1_000)), len(shape_bytes(name, 2_000))
    per_entry = (large - small) / 1_000
    count = max(1, round((size - (small - 1_000 * per_entry)) / per_entry))
    while len(shape_bytes(name, count)) > size * 1.01:
        count = count * 99 // 100
    return count


def shape_input(name: str, size: int) -> bytes:
    """A valid snapshot of about `size` bytes (within 1%) of the shape `name`."""
    return shape_bytes(name, _entry_count(name, size))


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
    envelope = SHAPES[name](_entry_count(name, size))
    valid = _encoded(envelope)
    longest = _longest_array(envelope)
    longest[-1] = 0 if isinstance(longest[-1], str) else "x"
    return valid, _encoded(envelope)


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
