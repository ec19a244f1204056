"""Snapshot codec benchmark: our `encode`/`decode` against bare msgpack, msgspec, cattrs, pickle.

Every contender handles the SAME snapshot (N peers: address book, health, backoff, N outbound
envelopes, a blocklist of N/100 peers), built from a seeded `random.Random`, in each of several
data shapes (`DATA_SHAPES`: Ed25519 identity or sha2-256 PeerIds, 1, 2 or 8 addresses per peer,
envelopes of 7 B, 64 B or 1 KiB; and spec version 2's peer state, `peer-state`: addresses that
expire and a peer record per peer). Rounds are interleaved: each round runs every contender once,
in an order rotated by one per round, and each contender's time is divided by the floor's time
in the same round; tables show medians of those paired ratios. Encode and decode results are
assigned and `del`-ed inside the timed region, for every contender, so freeing them is timed
too. msgspec, cattrs and pickle run on the first shape only (they are baselines, not targets).

    .venv/bin/python -m benchmarks.codec                     # N = 1k, 10k, 100k; 7 rounds
    .venv/bin/python -m benchmarks.codec --quick             # N = 1k, 10k; 3 rounds
    .venv/bin/python -m benchmarks.codec --sizes 1000,10000 --rounds 5 --shapes typical,ed25519

Contenders:
1. floor: `msgpack.packb`/`unpackb` of bare nested lists with our wire layout
   (`[spec_version, encode_body(snapshot)]`), unpacked with msgpack's defaults (lists);
2. ours, two rows, one per way a `FrameworkSnapshot` comes to exist:
   - "built by constructors": `encode` of the snapshot as built above, through the record
     constructors, whose tables keep the rows they read from the records;
   - "via build_framework": `encode` of the same snapshot with its framework built by
     `build_framework` from the same values (the very leaf objects the floor packs), as
     `decode` builds it; its tables keep the rows they were given. Its decode column is
     `snapshot_schema.decode` (full validation, records built);
3. msgspec: `Struct` mirrors (`array_like=True, frozen=True`, u32/u64/non-empty constraints),
   `msgspec.msgpack.Encoder().encode` / `Decoder(type).decode`: typed, validated decoding;
4. cattrs: plain frozen attrs mirrors through `cattrs.preconf.msgpack.make_converter()`
   (`unstructure` + `msgpack.packb`, `msgpack.unpackb` + `structure`);
5. pickle: protocol 5 of the same plain attrs mirrors cattrs uses: what a user who pickles
   their attrs records gets. (Pickling our own `TransientSnapshot` is cheaper than that, since
   its tables pickle as their rows, and unpickling them validates nothing, as pickle never does.)

The mirrors copy the ten records the peer tables use, IP networks and peer records included
(`TransientSnapshot` keeps `taken_at` and `framework`: the execution-state fields are empty in
this data and are left out of the mirrors). Their metadata values are typed `Any`: msgspec has
no union of `str` and `bytes`.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

import attrs
import msgpack
import msgspec
from cattrs.preconf.msgpack import make_converter

from benchmarks.harness import (
    GC_MODES,
    benchmark_parser,
    cell,
    gc_heading,
    load_line,
    machine_line,
    measure_per_gc_mode,
    parse_benchmark_args,
)
from snapshot_schema import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    ClockReading,
    FrameworkSnapshot,
    FrozenMap,
    IpNetwork,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingOutboundEntry,
    TransientSnapshot,
    build_framework,
    decode,
    encode,
)
from snapshot_schema.encoder import encode_body
from snapshot_schema.record_table import RecordTable

DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_ROUNDS = 7
QUICK_SIZES = (1_000, 10_000)
QUICK_ROUNDS = 3
SEED = 20_240_601
ENVELOPE_SIZE = 64

# --- msgspec mirrors: typed, validated decoding ----------------------------------------------

U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
# msgspec bounds must fit an int64; its decoder refuses integers above 2**64 - 1 anyway.
U64 = Annotated[int, msgspec.Meta(ge=0)]
NonEmptyBytes = Annotated[bytes, msgspec.Meta(min_length=1)]


class MsClockReading(msgspec.Struct, array_like=True, frozen=True):
    monotonic_ns: U64
    wall_ns: U64


class MsAddressBookEntry(msgspec.Struct, array_like=True, frozen=True):
    peer_id: bytes
    addresses: tuple[NonEmptyBytes, ...]
    ref_count: U64
    expires_ns: tuple[U64 | None, ...]


class MsPeerHealth(msgspec.Struct, array_like=True, frozen=True):
    peer_id: bytes
    consecutive_failures: U32
    last_event_ns: U64
    down: bool


class MsIpNetwork(msgspec.Struct, array_like=True, frozen=True):
    address: bytes
    prefix_length: U32


class MsPeerGovernor(msgspec.Struct, array_like=True, frozen=True):
    blocklist: frozenset[bytes]
    allowlist: frozenset[bytes] | None
    health: tuple[MsPeerHealth, ...]
    failure_threshold: U32
    ip_allow: tuple[MsIpNetwork, ...]
    ip_deny: tuple[MsIpNetwork, ...]


class MsBackoffEntry(msgspec.Struct, array_like=True, frozen=True):
    peer_id: bytes
    attempts: U32
    last_attempt_ns: U64
    next_retry_ns: U64


class MsPendingOutbound(msgspec.Struct, array_like=True, frozen=True):
    envelope_bytes: NonEmptyBytes
    redelivered: bool


class MsPeerRecord(msgspec.Struct, array_like=True, frozen=True):
    peer_id: bytes
    public_key: bytes | None
    protocols: tuple[str, ...]
    metadata: tuple[tuple[str, Any], ...]  # msgspec has no union of `str` and `bytes`
    latency_ns: U64 | None
    signed_record: NonEmptyBytes | None


class MsFramework(msgspec.Struct, array_like=True, frozen=True):
    counters: dict[str, U64]
    fired_phases: tuple[str, ...]
    address_book: tuple[MsAddressBookEntry, ...]
    peer_governor: MsPeerGovernor
    backoff_table: tuple[MsBackoffEntry, ...]
    pending_outbound: tuple[MsPendingOutbound, ...]
    peer_id_bytes: bytes
    next_command_id: U64
    next_exec_id: U64
    peer_records: tuple[MsPeerRecord, ...]
    extensions: dict[str, bytes]
    spec_version: U64


class MsTransient(msgspec.Struct, array_like=True, frozen=True):
    taken_at: MsClockReading
    framework: MsFramework


MSGSPEC_MIRRORS: Mapping[type, type] = {
    ClockReading: MsClockReading,
    AddressBookEntrySnapshot: MsAddressBookEntry,
    PeerHealthSnapshot: MsPeerHealth,
    IpNetwork: MsIpNetwork,
    PeerGovernorSnapshot: MsPeerGovernor,
    BackoffEntry: MsBackoffEntry,
    PendingOutboundEntry: MsPendingOutbound,
    PeerRecordSnapshot: MsPeerRecord,
    FrameworkSnapshot: MsFramework,
    TransientSnapshot: MsTransient,
}

# --- attrs mirrors for cattrs: plain frozen classes, no validators ---------------------------


@attrs.frozen
class AtClockReading:
    monotonic_ns: int
    wall_ns: int


@attrs.frozen
class AtAddressBookEntry:
    peer_id: bytes
    addresses: tuple[bytes, ...]
    ref_count: int
    expires_ns: tuple[int | None, ...]


@attrs.frozen
class AtPeerHealth:
    peer_id: bytes
    consecutive_failures: int
    last_event_ns: int
    down: bool


@attrs.frozen
class AtIpNetwork:
    address: bytes
    prefix_length: int


@attrs.frozen
class AtPeerGovernor:
    blocklist: frozenset[bytes]
    allowlist: frozenset[bytes] | None
    health: tuple[AtPeerHealth, ...]
    failure_threshold: int
    ip_allow: tuple[AtIpNetwork, ...]
    ip_deny: tuple[AtIpNetwork, ...]


@attrs.frozen
class AtBackoffEntry:
    peer_id: bytes
    attempts: int
    last_attempt_ns: int
    next_retry_ns: int


@attrs.frozen
class AtPendingOutbound:
    envelope_bytes: bytes
    redelivered: bool


@attrs.frozen
class AtPeerRecord:
    peer_id: bytes
    public_key: bytes | None
    protocols: tuple[str, ...]
    metadata: tuple[tuple[str, Any], ...]  # cattrs passes `Any` through as it is
    latency_ns: int | None
    signed_record: bytes | None


@attrs.frozen
class AtFramework:
    counters: dict[str, int]
    fired_phases: tuple[str, ...]
    address_book: tuple[AtAddressBookEntry, ...]
    peer_governor: AtPeerGovernor
    backoff_table: tuple[AtBackoffEntry, ...]
    pending_outbound: tuple[AtPendingOutbound, ...]
    peer_id_bytes: bytes
    next_command_id: int
    next_exec_id: int
    peer_records: tuple[AtPeerRecord, ...]
    extensions: dict[str, bytes]
    spec_version: int


@attrs.frozen
class AtTransient:
    taken_at: AtClockReading
    framework: AtFramework


ATTRS_MIRRORS: Mapping[type, type] = {
    ClockReading: AtClockReading,
    AddressBookEntrySnapshot: AtAddressBookEntry,
    PeerHealthSnapshot: AtPeerHealth,
    IpNetwork: AtIpNetwork,
    PeerGovernorSnapshot: AtPeerGovernor,
    BackoffEntry: AtBackoffEntry,
    PendingOutboundEntry: AtPendingOutbound,
    PeerRecordSnapshot: AtPeerRecord,
    FrameworkSnapshot: AtFramework,
    TransientSnapshot: AtTransient,
}


def _mirror_fields(cls: type) -> tuple[str, ...]:
    if issubclass(cls, msgspec.Struct):
        return cls.__struct_fields__
    if not attrs.has(cls):
        raise TypeError(f"{cls.__name__} is neither a msgspec Struct nor an attrs class")
    return tuple(attribute.name for attribute in attrs.fields(cls))


def mirror(value: object, mirrors: Mapping[type, type]) -> object:
    """`value` (our records) rebuilt with the mirror classes; maps become dicts."""
    cls = mirrors.get(type(value))
    if cls is not None:
        names = _mirror_fields(cls)
        return cls(**{name: mirror(getattr(value, name), mirrors) for name in names})
    if isinstance(value, tuple | RecordTable):
        return tuple(mirror(item, mirrors) for item in value)
    if isinstance(value, FrozenMap):
        return {key: mirror(item, mirrors) for key, item in value.items()}
    return value


def as_lists(value: object) -> object:
    """Every tuple and list in `value` as a list: the bare structure msgpack round-trips."""
    if isinstance(value, list | tuple):
        return [as_lists(item) for item in value]
    return value


def as_tuples(value: object) -> object:
    """Every list and tuple in `value` as a tuple: the plain layout `build_framework` takes."""
    if isinstance(value, list | tuple):
        return tuple(as_tuples(item) for item in value)
    return value


# --- data --------------------------------------------------------------------------------------

PEER_ID_PREFIX = b"\x00\x24\x08\x01\x12\x20"  # identity multihash of a protobuf Ed25519 key
SHA2_256_PREFIX = b"\x12\x20"  # sha2-256 multihash: PeerIds of RSA and secp256k1 keys
PROTOCOLS = ("/ipfs/id/1.0.0", "/ipfs/kad/1.0.0", "/ipfs/ping/1.0.0")
METADATA = {"AgentVersion": "kubo/0.32.1/", "ProtocolVersion": "ipfs/0.1.0"}
SIGNED_RECORD_SIZE = 150


@dataclass(frozen=True)
class DataShape:
    """What each peer of a benchmark snapshot looks like."""

    name: str
    peer_id_prefix: bytes  # followed by 32 random bytes
    addresses: int  # binary multiaddrs per address book entry
    envelope_size: int  # bytes per pending outbound envelope (one per peer)
    peer_state: bool = False  # address expiries and a peer record per peer (spec version 2)

    def describe(self) -> str:
        kind = "Ed25519 identity" if self.peer_id_prefix == PEER_ID_PREFIX else "sha2-256"
        described = (
            f"{kind} PeerIds, {self.addresses} address{'es' if self.addresses > 1 else ''}, "
            f"{self.envelope_size} B envelopes"
        )
        if self.peer_state:
            described += (
                f", expiring addresses and a peer record each ({len(PROTOCOLS)} protocols, "
                f"{len(METADATA)} metadata entries, a {SIGNED_RECORD_SIZE} B signed record)"
            )
        return described


ED25519_SHAPE = DataShape("ed25519", PEER_ID_PREFIX, 2, ENVELOPE_SIZE)
TYPICAL_SHAPE = DataShape("typical", SHA2_256_PREFIX, 2, 7)
"""The rows of the `typical` golden snapshot, grown: sha2-256 PeerIds, a TCP and a QUIC address
per peer, envelopes as short as its `0a 05 hello`."""
PEER_STATE_SHAPE = DataShape("peer-state", PEER_ID_PREFIX, 2, ENVELOPE_SIZE, peer_state=True)
"""Spec version 2's peer state: each address expiring (half of them) or permanent, and a peer
record per peer: its Ed25519 public key, three protocols, two text metadata entries, a latency
and a signed peer record of about 150 bytes."""
DATA_SHAPES = (
    ED25519_SHAPE,
    TYPICAL_SHAPE,
    DataShape("sha2-1-address", SHA2_256_PREFIX, 1, ENVELOPE_SIZE),
    DataShape("sha2-8-addresses", SHA2_256_PREFIX, 8, ENVELOPE_SIZE),
    DataShape("sha2-1KiB-envelopes", SHA2_256_PREFIX, 2, 1024),
    PEER_STATE_SHAPE,
)
SHAPES_BY_NAME = {shape.name: shape for shape in DATA_SHAPES}


def _peer_ids(rng: random.Random, count: int, prefix: bytes = PEER_ID_PREFIX) -> list[bytes]:
    peers: set[bytes] = set()
    while len(peers) < count:
        peers.add(prefix + rng.randbytes(32))
    return sorted(peers)


def _addresses(rng: random.Random) -> tuple[bytes, bytes]:
    """`/ip4/…/tcp/PORT` and `/ip4/…/udp/PORT/quic-v1`, as binary multiaddrs."""
    ip4 = b"\x04" + rng.randbytes(4)
    port = rng.randrange(1024, 65536).to_bytes(2, "big")
    return ip4 + b"\x06" + port, ip4 + b"\x91\x02" + port + b"\xcd\x03"


def _address_list(rng: random.Random, count: int) -> tuple[bytes, ...]:
    """`count` distinct addresses: TCP and QUIC pairs, each pair on its own host."""
    addresses: list[bytes] = []
    while len(addresses) < count:
        addresses.extend(address for address in _addresses(rng) if address not in addresses)
    return tuple(addresses[:count])


def build_snapshot(
    peer_count: int, seed: int = SEED, shape: DataShape = ED25519_SHAPE
) -> TransientSnapshot:
    """A snapshot of a node that knows `peer_count` peers, reproducible from `seed`."""
    rng = random.Random(seed)
    peers = _peer_ids(rng, peer_count + 1, shape.peer_id_prefix)
    own = peers.pop(rng.randrange(len(peers)))
    now = 3_600 * 10**9 + rng.randrange(10**12)
    address_book = []
    health = []
    backoff = []
    records = []
    for peer in peers:
        addresses = _address_list(rng, shape.addresses)
        expiries: list[int | None] = [None] * len(addresses)
        if shape.peer_state:
            expiries = [
                None if rng.random() < 0.5 else now + rng.randrange(1, 3_600 * 10**9)
                for _ in addresses
            ]
            records.append(
                PeerRecordSnapshot(
                    peer,
                    public_key=peer[2:],  # the identity PeerId embeds it
                    protocols=PROTOCOLS,
                    metadata=METADATA,
                    latency_ns=rng.randrange(10**5, 10**9),
                    signed_record=rng.randbytes(SIGNED_RECORD_SIZE),
                )
            )
        address_book.append(
            AddressBookEntrySnapshot(peer, addresses, rng.randrange(1, 4), expiries)
        )
        failures = rng.randrange(5)
        health.append(
            PeerHealthSnapshot(peer, failures, now - rng.randrange(10**12), failures >= 3)
        )
        attempts = rng.randrange(1, 10)
        last_attempt = now - rng.randrange(10**11)
        delay = min(5 + attempts**2, 300) * 10**9
        backoff.append(BackoffEntry(peer, attempts, last_attempt, last_attempt + delay))
    outbound = [
        PendingOutboundEntry(rng.randbytes(shape.envelope_size), rng.random() < 0.1)
        for _ in range(peer_count)
    ]
    framework = FrameworkSnapshot(
        counters={
            "dials": rng.randrange(10**6),
            "envelopes_received": rng.randrange(10**9),
            "envelopes_sent": rng.randrange(10**9),
            "restores": 3,
        },
        fired_phases=("bootstrap", "ready"),
        address_book=address_book,
        peer_governor=PeerGovernorSnapshot(
            blocklist=frozenset(rng.sample(peers, peer_count // 100)), health=health
        ),
        backoff_table=backoff,
        pending_outbound=outbound,
        peer_id_bytes=own,
        next_command_id=rng.randrange(10**6),
        next_exec_id=rng.randrange(10**6),
        peer_records=records,
    )
    return TransientSnapshot(
        taken_at=ClockReading(monotonic_ns=now, wall_ns=1_700_000_000 * 10**9 + now),
        framework=framework,
    )


# --- contenders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    name: str
    encode: Callable[[], bytes]
    decode: Callable[[bytes], object] | None  # None: not timed (another row has it)
    data: bytes


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"correctness check failed: {what}")


def _floor_unpack(data: bytes) -> object:
    return msgpack.unpackb(data)


def contenders(snapshot: TransientSnapshot, *, baselines: bool = True) -> list[Contender]:
    """Every contender on `snapshot`, each checked to round-trip before it is timed; without
    `baselines`, only the floor and ours (msgspec, cattrs and pickle left out)."""
    bare = as_lists([snapshot.spec_version, encode_body(snapshot)])

    def floor_pack() -> bytes:
        return msgpack.packb(bare, use_bin_type=True)

    def ours_encode() -> bytes:
        return encode(snapshot)

    via_build_framework = attrs.evolve(
        snapshot, framework=build_framework(as_tuples(encode_body(snapshot)[5]))
    )

    def ours_via_build_framework_encode() -> bytes:
        return encode(via_build_framework)

    ours = encode(snapshot)
    _require(decode(ours) == snapshot, "decode(encode(s)) == s")
    _require(via_build_framework == snapshot, "build_framework builds the same record")
    _require(ours_via_build_framework_encode() == ours, "both records encode identically")
    floor = floor_pack()
    _require(floor == ours, "the floor writes the same bytes as encode()")
    _require(_floor_unpack(floor) == bare, "msgpack round trip of the bare lists")
    ours_rows = [
        Contender("floor (msgpack lists)", floor_pack, _floor_unpack, floor),
        Contender("ours, built by constructors", ours_encode, None, ours),
        Contender("ours, via build_framework", ours_via_build_framework_encode, decode, ours),
    ]
    if not baselines:
        return ours_rows

    spec_struct = cast(MsTransient, mirror(snapshot, MSGSPEC_MIRRORS))
    ms_encoder = msgspec.msgpack.Encoder()
    ms_decoder = msgspec.msgpack.Decoder(MsTransient)

    def msgspec_encode() -> bytes:
        return ms_encoder.encode(spec_struct)

    spec_bytes = msgspec_encode()
    _require(ms_decoder.decode(spec_bytes) == spec_struct, "msgspec round trip")

    attrs_record = cast(AtTransient, mirror(snapshot, ATTRS_MIRRORS))
    converter = make_converter()

    def cattrs_encode() -> bytes:
        return converter.dumps(attrs_record)

    def cattrs_decode(data: bytes) -> object:
        return converter.loads(data, AtTransient)

    cattrs_bytes = cattrs_encode()
    _require(cattrs_decode(cattrs_bytes) == attrs_record, "cattrs round trip")

    def pickle_encode() -> bytes:
        return pickle.dumps(attrs_record, protocol=5)

    pickled = pickle_encode()
    _require(pickle.loads(pickled) == attrs_record, "pickle round trip")

    return [
        *ours_rows,
        Contender("msgspec Struct", msgspec_encode, ms_decoder.decode, spec_bytes),
        Contender("cattrs + attrs", cattrs_encode, cattrs_decode, cattrs_bytes),
        Contender("pickle 5 (attrs records)", pickle_encode, pickle.loads, pickled),
    ]


# --- timing ------------------------------------------------------------------------------------


def time_encode(encode_once: Callable[[], bytes]) -> int:
    gc.collect()
    start = time.perf_counter_ns()
    result = encode_once()
    del result
    return time.perf_counter_ns() - start


def time_decode(decode_once: Callable[[bytes], object], data: bytes) -> int:
    gc.collect()
    start = time.perf_counter_ns()
    result = decode_once(data)
    del result
    return time.perf_counter_ns() - start


@dataclass
class Samples:
    """Per-round times (ns) of one contender at one size in one gc mode."""

    encode_ns: list[int] = field(default_factory=list)
    decode_ns: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    peers: int
    contender: str
    encode_ms: float
    decode_ms: float | None  # None for a contender whose decode is not timed
    encode_ratio: float
    decode_ratio: float | None
    size: int


def run_rounds(entries: Sequence[Contender], rounds: int) -> dict[str, Samples]:
    """`rounds` interleaved rounds; round r starts at contender r (mod count)."""
    samples = {entry.name: Samples() for entry in entries}
    for round_index in range(rounds):
        shift = round_index % len(entries)
        for entry in [*entries[shift:], *entries[:shift]]:
            samples[entry.name].encode_ns.append(time_encode(entry.encode))
            if entry.decode is not None:
                samples[entry.name].decode_ns.append(time_decode(entry.decode, entry.data))
    return samples


def _median_ratio(times: Sequence[int], floor: Sequence[int]) -> float:
    return statistics.median(mine / base for mine, base in zip(times, floor, strict=True))


def summarize(
    peers: int, entries: Sequence[Contender], samples: Mapping[str, Samples]
) -> list[Row]:
    floor = samples[entries[0].name]
    rows = []
    for entry in entries:
        own = samples[entry.name]
        decoded = bool(own.decode_ns)
        rows.append(
            Row(
                peers=peers,
                contender=entry.name,
                encode_ms=statistics.median(own.encode_ns) / 1e6,
                decode_ms=statistics.median(own.decode_ns) / 1e6 if decoded else None,
                encode_ratio=_median_ratio(own.encode_ns, floor.encode_ns),
                decode_ratio=_median_ratio(own.decode_ns, floor.decode_ns) if decoded else None,
                size=len(entry.data),
            )
        )
    return rows


# --- report ------------------------------------------------------------------------------------


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| N peers | contender | encode ms | decode ms "
        "| encode vs floor | decode vs floor | bytes |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.contender} | {row.encode_ms:.2f} | {cell(row.decode_ms)} "
        f"| {row.encode_ratio:.2f} | {cell(row.decode_ratio)} | {row.size:,} |"
        for row in rows
    )
    return "\n".join(lines)


TARGET_DECODE_RATIO = 3.0
"""Validated decode of a 100k-peer snapshot within this many times the floor, for every shape."""


def parse_shapes(text: str) -> tuple[DataShape, ...]:
    try:
        return tuple(SHAPES_BY_NAME[name.strip()] for name in text.split(",") if name.strip())
    except KeyError as error:
        known = ", ".join(SHAPES_BY_NAME)
        raise argparse.ArgumentTypeError(f"unknown shape {error} (known: {known})") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = benchmark_parser(
        "python -m benchmarks.codec",
        "Benchmark the snapshot codec against msgpack, msgspec, cattrs and pickle.",
        sizes=DEFAULT_SIZES,
        quick_sizes=QUICK_SIZES,
        rounds=DEFAULT_ROUNDS,
        quick_rounds=QUICK_ROUNDS,
    )
    parser.add_argument(
        "--shapes",
        type=parse_shapes,
        default=DATA_SHAPES,
        help="comma-separated data shapes (default: all of "
        + ", ".join(SHAPES_BY_NAME)
        + "); msgspec, cattrs and pickle run on the first only",
    )
    return parse_benchmark_args(parser, argv)


def measure_shape(
    shape: DataShape, sizes: Sequence[int], rounds: int, *, baselines: bool
) -> dict[str, list[Row]]:
    return measure_per_gc_mode(
        sizes,
        rounds,
        lambda peers: contenders(build_snapshot(peers, shape=shape), baselines=baselines),
        lambda peers, entries: summarize(peers, entries, run_rounds(entries, rounds)),
        f"the {shape.name} snapshot",
    )


def verdict_table(results: Mapping[DataShape, Mapping[str, Sequence[Row]]]) -> str:
    """Per shape, at the largest size: our encode and validated decode against the floor."""
    lines = [
        "| shape | N peers | gc | encode vs floor | decode vs floor "
        f"| decode ≤ {TARGET_DECODE_RATIO:g}x |",
        "|---|---:|---|---:|---:|---|",
    ]
    for shape, rows in results.items():
        for mode in GC_MODES:
            largest = max(row.peers for row in rows[mode])
            row = next(
                row
                for row in rows[mode]
                if row.peers == largest and row.contender == "ours, via build_framework"
            )
            ratio = row.decode_ratio or 0.0
            met = "met" if ratio <= TARGET_DECODE_RATIO else "**missed**"
            lines.append(
                f"| {shape.name} | {largest:,} | {mode} | {row.encode_ratio:.2f} "
                f"| {ratio:.2f} | {met} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes: tuple[int, ...] = args.sizes
    rounds: int = args.rounds
    data_shapes: tuple[DataShape, ...] = args.shapes
    thresholds = gc.get_threshold()
    started = time.perf_counter()
    results = {
        shape: measure_shape(shape, sizes, rounds, baselines=index == 0)
        for index, shape in enumerate(data_shapes)
    }

    print("# Snapshot codec benchmark")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(f"Machine: {machine_line('msgpack', 'msgspec', 'cattrs', 'attrs')}")
    print()
    print(
        f"Sizes {', '.join(f'{peers:,}' for peers in sizes)} peers; {rounds} interleaved rounds "
        f"(contender order rotated each round); seed {SEED}; "
        f"total {time.perf_counter() - started:.0f} s; {load_line()} at the end."
    )
    print(
        "Times are medians over rounds; ratios are medians of per-round ratios to the floor "
        "(same round). Encode and decode results are assigned and `del`-ed inside the timed "
        "region for every contender (freeing them is timed). Fixtures are `gc.freeze()`-d and "
        "`gc.collect()` runs before each timed call, outside the timed region."
    )
    print(
        "Note: our `decode` and `encode` pause the collector internally while they build "
        "records or rows, so they run with gc off in both tables. A node host's snapshots are "
        "built by `build_framework` (`Node.snapshot()`, `decode`): the 'via build_framework' "
        "encode is the one it gets."
    )
    print()
    print("## Verdict")
    print()
    print(verdict_table(results))
    for shape, rows in results.items():
        print()
        print(f"## {shape.name}: {shape.describe()}")
        for mode in GC_MODES:
            print()
            print(f"### {gc_heading(mode, thresholds)}")
            print()
            print(markdown_table(rows[mode]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
