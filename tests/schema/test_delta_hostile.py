"""`decode_delta` on hostile input (docs/FORMAT.md §12.7): every truncation and every bit flip
of the goldens, and hand-built inputs small and at 1 MiB, give a valid delta or a
`SnapshotError` (nothing else escapes), within the time and memory bounds `decode` keeps
(§5: traced peak under 64 x the input + 1 MiB, well under 5 s)."""

import time
import tracemalloc
from pathlib import Path
from typing import Any

import msgpack
import pytest
from delta_support import BASE, TAKEN_AT, TARGET
from test_hostile_limits import (
    CASES as SNAPSHOT_CASES,
)
from test_hostile_limits import (
    ENVELOPE as SNAPSHOT_ENVELOPE,
)
from test_hostile_limits import (
    MEMORY_CONSTANT,
    TIME_LIMIT_S,
    Hostile,
    MiB,
    memory_bound,
)

from snapshot_schema import (
    IncompatibleDeltaVersion,
    SnapshotDecodeError,
    SnapshotDelta,
    SnapshotError,
    decode_delta,
)
from snapshot_schema.delta_encoder import OP_PATCH, OP_REPLACE, OP_SPLICE, encode_delta
from snapshot_schema.delta_records import FIELDS_BY_NAME, Replace

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "delta-v1"
GOLDENS = {path.stem: path.read_bytes() for path in sorted(GOLDEN.glob("*.msgpack"))}
ENVELOPE = b"\x92\x01"
ID = {name: field.id for name, field in FIELDS_BY_NAME.items()}


def contract(data: bytes) -> None:
    """A valid delta that round-trips, or a `SnapshotError`: nothing else."""
    try:
        delta = decode_delta(data)
    except SnapshotError:
        return
    assert decode_delta(encode_delta(delta)) == delta


# Every truncation and every bit flip of the goldens.


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_every_truncation_of_a_golden_is_refused_as_malformed(name: str) -> None:
    data = GOLDENS[name]
    for end in range(len(data)):
        with pytest.raises(SnapshotDecodeError):
            decode_delta(data[:end])


SMALL = [name for name in sorted(GOLDENS) if len(GOLDENS[name]) < 500]


def flipped(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@pytest.mark.parametrize("name", SMALL)
def test_every_bit_flip_of_a_small_golden_gives_a_valid_delta_or_a_snapshot_error(
    name: str,
) -> None:
    data = GOLDENS[name]
    for bit in range(len(data) * 8):
        contract(flipped(data, bit))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(GOLDENS) - set(SMALL)))
def test_a_bit_flip_in_every_byte_of_a_large_golden_gives_a_valid_delta_or_a_snapshot_error(
    name: str,
) -> None:
    # One bit per byte, a different one at each offset (every bit of the small goldens is
    # flipped above; the fuzz harness flips at random): an eighth of the time of every bit.
    data = GOLDENS[name]
    for offset in range(len(data)):
        contract(flipped(data, offset * 8 + offset % 8))


def test_the_small_goldens_cover_every_op() -> None:
    ops = {change[1] for name in SMALL for change in msgpack.unpackb(GOLDENS[name])[1][4]}
    assert ops == {OP_REPLACE, OP_PATCH, OP_SPLICE}


# Hand-built hostile inputs: the decoder's own, at 1 MiB.


def delta_of(changes: list[Any]) -> bytes:
    return msgpack.packb([1, [2, BASE, TARGET, TAKEN_AT, changes]], use_bin_type=True)


def filled(entry: Any, last: Any, wrap: Any) -> bytes:
    """The delta `wrap(entries)` makes, with as many `entry`s as fit in about 1 MiB, then
    `last`."""
    unit = len(msgpack.packb([entry] * 1001)) - len(msgpack.packb([entry]))
    count = (MiB - len(delta_of(wrap([last])))) * 1000 // unit
    return delta_of(wrap([*([entry] * count), last]))


def filled_distinct(make: Any, last: Any, wrap: Any) -> bytes:
    """As `filled`, for entries that must differ: `make(index)`, as many as fit in about
    1 MiB (their sizes vary with the index: the count is corrected until it fits)."""
    count = 1_000
    for _ in range(4):
        data = delta_of(wrap([*(make(i) for i in range(count)), last]))
        count = count * MiB // len(data)
    return data


def peer(index: int) -> bytes:
    return b"\x00\x03" + index.to_bytes(3, "big")


DELTA_CASES = [
    Hostile(
        "frontier-replace-1MiB-last-wrong",
        filled([0, 0], [0, -1], lambda rows: [[ID["frontier"], OP_REPLACE, rows]]),
        "expected u64",
    ),
    Hostile(
        "ingress-splice-1MiB-last-unknown-tag",
        filled([3, 0], [9, 0], lambda events: [[ID["ingress"], OP_SPLICE, [0, 0, events]]]),
        "unknown ingress event tag 9",
    ),
    Hostile(
        "pending-async-replace-1MiB-last-wrong",
        filled_distinct(
            lambda i: [i, [0, 0, [], None]],
            [2**40, [0, 0, [], "x"]],
            lambda rows: [[ID["pending_async"], OP_REPLACE, rows]],
        ),
        "expected `int`, got `str`",
    ),
    Hostile(
        "counters-removed-1MiB-last-out-of-order",
        filled_distinct(
            lambda i: f"k{i:07}", "a", lambda keys: [[ID["counters"], OP_PATCH, [keys, []]]]
        ),
        "ascending order",
    ),
    Hostile(
        "blocklist-removed-1MiB-last-upserted",
        filled_distinct(
            peer,
            peer(2**23),
            lambda keys: [[ID["blocklist"], OP_PATCH, [keys, [peer(2**23)]]]],
        ),
        "never both removed and upserted",
    ),
    Hostile(
        "health-upserted-1MiB-last-out-of-peer-order",
        filled_distinct(
            lambda i: [peer(i + 1), 0, 0, False],
            [peer(0), 0, 0, False],
            lambda rows: [[ID["health"], OP_PATCH, [[], rows]]],
        ),
        "ascending peer order",
    ),
    Hostile(
        "changes-1MiB-of-one-field",
        filled([ID["frontier"], OP_REPLACE, []], [1, 0, []], lambda changes: changes),
        "field ids must be unique and in ascending order",
    ),
    Hostile(
        "changes-1MiB-of-unknown-fields",
        filled([99, 0, 0], [99, 0, 0], lambda changes: changes),
        "unknown field id 99",
    ),
    Hostile(
        "payload-nested-1MiB",
        delta_of([[ID["frontier"], OP_REPLACE, 0]])[:-1] + b"\x91" * MiB + b"\x90",
        "nesting too deep",
    ),
    Hostile(
        "golden-trailing-garbage-1MiB",
        GOLDENS["every_replace"] + bytes(MiB),
        f"{MiB} unexpected bytes after the delta body",
    ),
    Hostile(
        "version-newer-1MiB-of-garbage",
        b"\x92\x02" + b"\xc1" * MiB,
        "newer",
        IncompatibleDeltaVersion,
    ),
]


def as_delta(case: Hostile) -> Hostile:
    """A hostile snapshot of `decode`'s tests stamped as a delta: its body reaches
    `decode_delta` (which refuses it with a delta's reasons, so only the class is checked)."""
    data = case.data
    if data.startswith(SNAPSHOT_ENVELOPE):
        data = ENVELOPE + data[len(SNAPSHOT_ENVELOPE) :]
    error = IncompatibleDeltaVersion if case.error is not SnapshotDecodeError else case.error
    return Hostile(f"snapshot-{case.name}", data, "", error)


CASES = DELTA_CASES + [as_delta(case) for case in SNAPSHOT_CASES if not case.name.startswith("v1")]


def traced_peak(data: bytes) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(SnapshotError):
            decode_delta(data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_is_refused_in_bounded_time_and_memory(case: Hostile) -> None:
    if "1MiB" in case.name:
        assert abs(len(case.data) - MiB) <= MiB // 100
    started = time.perf_counter()
    with pytest.raises(case.error, match=case.reason or None) as caught:
        decode_delta(case.data)
    elapsed = time.perf_counter() - started
    assert type(caught.value) is case.error
    assert elapsed < TIME_LIMIT_S, f"{case.name}: {elapsed:.2f} s"
    peak = traced_peak(case.data)
    assert peak <= memory_bound(len(case.data)), (
        f"{case.name}: peak {peak} bytes = {peak / len(case.data):.1f} x input"
    )


def test_the_1MiB_payloads_are_refused_for_their_last_entry() -> None:
    """Each 1 MiB delta case is valid but for its last entry: the refusal names it."""
    frontier = next(case for case in DELTA_CASES if case.name.startswith("frontier"))
    with pytest.raises(SnapshotDecodeError) as caught:
        decode_delta(frontier.data)
    count = len(msgpack.unpackb(frontier.data)[1][4][0][2])
    assert caught.value.path == ("changes", 0, "payload", count - 1, "exec_id")


def test_a_valid_1MiB_delta_decodes_in_bounded_time_and_memory() -> None:
    data = filled([0, 0], [0, 1], lambda rows: [[ID["frontier"], OP_REPLACE, rows]])
    started = time.perf_counter()
    change = decode_delta(data).changes["frontier"]
    assert isinstance(change, Replace)
    assert len(change.value) > 300_000
    assert time.perf_counter() - started < TIME_LIMIT_S
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        decode_delta(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= memory_bound(len(data))


def test_short_hostile_inputs_cost_only_the_constant() -> None:
    short = [case for case in CASES if len(case.data) < 10_000]
    assert len(short) >= 8
    for case in short:
        assert traced_peak(case.data) < MEMORY_CONSTANT, case.name


def test_inputs_refused_before_the_body_is_built_cost_about_one_copy() -> None:
    """The version gate reads no body; the structure pass builds nothing."""
    for name in (
        "payload-nested-1MiB",
        "golden-trailing-garbage-1MiB",
        "version-newer-1MiB-of-garbage",
    ):
        case = next(case for case in CASES if case.name == name)
        assert traced_peak(case.data) <= 3 * len(case.data), name


FUZZ_SEEDS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus" / "decode_delta"


def test_the_fuzz_seeds_are_what_their_names_say() -> None:
    """The `decode_delta` harness starts from every golden (valid) and from deltas that each
    break a rule (refused), so mutations reach both sides of every check."""
    seeds = {path.stem: path.read_bytes() for path in FUZZ_SEEDS.glob("*.bin")}
    assert {name[len("golden-") :] for name in seeds if name.startswith("golden-")} == set(GOLDENS)
    hostile = [name for name in seeds if name.startswith("hostile-")]
    assert len(hostile) >= 20
    for name in hostile:
        with pytest.raises(SnapshotError):
            decode_delta(seeds[name])
    for name in ("busy-node", *(f"golden-{golden}" for golden in GOLDENS)):
        assert isinstance(decode_delta(seeds[name]), SnapshotDelta)
