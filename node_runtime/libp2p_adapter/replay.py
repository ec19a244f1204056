"""Replay a restored `Node` into a fresh py-libp2p host with the same identity.

`replay_into_host(node, host, pubsub=...)` gives the host back what `capture_host` took from
one: the node is the source of truth here. All of it is converted and checked first, and the
host is written only once nothing can refuse the whole replay (a host of another identity, a
malformed pubsub blacklist extension), so a refused replay leaves the host as it was.

- **Addresses**: one `add_addrs` per peer, in the node's order, with the TTL that keeps them
  until the nearest whole wall-clock second to their expiry (py-libp2p counts TTLs in whole
  seconds from `last_identified`; permanent addresses get TTL 0). Addresses expired by now,
  and those with less of their time left than py-libp2p can keep (it keeps an address to the
  end of the current second at least), are dropped and counted. py-libp2p keeps one TTL per
  peer: a peer whose addresses expire at different times gets the earliest of them, so no
  address lives longer than it had (a restore never gives a deadline more time than it had).
- **Signed peer records**: re-consumed with `consume_peer_record`. They are verified already:
  a node's peer record book holds only records nodesnap's `verify_signed_peer_record` accepted
  for their peer, and `Node.restore` verifies each one again (leaving out, and counting, any
  that fails), so replay does not pay for a third check. `consume_peer_record` replaces the
  peer's addresses with the record's, as a set; the node's ordered list is written back right
  after it. A peer left with no address gets no record (py-libp2p drops the record of such a
  peer itself), so a record never brings back addresses that expired.
- **Public keys, protocols, metadata** (each value of its own type; `bytes` values, which
  py-libp2p refuses, are left out and counted) **and latency** (the average set exactly).
- **Dial backoff**: every node backoff entry still in the future puts its peer in the swarm's
  negative cache for the time it has left, at most the cache's own TTL (60 s): py-libp2p never
  refuses a dial for longer, and the node's `may_dial` keeps the longer backoffs of its own
  policy.
- **IP gate**: the `ConnectionGate` allow and deny lists become the governor's.
- **Pubsub blacklist**, when `pubsub` is given: exactly the extension's peers.

The host's own PeerId is never replayed as a peer. Peers that the peerstore's `max_peers`
evicts while replaying are counted: construct the host with a larger `PeerStore(max_peers=…)`.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import attrs
from libp2p.abc import IHost
from libp2p.crypto.keys import PublicKey
from libp2p.crypto.serialization import deserialize_public_key
from libp2p.custom_types import MetadataValue
from libp2p.peer.envelope import Envelope, unmarshal_envelope
from libp2p.peer.id import ID
from libp2p.peer.peerdata import PeerData
from libp2p.peer.peerstore import PeerStore
from libp2p.pubsub.pubsub import Pubsub
from multiaddr import Multiaddr as Libp2pMultiaddr

from node_runtime.libp2p_adapter.conversions import SECOND_NS, latency_seconds_of, replay_ttl_s
from node_runtime.libp2p_adapter.errors import HostIdentityMismatchError, ReplayValueError
from node_runtime.libp2p_adapter.host_access import (
    connection_gate,
    negative_cache,
    peer_data_map,
    peerstore_of,
    swarm_of,
)
from node_runtime.libp2p_adapter.pubsub_blacklist import (
    BLACKLIST_EXTENSION,
    MalformedBlacklistError,
    decode_blacklist,
)
from node_runtime.node import Node
from node_runtime.peer_key import PeerKey


@attrs.frozen
class ReplayReport:
    """What one replay wrote into the host, and what it left out."""

    peers: int = 0
    """Peers written into the peerstore."""
    addresses: int = 0
    addresses_expired: int = 0
    """Addresses dropped: expired by now, or with less time left than py-libp2p can keep."""
    addresses_refused: int = 0
    """Addresses py-libp2p's multiaddr library cannot read."""
    public_keys: int = 0
    public_keys_refused: int = 0
    """Keys py-libp2p cannot read (a key type it lacks) or that do not derive the PeerId."""
    signed_records: int = 0
    signed_records_refused: int = 0
    """Records py-libp2p cannot read or does not accept."""
    signed_records_dropped: int = 0
    """Records of peers left with no address: py-libp2p keeps none for such a peer."""
    metadata_refused: int = 0
    """Values py-libp2p cannot hold (`bytes`)."""
    peers_evicted: int = 0
    """Peers the peerstore evicted at its `max_peers` while replaying."""
    backoff_entries: int = 0
    """Peers put in the swarm's negative cache."""
    networks: int = 0
    """Entries of the gate's allow and deny lists."""
    blacklisted: int = 0
    """Peers on the pubsub blacklist."""


def replay_into_host(node: Node, host: IHost, *, pubsub: Pubsub | None = None) -> ReplayReport:
    """Write `node`'s peers, dial backoff, IP lists and (with `pubsub`) pubsub blacklist into
    `host`, a fresh host with the node's identity; what was written and left out.

    Raises, writing nothing: `HostIdentityMismatchError` when the host's PeerId is not the
    node's; `ReplayValueError` when the pubsub blacklist extension is malformed;
    `UnsupportedHostError` for a host whose parts are not py-libp2p 0.8's.
    """
    if host.get_id().to_bytes() != node.peer_id.to_bytes():
        raise HostIdentityMismatchError(
            f"the node belongs to {node.peer_id}, but the host is {host.get_id()}"
        )
    peerstore = peerstore_of(host)
    swarm = swarm_of(host)
    cache = negative_cache(swarm)
    gate = connection_gate(swarm)
    data_map = peer_data_map(peerstore)
    blacklist = None if pubsub is None else _blacklist_of(node)
    tally: Counter[str] = Counter()
    peers = _PeerPlanner(node, tally).plan()
    backoff = _negative_cache_entries(node, cache.ttl_s, cache.max_size - len(cache.entries))

    for peer in peers:
        peer.apply(peerstore, data_map, tally)
    tally["peers_evicted"] = sum(1 for peer in peers if peer.peer_id not in data_map)
    tally["peers"] = len(peers) - tally["peers_evicted"]
    cache.entries.update(backoff)
    tally["backoff_entries"] = len(backoff)
    gate.allow_list = list(node.governor.ip_allow)
    gate.deny_list = list(node.governor.ip_deny)
    tally["networks"] = len(gate.allow_list) + len(gate.deny_list)
    if pubsub is not None and blacklist is not None:
        _replace_blacklist(pubsub, blacklist)
        tally["blacklisted"] = len(blacklist)
    return ReplayReport(**tally)


def _blacklist_of(node: Node) -> list[ID]:
    extensions = node.extensions()
    data = extensions.get(BLACKLIST_EXTENSION)
    if data is None:
        return []
    try:
        peers = decode_blacklist(data)
    except MalformedBlacklistError as error:
        index = list(extensions).index(BLACKLIST_EXTENSION)
        raise ReplayValueError(str(error), ("framework", "extensions", index, "value")) from None
    own = node.peer_id.to_bytes()
    return [ID(peer) for peer in peers if peer != own]


def _replace_blacklist(pubsub: Pubsub, peers: list[ID]) -> None:
    """Make the pubsub blacklist exactly `peers`. A peer pubsub is talking to is blacklisted
    through `add_to_blacklist`, which also cuts it off (that needs a running pubsub)."""
    wanted = set(peers)
    for peer in pubsub.blacklisted_peers - wanted:
        pubsub.remove_from_blacklist(peer)
    for peer in wanted - pubsub.blacklisted_peers:
        if peer in pubsub.peers:
            pubsub.add_to_blacklist(peer)
        else:
            pubsub.blacklisted_peers.add(peer)


@attrs.define
class _PeerPlan:
    """One peer's state, converted and checked, ready to be written."""

    peer_id: ID
    addresses: list[Libp2pMultiaddr]
    ttl_s: int
    public_key: PublicKey | None
    protocols: list[str]
    metadata: list[tuple[str, MetadataValue]]
    latency_s: float | None
    envelope: Envelope | None

    def apply(
        self, peerstore: PeerStore, data_map: dict[ID, PeerData], tally: Counter[str]
    ) -> None:
        peer_id = self.peer_id
        if self.envelope is not None:
            if peerstore.consume_peer_record(self.envelope, self.ttl_s):
                tally["signed_records"] += 1
                # It set the record's addresses, as a set: the node's ordered list goes back.
                # (Cleared on the peer's data, not the peerstore: that would drop the record.)
                data = data_map.get(peer_id)
                if data is not None:
                    data.clear_addrs()
            else:
                tally["signed_records_refused"] += 1
        if self.addresses:
            peerstore.add_addrs(peer_id, self.addresses, self.ttl_s)
            tally["addresses"] += len(self.addresses)
        if self.public_key is not None:
            peerstore.add_pubkey(peer_id, self.public_key)
            tally["public_keys"] += 1
        if self.protocols:
            held = peerstore.get_protocols(peer_id) if peer_id in data_map else []
            peerstore.set_protocols(peer_id, held + [p for p in self.protocols if p not in held])
        for key, value in self.metadata:
            peerstore.put(peer_id, key, value)
        if self.latency_s is not None:
            peerstore.clear_metrics(peer_id)
            peerstore.record_latency(peer_id, self.latency_s)


class _PeerPlanner:
    """Converts every peer the node knows into a `_PeerPlan`, counting what py-libp2p cannot
    take, before anything is written."""

    def __init__(self, node: Node, tally: Counter[str]) -> None:
        self.node = node
        self.tally = tally
        self.node_now = node.clock.monotonic_ns()
        self.wall_now = time.time_ns()  # py-libp2p's TTLs count on `time.time()`
        self.own = node.peer_id.to_bytes()

    def plan(self) -> list[_PeerPlan]:
        # Every address stored, expired ones too: those are counted as they are dropped.
        addresses = {
            peer: (addresses, expires)
            for peer, addresses, _references, expires in self.node.address_book.entries()
        }
        records = {row[0]: row[1:] for row in self.node.peer_records.entries()}
        plans = []
        for peer in sorted(addresses.keys() | records.keys()):
            if peer == self.own:
                continue
            plan = self._plan_peer(peer, *addresses.get(peer, ((), ())), records.get(peer))
            if plan is not None:
                plans.append(plan)
        return plans

    def _plan_peer(
        self,
        peer: PeerKey,
        addresses: tuple[bytes, ...],
        expires: tuple[int | None, ...],
        record: tuple[Any, ...] | None,
    ) -> _PeerPlan | None:
        peer_id = ID(peer)
        kept, ttl_s = self._addresses(addresses, expires)
        public_key = envelope = latency_s = None
        protocols: list[str] = []
        metadata: list[tuple[str, MetadataValue]] = []
        if record is not None:
            key_bytes, protocol_names, pairs, latency_ns, signed = record
            public_key = None if key_bytes is None else self._public_key(peer_id, key_bytes)
            protocols = list(protocol_names)
            for key, value in pairs:
                if isinstance(value, bytes):
                    self.tally["metadata_refused"] += 1  # py-libp2p's `put` refuses bytes
                else:
                    metadata.append((key, value))
            latency_s = None if latency_ns is None else latency_seconds_of(latency_ns)
            if signed is not None:
                envelope = self._envelope(signed, has_addresses=bool(kept))
        if not (kept or public_key or protocols or metadata or latency_s or envelope):
            return None  # nothing py-libp2p can hold
        return _PeerPlan(peer_id, kept, ttl_s, public_key, protocols, metadata, latency_s, envelope)

    def _addresses(
        self, addresses: tuple[bytes, ...], expires: tuple[int | None, ...]
    ) -> tuple[list[Libp2pMultiaddr], int]:
        """The addresses py-libp2p can keep, in order, and the one TTL they get: that of the
        earliest expiry among them (0 when all are permanent)."""
        kept: list[Libp2pMultiaddr] = []
        ttls: list[int] = []
        for address, expiry in zip(addresses, expires, strict=True):
            remaining = None if expiry is None else expiry - self.node_now
            ttl_s = replay_ttl_s(remaining, self.wall_now)
            if ttl_s is None:
                self.tally["addresses_expired"] += 1
                continue
            try:
                kept.append(Libp2pMultiaddr(address))
            except Exception:  # its library refuses an address: counted, not fatal
                self.tally["addresses_refused"] += 1
                continue
            ttls.append(ttl_s)
        expiring = [ttl_s for ttl_s in ttls if ttl_s > 0]
        return kept, min(expiring, default=0)

    def _public_key(self, peer_id: ID, key_bytes: bytes) -> PublicKey | None:
        try:
            key = deserialize_public_key(key_bytes)
            derives = ID.from_pubkey(key) == peer_id
        except Exception:  # a key type py-libp2p lacks: counted, not fatal
            derives = False
        if not derives:
            self.tally["public_keys_refused"] += 1
            return None
        return key

    def _envelope(self, signed: bytes, *, has_addresses: bool) -> Envelope | None:
        if not has_addresses:
            self.tally["signed_records_dropped"] += 1
            return None
        try:
            return unmarshal_envelope(signed)
        except Exception:  # py-libp2p cannot read it (a key type it lacks): counted, not fatal
            self.tally["signed_records_refused"] += 1
            return None


def _negative_cache_entries(node: Node, ttl_s: float, room: int) -> dict[str, float]:
    """The swarm's negative-cache entries for the node's backoff still in the future: each
    until the time it has left, at most `ttl_s`; at most `room` of them, the latest first."""
    node_now = node.clock.monotonic_ns()
    monotonic_now = time.monotonic()  # the negative cache counts on `time.monotonic()`
    own = node.peer_id.to_bytes()
    waiting = [
        (min(state.next_retry_ns - node_now, round(ttl_s * SECOND_NS)), peer)
        for peer, state in node.backoff.items()
        if state.next_retry_ns > node_now and peer != own
    ]
    waiting.sort(reverse=True)
    return {
        str(ID(peer)): monotonic_now + remaining / SECOND_NS
        for remaining, peer in waiting[: max(0, room)]
    }
