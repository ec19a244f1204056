"""Issue 12's crash promise for address expiry, end to end with real processes and clocks: a node
autosaving under the documented setup (`Checkpointer` over a `DirectoryStore`, the system
clock) is SIGKILLed mid-traffic; a new process restores its latest snapshot an hour of wall time
later. Addresses whose TTL ran out during that hour are gone and counted; longer-lived ones come
back with their remaining time less the hour; permanent ones come back permanent.

The restoring process reads its wall clock an hour ahead instead of sleeping for an hour: the
clock rule only sees the two clocks' readings (docs/runtime.md).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from node_runtime import Checkpointer, DirectoryStore, Identity, ManualClock, Multiaddr, Node
from node_runtime.peer_id import PeerId

S = 1_000_000_000
HOUR = 3_600 * S
IDENTITY = Identity.from_private_bytes(b"\x0b" * 32)
SHORT_TTL, LONG_TTL = 60 * S, 2 * HOUR  # one runs out within the hour, one does not
PEERS = 50


def _peer(index: int) -> PeerId:
    return PeerId.from_bytes(bytes.fromhex("1220") + index.to_bytes(32, "big"))


def _address(index: int, port: int) -> Multiaddr:
    return Multiaddr.from_string(f"/ip4/10.0.{index // 256}.{index % 256}/tcp/{port}")


def _child(directory: Path, ready: int) -> None:
    """Fill the address book, wait for a save, say so, then keep changing the node (re-adding
    short-lived addresses, as identify does) until killed."""
    node = Node(IDENTITY)
    checkpointer = Checkpointer(node, DirectoryStore(directory), interval=0.05, cooldown=0.01)
    for index in range(PEERS):
        peer = _peer(index)
        node.add_peer_address(peer, _address(index, 1), ttl_ns=SHORT_TTL)
        node.add_peer_address(peer, _address(index, 2), ttl_ns=LONG_TTL)
        node.add_peer_address(peer, _address(index, 3))
    checkpointer.flush()
    os.write(ready, b"1")
    turn = 0
    while True:
        turn += 1
        node.add_peer_address(_peer(turn % PEERS), _address(turn % PEERS, 1), ttl_ns=SHORT_TTL)
        node.counters.increment("turns")
        checkpointer.poll()
        time.sleep(0.001)


def test_a_killed_node_restored_an_hour_later_has_only_its_unexpired_addresses(
    tmp_path: Path,
) -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's exit skips coverage
        try:
            os.close(read)
            _child(tmp_path, write)
        finally:
            os._exit(1)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
        time.sleep(0.2)  # mid-traffic: several autosaves after the first
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read)

    with DirectoryStore(tmp_path) as store:
        latest = store.latest()
    assert latest is not None
    snapshot = latest.snapshot
    taken_at = snapshot.taken_at
    clock = ManualClock(monotonic_ns=7 * S, wall_ns=taken_at.wall_ns + HOUR)
    node = Node.restore(snapshot, IDENTITY, clock=clock)

    assert node.counters.get("restore:expired_addresses_dropped") == PEERS
    for entry in node.snapshot().framework.address_book:
        saved = next(e for e in snapshot.framework.address_book if e.peer_id == entry.peer_id)
        index = int.from_bytes(entry.peer_id[2:], "big")
        assert [a.to_bytes() for a in map(Multiaddr.from_bytes, entry.addresses)] == [
            _address(index, 2).to_bytes(),
            _address(index, 3).to_bytes(),
        ]
        long_lived, permanent = entry.expires_ns
        saved_left = saved.expires_ns[saved.addresses.index(entry.addresses[0])]
        assert saved_left is not None
        assert long_lived == clock.monotonic_ns() + (saved_left - taken_at.monotonic_ns) - HOUR
        assert permanent is None
    assert len(node.address_book) == PEERS
