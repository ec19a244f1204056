"""Durable storage benchmark: `DirectoryStore.save` and `latest()` against bare file I/O.

Every contender handles the SAME snapshot (N peers, built by `benchmarks.codec.build_snapshot`,
owned by a fixed identity so it can be signed). Rounds are interleaved as in `benchmarks.codec`:
each round runs every contender once, in an order rotated by one per round, and each contender's
time is divided by the floor's time in the same round; tables show medians of those paired ratios.

    .venv/bin/python -m benchmarks.store                  # N = 1k, 10k, 100k; 7 rounds
    .venv/bin/python -m benchmarks.store --quick          # N = 1k, 10k; 3 rounds
    .venv/bin/python -m benchmarks.store --sizes 1000,10000 --rounds 5 --dir /var/tmp

Saving. The floor is the least a durable replace can do with the same sealed bytes: write them
to a temporary file, fsync it, rename it over the target, fsync the directory. `save` does that
too, and before it encodes and seals the snapshot (SHA-256 over the file; optionally zlib,
AES-256-GCM, an Ed25519 signature), and after it applies retention (`keep_last=2`: one older file
is unlinked and the directory fsync-ed again). `encode()` and `seal()` alone are timed as well, so
the CPU part of a save can be told from the I/O part.

Loading. The floor reads the file and `decode()`s the encoded snapshot inside it (no integrity
check). `latest()` lists the directory, reads the newest file, checks its lengths and SHA-256
(and signature, decryption, decompression) and decodes it. The files were just written, so reads
come from the page cache, not the disk.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import attrs

from benchmarks.codec import build_snapshot
from benchmarks.harness import benchmark_parser, machine_line, parse_benchmark_args, progress
from node_runtime.directory_store import DirectoryStore
from node_runtime.identity import Identity
from node_runtime.sealed_file import read_header, seal
from snapshot_schema import DEFAULT_MAX_SNAPSHOT_SIZE, TransientSnapshot, decode, encode

DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_ROUNDS = 7
QUICK_SIZES = (1_000, 10_000)
QUICK_ROUNDS = 3
IDENTITY = Identity.from_private_bytes(bytes(range(32)))
ENCRYPTION_KEY = bytes(range(32, 64))
KEEP_LAST = 2
MAX_SNAPSHOT_SIZE = max(DEFAULT_MAX_SNAPSHOT_SIZE, 1 << 30)  # --sizes may go past the default

FLOOR_SAVE = "floor: write+fsync+rename+fsync dir"
FLOOR_NO_FSYNC = "floor without fsyncs"
PLAIN_SAVE = "save (fsync on)"
FLOOR_LOAD = "floor: read file + decode()"
PLAIN_LOAD = "latest() plain"


@dataclass(frozen=True)
class Variant:
    name: str
    options: Mapping[str, object]


SAVE_VARIANTS = (
    Variant(PLAIN_SAVE, {}),
    Variant("save (fsync off)", {"fsync": False}),
    Variant("save signed", {"signer": IDENTITY}),
    Variant("save encrypted", {"encryption_key": ENCRYPTION_KEY}),
    Variant("save signed+encrypted", {"signer": IDENTITY, "encryption_key": ENCRYPTION_KEY}),
    Variant("save compressed", {"compress": True}),
)
LOADED_VARIANTS = {  # the store each `latest()` reads; fsync off writes the same bytes as on
    PLAIN_LOAD: PLAIN_SAVE,
    "latest() signed": "save signed",
    "latest() encrypted": "save encrypted",
    "latest() signed+encrypted": "save signed+encrypted",
    "latest() compressed": "save compressed",
}
SEAL_ONLY = "seal() only (encode + SHA-256)"
SEAL_VARIANTS = (  # CPU only: what each layer adds, without the noise of the disk
    Variant("seal() signed", {"signer": IDENTITY}),
    Variant("seal() encrypted", {"encryption_key": ENCRYPTION_KEY}),
    Variant("seal() compressed", {"compress": True}),
)
COSTS = (  # (what, variant, baseline): the paired difference reported as that cost
    ("fsyncs, bare (file + directory)", FLOOR_SAVE, FLOOR_NO_FSYNC),
    ("fsyncs in save (file; directory after rename)", PLAIN_SAVE, "save (fsync off)"),
    ("SHA-256 digest, joining the file", SEAL_ONLY, "encode() only"),
    ("Ed25519 signature", "seal() signed", SEAL_ONLY),
    ("AES-256-GCM encryption", "seal() encrypted", SEAL_ONLY),
    ("zlib level 1", "seal() compressed", SEAL_ONLY),
)


# --- the floors -------------------------------------------------------------------------------
# Deliberately NOT `durable_io.write_atomically`: the floor is the yardstick `save` is measured
# against, so it must not share `save`'s code. Built on the same function, an extra fsync or copy
# slipped into it would inflate floor and save alike and the ratio would hide it. Kept to the
# bare syscalls (fixed temporary name, no O_EXCL, no clean-up on failure).


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def bare_replace(target: Path, data: bytes, *, durable: bool) -> None:
    """Temporary file, write, (fsync), rename over `target`, (fsync the directory)."""
    temporary = target.with_name(f".tmp-{target.name}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    descriptor = os.open(temporary, flags, 0o600)
    try:
        _write_all(descriptor, data)
        if durable:
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, target)
    if durable:
        directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def bare_load(path: Path) -> TransientSnapshot:
    """Read the sealed file and decode the snapshot inside, trusting the header's lengths."""
    data = path.read_bytes()
    header = read_header(data)
    body = memoryview(data)[header.header_length : header.header_length + header.encoded_length]
    return decode(body, max_size=MAX_SNAPSHOT_SIZE)


# --- contenders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    name: str
    run: Callable[[], object]
    size: int
    """Bytes of the file it writes or reads (0 for the CPU-only rows)."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"correctness check failed: {what}")


def signable(snapshot: TransientSnapshot) -> TransientSnapshot:
    """`snapshot` as taken by `IDENTITY`, so a store with that signer may seal it."""
    framework = attrs.evolve(snapshot.framework, peer_id_bytes=IDENTITY.peer_id.to_bytes())
    return attrs.evolve(snapshot, framework=framework)


@dataclass
class Fixture:
    snapshot: TransientSnapshot
    stores: dict[str, DirectoryStore]
    floor_path: Path

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


def open_fixture(snapshot: TransientSnapshot, workdir: Path) -> Fixture:
    stores = {
        variant.name: DirectoryStore(
            workdir / f"store-{index}",
            keep_last=KEEP_LAST,
            max_snapshot_size=MAX_SNAPSHOT_SIZE,
            **variant.options,  # type: ignore[arg-type]
        )
        for index, variant in enumerate(SAVE_VARIANTS)
    }
    floor_dir = workdir / "floor"
    floor_dir.mkdir()
    return Fixture(snapshot, stores, floor_dir / "snapshot.nsnap")


def save_contenders(fixture: Fixture) -> list[Contender]:
    """The floors, encode/seal alone, and every save variant; each checked once, untimed."""
    snapshot = fixture.snapshot
    sealed = seal(snapshot, generation=1)
    floor_path = fixture.floor_path

    def floor() -> None:
        bare_replace(floor_path, sealed, durable=True)

    def floor_no_fsync() -> None:
        bare_replace(floor_path, sealed, durable=False)

    def encode_only() -> bytes:
        return encode(snapshot)

    entries = [
        Contender(FLOOR_SAVE, floor, len(sealed)),
        Contender(FLOOR_NO_FSYNC, floor_no_fsync, len(sealed)),
        Contender("encode() only", encode_only, 0),
        Contender(SEAL_ONLY, _sealer(snapshot, {}), 0),
    ]
    entries.extend(
        Contender(variant.name, _sealer(snapshot, variant.options), 0) for variant in SEAL_VARIANTS
    )
    for name, store in fixture.stores.items():
        ref = store.save(snapshot)
        loaded = store.latest()
        _require(loaded is not None and loaded.snapshot == snapshot, f"{name} round trip")
        entries.append(Contender(name, _saver(store, snapshot), ref.size))
    floor()
    _require(bare_load(floor_path) == snapshot, "the load floor decodes the floor's file")
    return entries


def _sealer(snapshot: TransientSnapshot, options: Mapping[str, object]) -> Callable[[], object]:
    def seal_once() -> object:
        return seal(snapshot, generation=1, **options)  # type: ignore[arg-type]

    return seal_once


def _saver(store: DirectoryStore, snapshot: TransientSnapshot) -> Callable[[], object]:
    def save() -> object:
        return store.save(snapshot)

    return save


def load_contenders(fixture: Fixture) -> list[Contender]:
    floor_path = fixture.floor_path
    entries = [
        Contender(FLOOR_LOAD, lambda: bare_load(floor_path), floor_path.stat().st_size),
    ]
    for name, saved_by in LOADED_VARIANTS.items():
        store = fixture.stores[saved_by]
        newest = store.list()[-1]
        entries.append(Contender(name, store.latest, newest.size))
    return entries


# --- timing -----------------------------------------------------------------------------------


def time_once(run: Callable[[], object]) -> int:
    gc.collect()
    # No dirty pages left by the previous contender: each fsync then pays for its own file
    # only (on ext4 a journal commit may flush other files' data first).
    os.sync()
    start = time.perf_counter_ns()
    result = run()
    del result
    return time.perf_counter_ns() - start


def run_rounds(groups: Sequence[Sequence[Contender]], rounds: int) -> dict[str, list[int]]:
    """`rounds` interleaved rounds; in round r each group starts at its contender r (mod size).
    Saves run before loads in every round, so `latest()` always reads a file just written."""
    samples: dict[str, list[int]] = {entry.name: [] for group in groups for entry in group}
    for round_index in range(rounds):
        for group in groups:
            shift = round_index % len(group)
            for entry in [*group[shift:], *group[:shift]]:
                samples[entry.name].append(time_once(entry.run))
    return samples


@dataclass(frozen=True)
class Row:
    peers: int
    contender: str
    ms: float
    ratio: float
    size: int


def summarize(
    peers: int, entries: Sequence[Contender], samples: Mapping[str, Sequence[int]]
) -> list[Row]:
    floor = samples[entries[0].name]
    return [
        Row(
            peers=peers,
            contender=entry.name,
            ms=statistics.median(samples[entry.name]) / 1e6,
            ratio=statistics.median(
                mine / base for mine, base in zip(samples[entry.name], floor, strict=True)
            ),
            size=entry.size,
        )
        for entry in entries
    ]


@dataclass(frozen=True)
class Cost:
    peers: int
    what: str
    ms: float
    share: float
    """Of the plain save's median time."""


def costs(peers: int, samples: Mapping[str, Sequence[int]]) -> list[Cost]:
    plain = statistics.median(samples[PLAIN_SAVE])
    rows = []
    for what, variant, baseline in COSTS:
        difference = statistics.median(
            mine - base for mine, base in zip(samples[variant], samples[baseline], strict=True)
        )
        rows.append(Cost(peers, what, difference / 1e6, difference / plain))
    return rows


# --- report -----------------------------------------------------------------------------------


def markdown_table(rows: Sequence[Row], what: str) -> str:
    lines = [
        f"| N peers | {what} | median ms | vs floor | file bytes |",
        "|---:|---|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.contender} | {row.ms:.2f} | {row.ratio:.2f} "
        f"| {f'{row.size:,}' if row.size else '-'} |"
        for row in rows
    )
    return "\n".join(lines)


def costs_table(rows: Sequence[Cost]) -> str:
    lines = [
        "| N peers | cost of | median ms (paired difference) | share of a plain save |",
        "|---:|---|---:|---:|",
    ]
    lines.extend(f"| {row.peers:,} | {row.what} | {row.ms:.2f} | {row.share:.0%} |" for row in rows)
    return "\n".join(lines)


def filesystem_of(path: Path) -> str:
    """The type and device of the filesystem holding `path` (Linux; "unknown" elsewhere)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    resolved = os.fspath(path.resolve())
    best = ("", "unknown", "unknown")
    for line in mounts:
        device, mount_point, kind, *_ = line.split()
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best[0]):
            best = (mount_point, kind, device)
    return f"{best[1]} on {best[2]}"


def cpu_pressure() -> str:
    """Linux PSI: the share of time some task waited for a CPU (other load on the machine)."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "n/a"
    fields = dict(item.split("=") for item in line.split()[1:])
    return f"{fields.get('avg60', '?')}% (avg60)"


def store_machine_line(workdir: Path) -> str:
    return (
        f"{machine_line('cryptography', 'msgpack')}; files in {workdir} ({filesystem_of(workdir)})"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = benchmark_parser(
        "python -m benchmarks.store",
        "Benchmark DirectoryStore save and latest() against bare durable file I/O.",
        sizes=DEFAULT_SIZES,
        quick_sizes=QUICK_SIZES,
        rounds=DEFAULT_ROUNDS,
        quick_rounds=QUICK_ROUNDS,
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to create the stores (default: a temporary directory); the disk measured",
    )
    return parse_benchmark_args(parser, argv)


def measure(peers: int, rounds: int, workdir: Path) -> tuple[list[Row], list[Row], list[Cost]]:
    progress(f"N={peers:,}: building the snapshot, checking every variant round-trips")
    fixture = open_fixture(signable(build_snapshot(peers)), workdir)
    try:
        saves = save_contenders(fixture)
        loads = load_contenders(fixture)
        # Fixtures go to the permanent generation: collections scan what the code under test
        # allocates, not the benchmark's own 100k-entry snapshot.
        gc.collect()
        gc.freeze()
        try:
            progress(f"N={peers:,}: {rounds} rounds")
            samples = run_rounds((saves, loads), rounds)
        finally:
            gc.unfreeze()
        return (
            summarize(peers, saves, samples),
            summarize(peers, loads, samples),
            costs(peers, samples),
        )
    finally:
        fixture.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes: tuple[int, ...] = args.sizes
    rounds: int = args.rounds
    started = time.perf_counter()
    pressure_before = cpu_pressure()
    save_rows: list[Row] = []
    load_rows: list[Row] = []
    cost_rows: list[Cost] = []
    with tempfile.TemporaryDirectory(prefix="nodesnap-store-bench-", dir=args.dir) as root:
        for peers in sizes:
            workdir = Path(root) / f"n{peers}"
            workdir.mkdir()
            saved, loaded, cost = measure(peers, rounds, workdir)
            save_rows.extend(saved)
            load_rows.extend(loaded)
            cost_rows.extend(cost)
        machine = store_machine_line(Path(root))

    print("# Durable storage benchmark")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(f"Machine: {machine}")
    print()
    print(
        f"Sizes {', '.join(f'{peers:,}' for peers in sizes)} peers; {rounds} interleaved rounds "
        f"(order rotated each round); snapshots from `benchmarks.codec.build_snapshot`; "
        f"`keep_last={KEEP_LAST}`; total {time.perf_counter() - started:.0f} s. "
        f"CPU pressure (time some task waited for a CPU): {pressure_before} before, "
        f"{cpu_pressure()} after."
    )
    print(
        "Times are medians over rounds; ratios are medians of per-round ratios to the floor "
        "(same round). The collector is on; fixtures are `gc.freeze()`-d; `gc.collect()` and "
        "`os.sync()` run before each timed call, outside the timed region. Saves use fsync "
        "unless noted; every save includes encoding, sealing and retention."
    )
    print()
    print("## save")
    print()
    print(markdown_table(save_rows, "operation"))
    print()
    print("## What each option costs a save")
    print()
    print(costs_table(cost_rows))
    print()
    print("## latest() (verify + decode), from the page cache")
    print()
    print(markdown_table(load_rows, "operation"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
