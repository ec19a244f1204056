"""py-libp2p host persistence: nodesnap next to py-libp2p's own SQLite persistent peerstore.

One py-libp2p host (its in-memory `PeerStore`, `max_peers` raised to hold them all) knows N
peers, each as identify leaves it: 2-3 addresses with a 7200 s TTL, an Ed25519 public key, 4
protocols, 3 metadata keys (str, str, int) and a latency EWMA. Every contender makes that same
state durable, or brings it back:

    .venv/bin/python -m benchmarks.libp2p_persistence            # N = 1k, 10k; 5 rounds
    .venv/bin/python -m benchmarks.libp2p_persistence --quick    # N = 200; 2 rounds (smoke)
    .venv/bin/python -m benchmarks.libp2p_persistence --sizes 1000 --rounds 3 --dir /var/tmp

Saving.
* nodesnap, new node: `snapshot_host(host, Node(identity))` (capture every peer into a fresh
  node, then `snapshot()`) and `DirectoryStore.save` (encode, seal, write, fsync, rename, fsync
  the directory): a host's first save.
* nodesnap, node in step: the same into the node that already mirrors the host, after one
  peer's latency changed: a periodic autosave.
* nodesnap, capture only: `snapshot_host` into a new node, nothing encoded or written.
* nodesnap, new node, fsync off: `DirectoryStore(fsync=False)`, which like SQLite's WAL with
  `synchronous=NORMAL` (py-libp2p's setting) survives a process crash but not a power loss.
* SQLite, per call: a fresh `create_sync_sqlite_peerstore` populated through the peerstore API,
  one call per fact as a host learns it (add_addrs, add_pubkey, add_protocols, put per key,
  record_latency); each call rewrites the peer's rows and commits each one.
* SQLite, one batch: the same rows (py-libp2p's own key layout and serializers) written through
  its datastore's `batch()`: one transaction, one commit. The peerstore itself has no batch API.
* SQLite, one change: `record_latency` on one peer of a populated store: what the SQLite store
  pays for the change the in-step autosave saves (its cost is per change, nodesnap's per save).

Restoring (the files were just written: reads come from the page cache).
* nodesnap: `latest()` (read, check, decode) + `Node.restore` + `replay_into_host` into a fresh
  host with the same identity (the host is built outside the timed region).
* SQLite: reopen the per-call store and load every peer it lists (`peer_ids()`, then `addrs()`,
  which loads the peer's addresses, keys, metadata, protocols and latency).

Rounds are interleaved: each round runs every contender once, in an order rotated by one per
round; ratios are medians of per-round ratios to the first contender of the same round. A
contender's fresh store or host is prepared outside the timed region; `os.sync()` and
`gc.collect()` run before each timed call, the collector stays on (as in a running host).
Before timing, every contender's result is checked: the restored host holds every peer as the
original does (the SQLite store with metadata turned into strings, its known loss).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from libp2p import new_host
from libp2p.abc import IHost, IPeerStore
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import PublicKey
from libp2p.custom_types import MetadataValue
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStore, PeerStoreError
from libp2p.peer.persistent import SyncPersistentPeerStore, create_sync_sqlite_peerstore
from libp2p.peer.persistent.datastore import SQLiteDatastoreSync
from libp2p.peer.persistent.serialization import (
    serialize_addresses,
    serialize_latency,
    serialize_metadata,
    serialize_protocols,
)
from multiaddr import Multiaddr

from benchmarks.harness import (
    benchmark_parser,
    load_line,
    machine_line,
    parse_benchmark_args,
    progress,
)
from benchmarks.store import filesystem_of
from node_runtime import DirectoryStore, Identity, Node
from node_runtime.libp2p_adapter import replay_into_host, snapshot_host

DEFAULT_SIZES = (1_000, 10_000)
DEFAULT_ROUNDS = 5
QUICK_SIZES = (200,)
QUICK_ROUNDS = 2
SEED = 13
HOST_SEED = bytes(range(32))
IDENTITY = Identity.from_private_bytes(HOST_SEED)
ADDRESS_TTL_S = 7_200  # what identify gives the addresses it learns
PROTOCOLS = ("/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/ipfs/kad/1.0.0", "/meshsub/1.1.0")
KEEP_LAST = 2

NODESNAP_NEW = "nodesnap: capture into a new node + save"
NODESNAP_IN_STEP = "nodesnap: capture into the node in step + save"
NODESNAP_NO_FSYNC = "nodesnap: capture into a new node + save, fsync off"
CAPTURE_ONLY = "nodesnap: capture into a new node, no save (CPU only)"
SQLITE_PER_CALL = "SQLite: per-call commits, as a host populates it"
SQLITE_BATCH = "SQLite: one batch (datastore.batch(), one commit)"
SQLITE_ONE_CHANGE = "SQLite: one peer's latency changed (one call)"
NODESNAP_RESTORE = "nodesnap: latest() + Node.restore + replay_into_host"
SQLITE_REOPEN = "SQLite: reopen + load every listed peer"
_SCRATCH = {SQLITE_PER_CALL: "sqlite", SQLITE_BATCH: "sqlite-batch"}  # their directories
SQLITE_FILE = "peerstore.db"


# --- the host's state -------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerState:
    peer_id: ID
    public_key: PublicKey
    addrs: tuple[Multiaddr, ...]
    protocols: tuple[str, ...]
    metadata: tuple[tuple[str, MetadataValue], ...]
    latency_s: float


def build_peers(count: int, seed: int = SEED) -> list[PeerState]:
    rng = random.Random(seed)
    peers = []
    for index in range(count):
        public_key = create_new_key_pair(rng.randbytes(32)).public_key
        ip4 = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{index % 250 + 1}"
        port = rng.randrange(1024, 65536)
        addrs = [Multiaddr(f"/ip4/{ip4}/tcp/{port}"), Multiaddr(f"/ip4/{ip4}/udp/{port}/quic-v1")]
        if index % 2:
            addrs.append(Multiaddr(f"/ip6/2001:db8::{index:x}/tcp/{port}"))
        peers.append(
            PeerState(
                peer_id=ID.from_pubkey(public_key),
                public_key=public_key,
                addrs=tuple(addrs),
                protocols=PROTOCOLS,
                metadata=(
                    ("AgentVersion", f"go-libp2p/0.{rng.randrange(30, 40)}.0"),
                    ("ProtocolVersion", "ipfs/0.1.0"),
                    ("connections", rng.randrange(1, 4)),
                ),
                latency_s=round(rng.uniform(0.005, 0.3), 6),
            )
        )
    return peers


def populate(store: IPeerStore, peers: Sequence[PeerState]) -> None:
    """Write `peers` through the peerstore API, one call per fact, as a host learns them."""
    for peer in peers:
        store.add_addrs(peer.peer_id, peer.addrs, ADDRESS_TTL_S)
        store.add_pubkey(peer.peer_id, peer.public_key)
        store.add_protocols(peer.peer_id, peer.protocols)
        for key, value in peer.metadata:
            store.put(peer.peer_id, key, value)
        store.record_latency(peer.peer_id, peer.latency_s)


def fresh_host(peer_count: int) -> IHost:
    """A host with the benchmark's identity whose in-memory peerstore holds `peer_count` peers
    besides its own entry (py-libp2p's default `max_peers` is 1,000: beyond, it evicts)."""
    peerstore = PeerStore(max_records=peer_count + 1, max_peers=peer_count + 1)
    return new_host(key_pair=create_new_key_pair(HOST_SEED), peerstore_opt=peerstore)


def write_batch(path: Path, peers: Sequence[PeerState]) -> None:
    """The rows the per-call path leaves, in one transaction, with py-libp2p's own layout."""
    datastore = SQLiteDatastoreSync(path)
    layout = SyncPersistentPeerStore(datastore)  # for its key layout only
    batch = datastore.batch()
    for peer in peers:
        peer_id = peer.peer_id
        batch.put(layout._get_addr_key(peer_id), serialize_addresses(peer.addrs))
        batch.put(
            layout._get_key_key(peer_id),
            serialize_metadata({"pubkey": peer.public_key.serialize()}),
        )
        batch.put(layout._get_metadata_key(peer_id), serialize_metadata(dict(peer.metadata)))
        batch.put(layout._get_protocol_key(peer_id), serialize_protocols(peer.protocols))
        batch.put(layout._get_latency_key(peer_id), serialize_latency(int(peer.latency_s * 1e9)))
    batch.commit()
    datastore.close()


def reload_sqlite(path: Path) -> SyncPersistentPeerStore:
    """Reopen a SQLite peerstore and load every peer it lists into memory."""
    store = create_sync_sqlite_peerstore(path)
    for peer_id in store.peer_ids():
        store.addrs(peer_id)
    return store


# --- correctness ------------------------------------------------------------------------------

PeerView = tuple[tuple[str, ...], bytes, tuple[str, ...], tuple[tuple[str, object], ...], float]


def view(store: IPeerStore, peers: Sequence[PeerState]) -> dict[ID, PeerView]:
    """What `store` holds of each of `peers`: ordered addresses, public key, protocols,
    metadata (with its types) and latency; a peer it does not know is left out."""
    seen: dict[ID, PeerView] = {}
    for peer in peers:
        peer_id = peer.peer_id
        try:
            seen[peer_id] = (
                tuple(map(str, store.addrs(peer_id))),
                store.pubkey(peer_id).serialize(),
                tuple(sorted(store.get_protocols(peer_id))),
                tuple((key, store.get(peer_id, key)) for key, _ in peer.metadata),
                round(store.latency_EWMA(peer_id), 6),
            )
        except PeerStoreError:
            continue
    return seen


def metadata_as_strings(views: Mapping[ID, PeerView]) -> dict[ID, PeerView]:
    """`views` as the SQLite store gives them back: every metadata value a string."""
    return {
        peer_id: (addrs, key, protocols, tuple((k, str(v)) for k, v in metadata), latency)
        for peer_id, (addrs, key, protocols, metadata, latency) in views.items()
    }


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"correctness check failed: {what}")


# --- contenders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    name: str
    prepare: Callable[[], Callable[[], object]]
    """Untimed: builds what one timed call needs and returns that call."""


@dataclass
class Fixture:
    peers: list[PeerState]
    host: IHost
    in_step: Node
    workdir: Path
    stores: dict[str, DirectoryStore]
    rng: random.Random
    latest_scratch: dict[str, Path] = field(default_factory=dict)
    kept_sqlite: Path | None = None
    """A SQLite store written the per-call way, kept for the contenders that reopen one."""

    def scratch(self, name: str) -> Path:
        """A new, empty directory for one round's fresh store, whose predecessor is removed."""
        previous = self.latest_scratch.get(name)
        if previous is not None:
            shutil.rmtree(previous)
        path = self.workdir / f"{name}-{time.perf_counter_ns()}"
        path.mkdir()
        self.latest_scratch[name] = path
        return path

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


def open_fixture(peer_count: int, workdir: Path) -> Fixture:
    progress(f"N={peer_count:,}: building the host")
    peers = build_peers(peer_count)
    host = fresh_host(peer_count)
    populate(host.get_peerstore(), peers)
    in_step = Node(IDENTITY)
    snapshot_host(host, in_step)
    stores = {
        NODESNAP_NEW: DirectoryStore(workdir / "nodesnap", keep_last=KEEP_LAST),
        NODESNAP_IN_STEP: DirectoryStore(workdir / "nodesnap-in-step", keep_last=KEEP_LAST),
        NODESNAP_NO_FSYNC: DirectoryStore(
            workdir / "nodesnap-no-fsync", keep_last=KEEP_LAST, fsync=False
        ),
    }
    return Fixture(peers, host, in_step, workdir, stores, random.Random(SEED))


def save_contenders(fixture: Fixture) -> list[Contender]:
    host, peers = fixture.host, fixture.peers

    def new_node(store: DirectoryStore) -> Callable[[], Callable[[], object]]:
        def prepare() -> Callable[[], object]:
            node = Node(IDENTITY)
            return lambda: store.save(snapshot_host(host, node))

        return prepare

    def capture_only() -> Callable[[], object]:
        node = Node(IDENTITY)
        return lambda: snapshot_host(host, node)

    def in_step() -> Callable[[], object]:
        # What a periodic autosave finds: the node mirrors the host, and one peer changed.
        changed = fixture.rng.choice(peers).peer_id
        host.get_peerstore().record_latency(changed, fixture.rng.uniform(0.005, 0.3))
        store = fixture.stores[NODESNAP_IN_STEP]
        return lambda: store.save(snapshot_host(host, fixture.in_step))

    def sqlite_per_call() -> Callable[[], object]:
        path = fixture.scratch(_SCRATCH[SQLITE_PER_CALL]) / SQLITE_FILE

        def write() -> object:
            store = create_sync_sqlite_peerstore(path)
            populate(store, peers)
            store.close()
            return path

        return write

    def sqlite_batch() -> Callable[[], object]:
        path = fixture.scratch(_SCRATCH[SQLITE_BATCH]) / SQLITE_FILE
        return lambda: write_batch(path, peers)

    def sqlite_one_change() -> Callable[[], object]:
        # What SQLite pays for the change the in-step autosave saves: its cost is per change.
        assert fixture.kept_sqlite is not None
        store = create_sync_sqlite_peerstore(fixture.kept_sqlite)
        changed = fixture.rng.choice(peers).peer_id
        store.addrs(changed)  # in memory already, as in a host that knows the peer
        latency = fixture.rng.uniform(0.005, 0.3)

        def change() -> object:
            store.record_latency(changed, latency)
            return store

        return change

    return [
        Contender(NODESNAP_NEW, new_node(fixture.stores[NODESNAP_NEW])),
        Contender(NODESNAP_IN_STEP, in_step),
        Contender(NODESNAP_NO_FSYNC, new_node(fixture.stores[NODESNAP_NO_FSYNC])),
        Contender(CAPTURE_ONLY, capture_only),
        Contender(SQLITE_PER_CALL, sqlite_per_call),
        Contender(SQLITE_BATCH, sqlite_batch),
        Contender(SQLITE_ONE_CHANGE, sqlite_one_change),
    ]


def restore_contenders(fixture: Fixture) -> list[Contender]:
    store = fixture.stores[NODESNAP_NEW]
    peer_count = len(fixture.peers)

    def nodesnap() -> Callable[[], object]:
        host = fresh_host(peer_count)

        def restore() -> object:
            stored = store.latest()
            assert stored is not None
            node = Node.restore(stored.snapshot, IDENTITY)
            replay_into_host(node, host)
            return host

        return restore

    def sqlite() -> Callable[[], object]:
        path = fixture.kept_sqlite
        assert path is not None
        return lambda: reload_sqlite(path)

    return [Contender(NODESNAP_RESTORE, nodesnap), Contender(SQLITE_REOPEN, sqlite)]


def check(fixture: Fixture) -> None:
    """Run every contender once, untimed, and check what it leaves; keep a SQLite store written
    the per-call way for the contenders that reopen one."""
    peers = fixture.peers
    store = fixture.host.get_peerstore()
    populated = view(store, peers)  # what the SQLite contenders write: `peers` as they are
    _require(len(populated) == len(peers), "the host holds every peer")
    for entry in save_contenders(fixture):
        if entry.name == SQLITE_ONE_CHANGE:  # it needs the kept store
            continue
        entry.prepare()()
        if entry.name == CAPTURE_ONLY:
            continue
        saved_in = fixture.stores.get(entry.name)
        if saved_in is None:  # a SQLite contender
            reloaded = reload_sqlite(fixture.latest_scratch[_SCRATCH[entry.name]] / SQLITE_FILE)
            held = view(reloaded, peers)
            reloaded.close()
            _require(held == metadata_as_strings(populated), f"{entry.name}: metadata as strings")
            continue
        # The host as that save found it (the in-step contender changes one latency first).
        expected = view(store, peers)
        stored = saved_in.latest()
        _require(stored is not None, f"{entry.name} saved a snapshot")
        assert stored is not None
        host = fresh_host(len(peers))
        replay_into_host(Node.restore(stored.snapshot, IDENTITY), host)
        held = view(host.get_peerstore(), peers)
        _require(held == expected, f"{entry.name}: the replayed host holds every peer")
    # Kept: the next per-call save writes a directory of its own.
    kept = fixture.latest_scratch.pop(_SCRATCH[SQLITE_PER_CALL]) / SQLITE_FILE
    fixture.kept_sqlite = kept
    one_change = next(e for e in save_contenders(fixture) if e.name == SQLITE_ONE_CHANGE)
    time_once(one_change.prepare())
    reloaded = reload_sqlite(kept)
    changed = [p for p in peers if round(reloaded.latency_EWMA(p.peer_id), 6) != p.latency_s]
    reloaded.close()
    _require(len(changed) == 1, f"{SQLITE_ONE_CHANGE}: one peer's latency changed on disk")
    for entry in restore_contenders(fixture):
        time_once(entry.prepare())


# --- timing -----------------------------------------------------------------------------------


def time_once(run: Callable[[], object]) -> int:
    gc.collect()
    os.sync()  # no dirty pages of the previous contender for this one's fsyncs to flush
    start = time.perf_counter_ns()
    result = run()
    elapsed = time.perf_counter_ns() - start
    if isinstance(result, SyncPersistentPeerStore):
        result.close()
    return elapsed


def run_rounds(groups: Sequence[Sequence[Contender]], rounds: int) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {entry.name: [] for group in groups for entry in group}
    for round_index in range(rounds):
        for group in groups:
            shift = round_index % len(group)
            for entry in [*group[shift:], *group[:shift]]:
                samples[entry.name].append(time_once(entry.prepare()))
    return samples


@dataclass(frozen=True)
class Row:
    peers: int
    contender: str
    ms: float
    ratio: float
    """Median of per-round ratios to the group's first contender."""


def summarize(
    peers: int, group: Sequence[Contender], samples: Mapping[str, Sequence[int]]
) -> list[Row]:
    base = samples[group[0].name]
    return [
        Row(
            peers,
            entry.name,
            statistics.median(samples[entry.name]) / 1e6,
            statistics.median(
                mine / theirs for mine, theirs in zip(samples[entry.name], base, strict=True)
            ),
        )
        for entry in group
    ]


def _ratio(row: Row) -> str:
    return f"{row.ratio:.2f}" if row.ratio >= 0.01 else f"{row.ratio:.4f}"


def _per_peer(row: Row) -> str:
    # One change touches one peer: dividing its time by N would mean nothing.
    return "—" if row.contender == SQLITE_ONE_CHANGE else f"{row.ms * 1e3 / row.peers:.1f}"


def table(rows: Sequence[Row], base: str) -> str:
    lines = [
        f"| N peers | contender | median ms | µs/peer | vs {base} |",
        "|---:|---|---:|---:|---:|",
    ]
    lines.extend(
        f"| {row.peers:,} | {row.contender} | {row.ms:.1f} | {_per_peer(row)} | {_ratio(row)} |"
        for row in rows
    )
    return "\n".join(lines)


def measure(peer_count: int, rounds: int, workdir: Path) -> tuple[list[Row], list[Row]]:
    fixture = open_fixture(peer_count, workdir)
    try:
        progress(f"N={peer_count:,}: checking every contender once")
        check(fixture)
        saves = save_contenders(fixture)
        restores = restore_contenders(fixture)
        progress(f"N={peer_count:,}: {rounds} rounds")
        samples = run_rounds([saves, restores], rounds)
    finally:
        fixture.close()
    return summarize(peer_count, saves, samples), summarize(peer_count, restores, samples)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = benchmark_parser(
        "python -m benchmarks.libp2p_persistence",
        "Benchmark saving and restoring a py-libp2p host with nodesnap and with py-libp2p's "
        "SQLite persistent peerstore.",
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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    save_rows: list[Row] = []
    restore_rows: list[Row] = []
    parent = tempfile.mkdtemp(prefix="nodesnap-libp2p-bench-", dir=args.dir)
    try:
        for peer_count in args.sizes:
            workdir = Path(parent) / str(peer_count)
            workdir.mkdir()
            saved, restored = measure(peer_count, args.rounds, workdir)
            save_rows += saved
            restore_rows += restored
    finally:
        shutil.rmtree(parent)

    print("# py-libp2p host persistence: nodesnap and py-libp2p's SQLite peerstore")
    print()
    print(f"Command: `{shlex.join(sys.orig_argv)}`")
    print()
    print(
        f"Machine: {machine_line('libp2p', 'msgpack')}; files in {parent} "
        f"({filesystem_of(Path(parent))}); {load_line()} at the end of the run"
    )
    print()
    print(
        f"Sizes {', '.join(f'{n:,}' for n in args.sizes)} peers; {args.rounds} interleaved "
        f"rounds (contender order rotated each round); seed {SEED}; "
        f"total {time.perf_counter() - started:.0f} s. Times are medians over rounds; ratios "
        "are medians of per-round ratios to the first row of the size (same round)."
    )
    print()
    print("## Saving the host's state")
    print()
    print(table(save_rows, "nodesnap, new node"))
    print()
    print("## Restoring it into a fresh host")
    print()
    print(table(restore_rows, "nodesnap"))
    print()
    for row in save_rows + restore_rows:
        if row.contender.startswith("SQLite"):
            print(f"N={row.peers:,}: {row.contender}: {_ratio(row)}x nodesnap's time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
