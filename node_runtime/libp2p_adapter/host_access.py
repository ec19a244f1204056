"""The parts of a py-libp2p 0.8 host the adapter reads and writes, each reached here and nowhere
else.

py-libp2p has no public getter for what a snapshot needs: a peer's TTL and the time it was
last identified, its metadata keys, its signed record's seq, the dial backoff (the swarm's
negative peer cache). So the adapter reads the peerstore's `peer_data_map` and
`peer_record_map` and the swarm's `_negative_peer_cache`. Each access is one function here,
checked for the shape it expects (an `UnsupportedHostError` otherwise, never an
`AttributeError` deep in a capture), and guarded by tests/libp2p/test_libp2p_internals.py,
which fails loudly if a py-libp2p upgrade moves any of them.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
from libp2p.abc import IHost
from libp2p.network.connection_gate import ConnectionGate
from libp2p.network.swarm import Swarm, _NegativePeerCache
from libp2p.peer.id import ID
from libp2p.peer.peerdata import PeerData
from libp2p.peer.peerstore import PeerRecordState, PeerStore

from node_runtime.libp2p_adapter.errors import UnsupportedHostError


def swarm_of(host: IHost) -> Swarm:
    """The host's network, which must be py-libp2p's `Swarm` (the adapter wraps its dials and
    its security upgrade, and reads its dial backoff)."""
    network = host.get_network()
    if not isinstance(network, Swarm):
        raise UnsupportedHostError(
            f"the host's network is a `{type(network).__name__}`, not py-libp2p's `Swarm`"
        )
    return network


def peerstore_of(host: IHost) -> PeerStore:
    """The host's peerstore, which must be py-libp2p's in-memory `PeerStore` (the adapter reads
    its per-peer data; a persistent peerstore keeps it elsewhere)."""
    peerstore = host.get_peerstore()
    if not isinstance(peerstore, PeerStore):
        raise UnsupportedHostError(
            f"the host's peerstore is a `{type(peerstore).__name__}`, not py-libp2p's "
            "in-memory `PeerStore`"
        )
    return peerstore


def peer_data_map(peerstore: PeerStore) -> dict[ID, PeerData]:
    """Every peer the peerstore holds, with its data: addresses, their TTL and
    `last_identified` (one of each per peer, wall-clock seconds), keys, protocols, metadata
    and latency. The live dict: a replay writes through it."""
    return _dict_attribute(peerstore, "peer_data_map")


def peer_record_map(peerstore: PeerStore) -> dict[ID, PeerRecordState]:
    """Every signed peer record the peerstore holds (envelope and seq), by peer."""
    return _dict_attribute(peerstore, "peer_record_map")


@attrs.frozen
class NegativeCache:
    """The swarm's dial backoff: `entries` maps a peer's base58 PeerId to the
    `time.monotonic()` second its dials are allowed again (the live dict), `ttl_s` is how long
    a failed peer is refused, `max_size` how many entries the cache keeps."""

    entries: dict[str, float]
    ttl_s: float
    max_size: int


def negative_cache(swarm: Swarm) -> NegativeCache:
    """The swarm's negative peer cache (`Swarm._negative_peer_cache`), which refuses `dial_peer`
    to a peer whose addresses all failed, for a minute."""
    cache = getattr(swarm, "_negative_peer_cache", None)
    entries = getattr(cache, "_cache", None)
    ttl_s = getattr(cache, "_ttl", None)
    max_size = getattr(cache, "_max_size", None)
    if (
        not isinstance(entries, dict)
        or not isinstance(ttl_s, int | float)
        or not math.isfinite(ttl_s)
        or ttl_s < 0
        or not isinstance(max_size, int)
    ):
        raise UnsupportedHostError(
            "the swarm's negative peer cache is not the py-libp2p 0.8 `_NegativePeerCache` "
            "(`_cache`, `_ttl`, `_max_size`)"
        )
    return NegativeCache(entries, float(ttl_s), max_size)


def negative_peer_cache(swarm: Swarm) -> _NegativePeerCache:
    """The negative peer cache itself, whose mutating methods (`mark_failed`, `evict`, `clear`)
    a `HostChangeTracker` wraps."""
    cache = getattr(swarm, "_negative_peer_cache", None)
    if not isinstance(cache, _NegativePeerCache):
        raise UnsupportedHostError("the swarm has no py-libp2p 0.8 `_NegativePeerCache`")
    return cache


def connection_gate(swarm: Swarm) -> ConnectionGate:
    """The swarm's IP gate: its `allow_list` and `deny_list` of `ipaddress` networks."""
    gate = getattr(swarm, "connection_gate", None)
    if not isinstance(gate, ConnectionGate) or not (
        type(gate.allow_list) is list and type(gate.deny_list) is list
    ):
        raise UnsupportedHostError("the swarm has no py-libp2p 0.8 `ConnectionGate`")
    return gate


def _dict_attribute(owner: object, name: str) -> dict[Any, Any]:
    value = getattr(owner, name, None)
    if type(value) is not dict:
        raise UnsupportedHostError(
            f"`{type(owner).__name__}.{name}` is not the dict py-libp2p 0.8 keeps"
        )
    return value
