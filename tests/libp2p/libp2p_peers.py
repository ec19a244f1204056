"""Peers with fixed keys, and the values the adapter tests put in a py-libp2p peerstore."""

from __future__ import annotations

import time

from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.envelope import Envelope, seal_record
from libp2p.peer.id import ID
from libp2p.peer.peer_record import PeerRecord
from libp2p.peer.peerdata import PeerData
from libp2p.peer.peerstore import PeerStore
from multiaddr import Multiaddr

from node_runtime import Identity, ManualClock, Node

S = 1_000_000_000
WALL = 1_764_000_000 * S
HOST_SEED = bytes([0x21]) * 32
HOST = Identity.from_private_bytes(HOST_SEED)


def seed(n: int) -> bytes:
    """The key seed of peer `n` (1..): never the host's."""
    return bytes([n]) * 32


def peer_id(n: int) -> ID:
    return ID.from_pubkey(create_new_key_pair(seed(n)).public_key)


def key(n: int) -> bytes:
    """Peer `n`'s PeerId as the node keys it."""
    return peer_id(n).to_bytes()


def address(text: str) -> Multiaddr:
    return Multiaddr(text)


def signed_record(n: int, addresses: list[Multiaddr], seq: int) -> Envelope:
    """Peer `n`'s signed peer record, as py-libp2p seals one."""
    record = PeerRecord(peer_id(n), addresses, seq)
    return seal_record(record, create_new_key_pair(seed(n)).private_key)


def host_node(clock: ManualClock | None = None) -> Node:
    """The node that runs alongside the host built from `HOST_SEED`."""
    return Node(HOST, clock=clock or ManualClock(monotonic_ns=1_000 * S, wall_ns=WALL))


def peerstore(host: IHost) -> PeerStore:
    store = host.get_peerstore()
    assert isinstance(store, PeerStore)
    return store


def peer_data(host: IHost, n: int) -> PeerData:
    return peerstore(host).peer_data_map[peer_id(n)]


def identified_seconds_ago(host: IHost, n: int, seconds: int) -> None:
    """Make py-libp2p believe peer `n`'s addresses were added `seconds` ago."""
    peer_data(host, n).last_identified = int(time.time()) - seconds
