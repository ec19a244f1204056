"""Resource limits of `decode` on hand-built hostile inputs (docs/FORMAT.md, section 5).

Each input, small and at 1 MiB, must be refused with the stated error, with traced peak memory
under `MEMORY_FACTOR` times its size plus `MEMORY_CONSTANT` and well under `TIME_LIMIT_S`.
tests/schema/test_codec.py checks the error *messages* of the small envelopes; this file checks
what refusing them costs. Time limits are deliberately loose (machines here are shared and
noisy): they catch a quadratic or exponential blow-up, not a slowdown.
"""

import struct
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest

from snapshot_schema import (
    CURRENT_SNAPSHOT_SPEC_VERSION,
    IncompatibleSnapshotVersion,
    SnapshotDecodeError,
    SnapshotError,
    decode,
)

MiB = 1 << 20
MEMORY_FACTOR = 64
"""Bytes of traced peak memory per input byte (measured worst: 48, nested 1-element arrays)."""
MEMORY_CONSTANT = MiB
TIME_LIMIT_S = 5.0
"""Per input (measured worst: 0.7 s for 1 MiB of nested 1-element arrays, traced)."""

ENVELOPE = bytes([0x92, CURRENT_SNAPSHOT_SPEC_VERSION])  # [spec_version, body]
V1_ENVELOPE = b"\x92\x01"  # a version 1 body goes through the migration (v1_to_v2.py)
GOLDEN = Path(__file__).resolve().parent.parent / "golden"
TYPICAL = (GOLDEN / "v2" / "typical.msgpack").read_bytes()
V1_TYPICAL = (GOLDEN / "v1" / "typical.msgpack").read_bytes()


def array32(count: int) -> bytes:
    return b"\xdd" + struct.pack(">I", count)


def map32(count: int) -> bytes:
    return b"\xdf" + struct.pack(">I", count)


def filled(unit: bytes, header: Callable[[int], bytes] = array32) -> bytes:
    """An envelope whose body is one container of as many `unit`s as fit in 1 MiB."""
    count = (MiB - len(ENVELOPE) - 5) // len(unit)
    return ENVELOPE + header(count) + unit * count


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes
    reason: str
    error: type[SnapshotError] = SnapshotDecodeError


CLAIM = b"\xff\xff\xff\xff"  # a 32-bit length prefix of 2^32-1

CASES = [
    # Length prefixes claiming 2^32-1 elements or bytes, with nothing or 1 MiB behind them.
    Hostile("array32-claim", ENVELOPE + b"\xdd" + CLAIM, "ends before the snapshot body"),
    Hostile(
        "array32-claim-nested", ENVELOPE + (b"\xdd" + CLAIM) * 100, "ends before the snapshot body"
    ),
    Hostile(
        "array32-claim-nested-1MiB", ENVELOPE + (b"\xdd" + CLAIM) * (MiB // 5), "nesting too deep"
    ),
    Hostile(
        "array32-claim-1MiB", ENVELOPE + b"\xdd" + CLAIM + bytes(MiB), "ends before the snapshot"
    ),
    Hostile(
        "map32-claim-1MiB", ENVELOPE + b"\xdf" + CLAIM + bytes(MiB), "ends before the snapshot"
    ),
    Hostile(
        "str32-claim-1MiB", ENVELOPE + b"\xdb" + CLAIM + b"a" * MiB, "ends before the snapshot"
    ),
    Hostile(
        "bin32-claim-1MiB", ENVELOPE + b"\xc6" + CLAIM + b"a" * MiB, "ends before the snapshot"
    ),
    # msgpack's skip wraps this length to 0: the ext "ends" after its prefix, and is refused.
    Hostile("ext32-claim", ENVELOPE + b"\xc9" + CLAIM, "unsupported msgpack value"),
    Hostile("ext32-claim-1MiB", ENVELOPE + b"\xc9" + CLAIM + bytes(MiB), "unexpected bytes after"),
    # Deep nesting: refused by the structure pass, before anything is built.
    Hostile("nested-5000", ENVELOPE + b"\x91" * 5000 + b"\x90", "nesting too deep"),
    Hostile("nested-1MiB", ENVELOPE + b"\x91" * MiB + b"\x90", "nesting too deep"),
    Hostile("nested-1000", ENVELOPE + b"\x91" * 1000 + b"\x90", "expected array of 10"),
    # Huge integers: where the version goes, as the body, and 1 MiB of them.
    Hostile("u64-version", b"\x92\xcf" + b"\xff" * 8 + b"\x90", "as a u32"),
    Hostile(
        "u32-version", b"\x92\xce" + b"\xff" * 4 + b"\x90", "newer", IncompatibleSnapshotVersion
    ),
    Hostile("u64-body", ENVELOPE + b"\xcf" + b"\xff" * 8, "expected array, got int"),
    Hostile("u64-array-1MiB", filled(b"\xcf" + b"\xff" * 8), "expected array of 10"),
    Hostile("i64-min-array-1MiB", filled(b"\xd3\x80" + bytes(7)), "expected array of 10"),
    # ext types, which the format never uses.
    Hostile("fixext", ENVELOPE + b"\xd4\x01\x00", "unsupported msgpack value"),
    Hostile(
        "ext32-1MiB",
        ENVELOPE + b"\xc9" + struct.pack(">I", MiB) + b"\x01" + bytes(MiB),
        "unsupported msgpack value",
    ),
    Hostile("fixext-array-1MiB", filled(b"\xd4\x01\x00"), "unsupported msgpack value"),
    # Maps (never used), with duplicate keys.
    Hostile("duplicate-keys", ENVELOPE + b"\x82\xa1a\x01\xa1a\x02", "maps are not used"),
    Hostile("duplicate-keys-1MiB", filled(b"\xa1a\x01", map32), "maps are not used"),
    Hostile("int-keys-1MiB", filled(b"\x00\x00", map32), "not allowed for map key"),
    # Invalid UTF-8: at the end of one 1 MiB string, and in the last of many short ones.
    Hostile("invalid-utf8", ENVELOPE + b"\xa2\xff\xfe", "invalid UTF-8"),
    Hostile(
        "invalid-utf8-long-str-1MiB",
        ENVELOPE + b"\xdb" + struct.pack(">I", MiB) + b"a" * (MiB - 1) + b"\xff",
        "invalid UTF-8",
    ),
    Hostile("invalid-utf8-last-str-1MiB", filled(b"\xa3abc")[:-4] + b"\xa3ab\xff", "invalid UTF-8"),
    # Trailing garbage after a valid snapshot.
    Hostile("trailing-garbage", TYPICAL + b"\x00", "1 unexpected bytes after"),
    Hostile("trailing-garbage-1MiB", TYPICAL + bytes(MiB), f"{MiB} unexpected bytes after"),
    # Well-formed msgpack of the wrong shape, the most objects per input byte msgpack can make:
    # these set the memory bound (every object is built before the shape is checked).
    Hostile("fixints-1MiB", filled(b"\x01"), "expected array of 10"),
    Hostile("one-element-arrays-1MiB", filled(b"\x91\x00"), "expected array of 10"),
    Hostile("nested-one-element-arrays-1MiB", filled(b"\x91" * 100 + b"\x00"), "expected array"),
    Hostile("short-strs-1MiB", filled(b"\xa2ab"), "expected array of 10"),
]


def version_1(case: Hostile) -> Hostile:
    """`case` stamped version 1: its body is unpacked, then upgraded by the migration."""
    return Hostile(f"v1-{case.name}", V1_ENVELOPE + case.data[len(ENVELOPE) :], case.reason)


def v1_address_book(entry: Callable[[bytes], object], last: object) -> bytes:
    """A version 1 snapshot of about 1 MiB whose address book holds `entry(peer)` for as many
    distinct peers as fit, then `last`: shaped enough like version 1 for the migration to
    rewrite every entry."""

    def envelope(count: int) -> bytes:
        entries = [entry(b"\x00\x03" + index.to_bytes(3, "big")) for index in range(count)]
        framework = [[], [], [*entries, last], [[], None, [], 1], [], [], PEER, 0, 0]
        return msgpack.packb([1, [[0, 0], [], [], [], [], framework, [[]], [], [], []]])

    count = MiB * 1000 // (len(envelope(1000)) - len(envelope(0)))
    return envelope(count)


PEER = b"\x12\x20" + bytes(32)
DEEP_ADDRESS: object = 0
for _ in range(100):
    DEEP_ADDRESS = [DEEP_ADDRESS]

CASES += [
    # Version 1 bodies reach the migration, which must not hold two copies of them (it repacks
    # only what it rewrites: the framework) nor call Python per address book entry.
    *(
        version_1(case)
        for case in CASES
        if case.name
        in {"nested-1000", "u64-body", "u64-array-1MiB", "fixints-1MiB", "short-strs-1MiB"}
        or "arrays-1MiB" in case.name
    ),
    Hostile("v1-trailing-garbage-1MiB", V1_TYPICAL + bytes(MiB), f"{MiB} unexpected bytes after"),
    Hostile(
        "v1-address-book-of-nested-addresses-1MiB",
        v1_address_book(lambda peer: [peer, [DEEP_ADDRESS], 0], None),
        "expected `bytes`",
    ),
    Hostile(
        "v1-address-book-of-tiny-entries-1MiB-last-wrong",
        v1_address_book(lambda peer: [peer, [], 0], "x"),
        "expected array, got str",
    ),
]


def memory_bound(size: int) -> int:
    return MEMORY_FACTOR * size + MEMORY_CONSTANT


def traced_peak(data: bytes) -> int:
    """Peak bytes allocated while `decode(data)` runs (and is refused)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(SnapshotError):
            decode(data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_is_refused_in_bounded_time_and_memory(case: Hostile) -> None:
    if case.name.endswith("1MiB"):
        assert abs(len(case.data) - MiB) <= MiB // 100
    started = time.perf_counter()
    with pytest.raises(case.error, match=case.reason):
        decode(case.data)
    elapsed = time.perf_counter() - started
    assert elapsed < TIME_LIMIT_S, f"{case.name}: {elapsed:.2f} s"
    peak = traced_peak(case.data)
    assert peak <= memory_bound(len(case.data)), (
        f"{case.name}: peak {peak} bytes = {peak / len(case.data):.1f} x input"
    )


def test_short_hostile_inputs_cost_only_the_constant() -> None:
    short = [case for case in CASES if len(case.data) < 10_000]
    assert len(short) >= 8
    for case in short:
        assert traced_peak(case.data) < MEMORY_CONSTANT, case.name


def test_inputs_refused_by_the_structure_pass_cost_about_one_copy() -> None:
    """Length claims, nesting, truncation and trailing bytes are found before anything is
    built: the cost is the unpacker's copy of the input, not the objects it claims."""
    for name in ("array32-claim-1MiB", "nested-1MiB", "trailing-garbage-1MiB", "ext32-1MiB"):
        case = next(case for case in CASES if case.name == name)
        assert traced_peak(case.data) <= 3 * len(case.data), name


def test_the_bound_is_set_by_the_worst_shape_not_padded() -> None:
    """Nested 1-element arrays make one 48-byte tuple per input byte: the stated factor is
    within 2x of what they cost, so it is a real bound and not a wild guess."""
    case = next(case for case in CASES if case.name == "nested-one-element-arrays-1MiB")
    assert traced_peak(case.data) > MEMORY_FACTOR // 2 * len(case.data)
