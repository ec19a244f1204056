"""A node autosaves into ./nodesnap-data, "crashes", and comes back from its latest snapshot.

Run with `make demo`. The node keeps its key in `nodesnap-data/identity.key` and its signed
snapshots in `nodesnap-data/store/`; each run adds generations to the same store, as a node
restarting on the same machine would. This is the interim main job until `nodesnap demo` runs a
real network.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from node_runtime import (
    Checkpointer,
    DirectoryStore,
    Identity,
    Multiaddr,
    Node,
    PeerId,
)
from snapshot_schema import SnapshotError

DATA_DIR = Path("nodesnap-data")
PEERS = 1_000
BLOCKED = 5
FAILING = 50
ENVELOPES = 20


def load_or_create_identity(path: Path) -> Identity:
    if path.exists():
        return Identity.load(path)
    identity = Identity.generate()
    identity.save(path)
    return identity


def run_until_crash(node: Node, store: DirectoryStore, rng: random.Random) -> list[PeerId]:
    """Drive the node for a while with autosave on; return the peers it blocked. No clean
    shutdown: the checkpointer is never closed, as when the process is killed."""
    checkpointer = Checkpointer(node, store, interval=0.05, cooldown=0.01)
    peers = [Identity.from_private_bytes(rng.randbytes(32)).peer_id for _ in range(PEERS)]
    for index, peer in enumerate(peers):
        node.add_peer_address(
            peer, Multiaddr.from_string(f"/ip4/10.0.{index // 250}.{index % 250}/tcp/4001")
        )
        node.address_book.retain(peer.to_bytes())
    for peer in peers[:BLOCKED]:
        node.governor.block(peer.to_bytes())  # saved at once: policy changes are urgent
    for peer in peers[BLOCKED : BLOCKED + FAILING]:
        node.record_dial_failure(peer)
    for _ in range(ENVELOPES):
        node.outbound.enqueue(rng.randbytes(64))
    for _ in range(100):
        node.command_ids.mint()
    node.exec_ids.mint()
    node.counters.increment("envelopes_sent", 12_345)
    time.sleep(0.06)
    checkpointer.poll()  # the periodic save: the last changes are now on their way to disk
    checkpointer.flush()
    return peers[:BLOCKED]


def main() -> int:
    DATA_DIR.mkdir(exist_ok=True)
    identity = load_or_create_identity(DATA_DIR / "identity.key")
    rng = random.Random()  # noqa: S311  # sample data, not secrets
    store_path = DATA_DIR / "store"

    with DirectoryStore(store_path, signer=identity) as store:
        before = Node(identity)
        blocked = run_until_crash(before, store, rng)
        minted_before = before.command_ids.next_id
        backing_off = {p for p, _ in before.backoff.items()}
    # "Restart": a new store handle and node, from nothing but the directory and the key.
    started = time.perf_counter()
    try:
        with DirectoryStore(store_path, signer=identity) as store:
            latest = store.latest()
            if latest is None:
                print("error: the store holds no snapshot", file=sys.stderr)
                return 1
            after = Node.restore(latest.snapshot, identity)
    except SnapshotError as error:
        print(f"error: {store_path}: {error}", file=sys.stderr)
        return 1
    restore_ms = (time.perf_counter() - started) * 1000

    checks = {
        "same PeerId": after.peer_id == identity.peer_id,
        "no command ID reused": after.command_ids.mint() >= minted_before,
        "blocked peers still blocked": all(
            after.governor.is_blocked(p.to_bytes()) for p in blocked
        ),
        "peers in backoff not re-dialled early": not any(
            after.backoff.is_ready(p, after.clock.monotonic_ns()) for p in backing_off
        ),
        "pending envelopes redelivered": sum(e.redelivered for e in after.outbound.items())
        == ENVELOPES,
    }
    ref = latest.ref
    print(f"node          {identity.peer_id}")
    print(f"snapshot      {ref.path} (generation {ref.generation}, {ref.size:,} bytes, signed)")
    print(
        f"state         {len(after.address_book):,} peers, {len(blocked)} blocked, "
        f"{len(backing_off)} backing off, {ENVELOPES} envelopes pending"
    )
    print(f"restore       {restore_ms:.1f} ms (read, verify signature, decode, rebuild)")
    for name, passed in checks.items():
        print(f"{'ok  ' if passed else 'FAIL'}          {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
