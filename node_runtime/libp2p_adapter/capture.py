"""Capture a live py-libp2p host's state into the nodesnap `Node` that runs alongside it.

`capture_host(host, node, pubsub=...)` makes the node mirror what the host keeps; the host is
the source of truth for it, and `snapshot_host` then takes the node's snapshot:

- **Peerstore** (every peer but the host itself): the ordered address list, each address
  expiring when py-libp2p would drop it (its one TTL per peer, in wall-clock seconds from
  `last_identified`), as an expiry on the node's monotonic clock; addresses already expired
  are left out. The public key (libp2p `PublicKey` protobuf, checked against the PeerId),
  protocols, metadata with its types, the latency average (float seconds to integer
  nanoseconds) and the signed peer record (the marshalled envelope, verified). Never a private
  key: the host's own is in its peerstore, and the host's own entry is skipped whole.
- **Dial backoff** (the swarm's negative peer cache): each refused peer gets a node backoff
  entry whose retry time is the cache's release time on the node's clock. An entry the node
  holds already with a later retry time stays as it is (it is the node's own backoff).
- **IP gate** (`ConnectionGate` allow and deny lists): the governor's IP lists.
- **Pubsub blacklist**, when `pubsub` is given: the extension `libp2p/pubsub-blacklist`
  (`pubsub_blacklist.py`).

Peers gone from the peerstore lose their addresses and peer record in the node; their health,
backoff and block or allow entries stay (they are the node's policy and observations). A
peer's addresses are cleared with its references kept (`AddressBook.clear_addresses`).

**Cheap and quiet when nothing changed.** The node is compared with the host first, and only
what differs is written, so a capture of an unchanged host leaves `node.revision` where it was
(a checkpointer then writes nothing). py-libp2p counts TTLs in whole seconds and the two clocks
cannot be read at one instant, so a captured expiry or release time within
`CLOCK_TOLERANCE_NS` of the one the node holds is the same time. Signed records are compared
by seq before anything is marshalled or verified.

**What a snapshot cannot hold is left out and counted, never a crash.** A peerstore may hold
anything (its dicts are open to any code): a PeerId that is no multihash, an address our
multiaddr codec refuses, metadata NaN, a latency of -1, a key that does not match its PeerId,
a record that does not verify, a gate network with an IPv6 zone. Each is skipped and counted
in the returned `CaptureReport`; the rest of that peer is captured. Past the node's limits
(addresses or protocols per peer, metadata entries), the first ones in the peerstore's order
(addresses) or in sorted order (protocols, metadata keys) are kept.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable
from typing import Final, TypeAlias

import attrs
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.peer.peerdata import PeerData
from libp2p.peer.peerstore import PeerRecordState
from libp2p.pubsub.pubsub import Pubsub
from multiaddr import Multiaddr as Libp2pMultiaddr

from node_runtime.backoff import BackoffState
from node_runtime.component_errors import (
    AddressLimitError,
    ComponentValueError,
    ExtensionLimitError,
    PeerRecordLimitError,
)
from node_runtime.errors import InvalidMultiaddrError, InvalidPeerIdError
from node_runtime.libp2p_adapter.conversions import (
    SECOND_NS,
    RefusedValue,
    is_name,
    latency_ns_of,
    metadata_value_of,
    network_of,
    wall_ns_until_expiry,
)
from node_runtime.libp2p_adapter.errors import HostIdentityMismatchError
from node_runtime.libp2p_adapter.host_access import (
    connection_gate,
    negative_cache,
    peer_data_map,
    peer_record_map,
    peerstore_of,
    swarm_of,
)
from node_runtime.libp2p_adapter.pubsub_blacklist import BLACKLIST_EXTENSION, encode_blacklist
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.peer_governor import IpList
from node_runtime.peer_id import PeerId
from node_runtime.peer_key import PeerKey
from node_runtime.peer_records import Metadata
from snapshot_schema import TransientSnapshot
from snapshot_schema.checks import U64_MAX
from snapshot_schema.peer_record_checks import MetadataValue

CLOCK_TOLERANCE_NS: Final = SECOND_NS // 2
"""A captured time this close to the one the node holds is the same time: half of py-libp2p's
one-second TTL resolution, far above the microseconds between reading two clocks."""

_Expiry: TypeAlias = int | None  # an expiry on the node's clock; None: permanent
_LATENCY_LIMIT_S: Final = 1e9  # a latency under it (32 years) is in range in nanoseconds


@attrs.frozen
class CaptureReport:
    """What one capture mirrored, and what it left out because a snapshot cannot hold it."""

    peers: int = 0
    """Peers of the peerstore mirrored into the node (the host itself not counted)."""
    peers_refused: int = 0
    """Peers whose PeerId is no valid multihash: left out whole."""
    addresses_refused: int = 0
    """Addresses our multiaddr codec refuses, past the node's per-peer limit, or with a TTL
    that is not an integer."""
    public_keys_refused: int = 0
    protocols_refused: int = 0
    metadata_refused: int = 0
    latencies_refused: int = 0
    signed_records_refused: int = 0
    """Signed records that do not verify, are another peer's, or exceed the node's size limit."""
    backoff_refused: int = 0
    """Negative-cache entries whose key is no PeerId or whose time is no number."""
    networks_refused: int = 0
    """Gate networks the governor refuses (an IPv6 zone, an IPv4-mapped network)."""
    blacklist_refused: int = 0
    """Pubsub blacklist entries that are no valid PeerId."""

    @property
    def refused(self) -> int:
        """Everything left out, all kinds together."""
        counts: tuple[int, ...] = attrs.astuple(self)
        return sum(counts) - self.peers


def capture_host(host: IHost, node: Node, *, pubsub: Pubsub | None = None) -> CaptureReport:
    """Make `node` mirror `host`'s peerstore, dial backoff, IP gate and (with `pubsub`) pubsub
    blacklist; what was mirrored and left out. `node.revision` moves only if something differs.

    Raises `HostIdentityMismatchError` when the host's PeerId is not the node's, and
    `UnsupportedHostError` for a host whose parts are not py-libp2p 0.8's.
    """
    own_key = _checked_identity(host, node)
    peerstore = peerstore_of(host)
    swarm = swarm_of(host)
    tally: Counter[str] = Counter()
    mirror = _PeerMirror(node, own_key, tally)
    mirror.mirror_peers(peer_data_map(peerstore), peer_record_map(peerstore))
    cache = negative_cache(swarm)
    _mirror_negative_cache(node, own_key, cache.entries, cache.ttl_s, tally)
    gate = connection_gate(swarm)
    _mirror_networks(node, IpList.ALLOW, gate.allow_list, tally)
    _mirror_networks(node, IpList.DENY, gate.deny_list, tally)
    if pubsub is not None:
        _mirror_blacklist(node, own_key, pubsub.blacklisted_peers, tally)
    return CaptureReport(**tally)


def snapshot_host(host: IHost, node: Node, *, pubsub: Pubsub | None = None) -> TransientSnapshot:
    """`capture_host`, then `node.snapshot()`: everything the host and its node must not lose."""
    capture_host(host, node, pubsub=pubsub)
    return node.snapshot()


def _checked_identity(host: IHost, node: Node) -> PeerKey:
    host_key = host.get_id().to_bytes()
    own_key = node.peer_id.to_bytes()
    if host_key != own_key:
        raise HostIdentityMismatchError(
            f"the host is {host.get_id()}, but the node belongs to {node.peer_id}"
        )
    return own_key


_NO_RECORD: Final = (None, (), (), None, None)  # a peer record row's fields, holding nothing
_MISSING: Final = object()
_NO_ADDRESSES: Final = ((), ())  # an address book row's addresses and expiries, holding none


class _PeerMirror:
    """One capture's pass over the peerstore: the node's tables read once, then per peer only
    what differs written."""

    def __init__(self, node: Node, own_key: PeerKey, tally: Counter[str]) -> None:
        self.node = node
        self.own_key = own_key
        self.tally = tally
        self.book = node.address_book
        self.records = node.peer_records
        self.limits = node.peer_records.limits
        self.node_now = node.clock.monotonic_ns()
        self.wall_now = time.time_ns()  # py-libp2p's TTLs count on `time.time()`
        self.held_addresses = {
            peer: (addresses, expires)
            for peer, addresses, _references, expires in self.book.entries()
        }
        self.held_records = {row[0]: row[1:] for row in self.records.entries()}

    def mirror_peers(
        self, data_map: dict[ID, PeerData], record_map: dict[ID, PeerRecordState]
    ) -> None:
        seen: set[PeerKey] = set()
        for peer_id, data in data_map.items():
            self._mirror_peer(peer_id, data, record_map.get(peer_id), seen)
        for peer_id, state in record_map.items():
            if peer_id not in data_map:  # a record without peer data: py-libp2p never makes one
                self._mirror_peer(peer_id, PeerData(), state, seen)
        for peer in self.held_addresses.keys() - seen:
            if self.held_addresses[peer][0]:
                self.book.clear_addresses(peer)
        for peer in self.held_records.keys() - seen:
            self.records.forget(peer)

    def _mirror_peer(
        self, peer_id: object, data: object, state: PeerRecordState | None, seen: set[PeerKey]
    ) -> None:
        """Mirror one peer; a peer whose PeerId is no multihash (or whose data is not
        py-libp2p's `PeerData`) is refused whole."""
        key = peer_id.to_bytes() if type(peer_id) is ID or isinstance(peer_id, ID) else None
        if key == self.own_key:
            return
        known = key in self.held_addresses or key in self.held_records
        if (
            type(key) is not bytes
            or not isinstance(data, PeerData)
            or not (known or _is_peer_id(key))
        ):
            self.tally["peers_refused"] += 1
            return
        seen.add(key)
        self.tally["peers"] += 1
        self._mirror_addresses(key, data)
        self._mirror_record(key, data, state)

    # Addresses.

    def _mirror_addresses(self, key: PeerKey, data: PeerData) -> None:
        held_addresses, held_expires = self.held_addresses.get(key, _NO_ADDRESSES)
        expiry, addresses = self._host_addresses(data)
        if addresses == held_addresses and _same_expiries(held_expires, expiry):
            return  # unchanged: every address held is valid, so none is checked again
        kept = self._valid_addresses(addresses)
        if tuple(address.to_bytes() for address in kept) == held_addresses and _same_expiries(
            held_expires, expiry
        ):
            return
        self.book.clear_addresses(key)
        ttl_ns = None if expiry is None else expiry - self.node_now
        for index, address in enumerate(kept):
            try:
                self.book.add_address(key, address, ttl_ns, now_ns=self.node_now)
            except AddressLimitError:
                self.tally["addresses_refused"] += len(kept) - index
                return

    def _host_addresses(self, data: PeerData) -> tuple[_Expiry, tuple[bytes, ...]]:
        """The peer's addresses as py-libp2p keeps them now, as bytes, with their expiry on
        the node's clock; none once expired."""
        addresses = data.addrs if type(data.addrs) is list else []
        try:
            raw = tuple([address.to_bytes() for address in addresses])
        except Exception:  # something else than a py-multiaddr `Multiaddr` in the list
            raw = tuple(
                address.to_bytes() for address in addresses if isinstance(address, Libp2pMultiaddr)
            )
            self.tally["addresses_refused"] += len(addresses) - len(raw)
        if not raw:
            return None, raw
        since, ttl_s = data.last_identified, data.ttl
        if type(since) is int and type(ttl_s) is int:  # as py-libp2p writes them: no check
            remaining = None if ttl_s <= 0 else (since + ttl_s + 1) * SECOND_NS - self.wall_now
        else:
            try:
                remaining = wall_ns_until_expiry(since, ttl_s, self.wall_now)
            except RefusedValue:
                self.tally["addresses_refused"] += len(raw)
                return None, ()
        if remaining is None:
            return None, raw
        if remaining <= 0:
            return None, ()  # expired: py-libp2p drops them at its next look
        return min(self.node_now + remaining, U64_MAX), raw

    def _valid_addresses(self, addresses: Iterable[bytes]) -> list[Multiaddr]:
        """The addresses our codec accepts, each once, in order (the rest counted)."""
        kept: list[Multiaddr] = []
        seen: set[bytes] = set()
        for address in addresses:
            if address in seen:
                continue
            seen.add(address)
            try:
                kept.append(Multiaddr.from_bytes(address))
            except InvalidMultiaddrError:
                self.tally["addresses_refused"] += 1
        return kept

    # Peer records.

    def _mirror_record(self, key: PeerKey, data: PeerData, state: PeerRecordState | None) -> None:
        held_key, held_protocols, held_metadata, held_latency, held_envelope = (
            self.held_records.get(key, _NO_RECORD)
        )
        # Each value is judged on a fast path first, for the usual case: what the node holds.
        host_key = data.pubkey
        public_key = (
            held_key
            if host_key is not None and held_key is not None
            else self._public_key(host_key)
        )
        protocols = self._protocols(data.protocols, held_protocols)
        host_metadata = data.metadata
        metadata = (  # None: the node holds the host's metadata already
            None if _holds_metadata(held_metadata, host_metadata) else self._metadata(host_metadata)
        )
        seconds = data.latmap
        latency = (
            round(seconds * SECOND_NS)
            if type(seconds) is float and 0 < seconds < _LATENCY_LIMIT_S
            else self._latency(seconds)
        )
        envelope, keeps_held_envelope = (
            (None, False)
            if state is None and held_envelope is None
            else self._signed_record(key, state, held_envelope)
        )
        if (held_key is not None and public_key is None) or (
            held_envelope is not None and not keeps_held_envelope
        ):
            # Something to remove that the book has no operation for (a key, a signed
            # record, an older record replacing a newer one): the record is written again.
            self.records.forget(key)
            if metadata is None:
                metadata = dict(held_metadata)
            held_key, held_protocols, held_metadata, held_latency = None, (), (), None
        if public_key is not None and public_key != held_key:
            self._write_public_key(key, public_key)
        if protocols != held_protocols:
            self.records.set_protocols(key, protocols)
        if metadata is not None and not _holds_metadata(held_metadata, metadata):
            self._write_metadata(key, metadata, held_metadata)
        if latency != held_latency:
            self.records.set_latency(key, latency)
        if envelope is not None:
            try:
                self.records.consume_signed_record(key, envelope)
            except (ComponentValueError, PeerRecordLimitError):
                self.tally["signed_records_refused"] += 1

    def _signed_record(
        self, key: PeerKey, state: PeerRecordState | None, held_envelope: bytes | None
    ) -> tuple[bytes | None, bool]:
        """The envelope to consume (`None`: nothing to), and whether the one held stays until
        then. py-libp2p replaces a record only by one of a higher or equal seq, so a record of
        the seq held is the one held: nothing is marshalled or verified for it."""
        if state is None:
            return None, False
        seq = getattr(state, "seq", None)
        held_seq = None if held_envelope is None else self.records.signed_record_seq(key)
        if held_seq is not None and type(seq) is int and seq == held_seq:
            return None, True
        marshal = getattr(getattr(state, "envelope", None), "marshal_envelope", None)
        try:
            envelope = marshal() if callable(marshal) else None
        except Exception:  # a foreign object: its record is refused, not the capture
            envelope = None
        if type(envelope) is not bytes or not envelope:
            self.tally["signed_records_refused"] += 1
            return None, False
        if envelope == held_envelope:
            return None, True
        if held_seq is None or (type(seq) is int and seq > held_seq):
            return envelope, True  # newer: consuming it replaces the one held
        return envelope, False  # the host went back to an older record: mirrored too

    def _public_key(self, host_key: object) -> bytes | None:
        """The key the host holds for the peer, as protobuf bytes (a key the node holds is not
        serialized again: py-libp2p keeps only a key that derives the PeerId, so it is that
        one)."""
        if host_key is None:
            return None
        serialize = getattr(host_key, "serialize", None)
        try:
            encoded = serialize() if callable(serialize) else None
        except Exception:  # a foreign object: its key is refused, not the capture
            encoded = None
        if type(encoded) is not bytes:
            self.tally["public_keys_refused"] += 1
            return None
        return encoded

    def _write_public_key(self, key: PeerKey, public_key: bytes) -> None:
        try:
            self.records.set_public_key(key, public_key)
        except ComponentValueError:
            self.tally["public_keys_refused"] += 1

    def _protocols(self, host_protocols: object, held: tuple[str, ...]) -> tuple[str, ...]:
        if type(host_protocols) is not list:
            return ()
        try:
            protocols = tuple(sorted(set(host_protocols)))
        except TypeError:
            protocols = None  # unhashable or unorderable: judged one by one below
        if protocols == held:
            return held  # unchanged: every protocol held is valid
        limits = self.limits
        valid_names: set[str] = set()
        refused = 0
        for name in host_protocols:
            if is_name(name, limits.max_name_size):
                valid_names.add(name)
            else:
                refused += 1
        valid = sorted(valid_names)
        if len(valid) > limits.max_protocols:
            refused += len(valid) - limits.max_protocols
            valid = valid[: limits.max_protocols]
        self.tally["protocols_refused"] += refused
        return tuple(valid)

    def _metadata(self, host_metadata: object) -> dict[str, MetadataValue]:
        """The host's metadata as a snapshot holds it (the rest counted)."""
        if type(host_metadata) is not dict:
            return {}
        limits = self.limits
        kept: dict[str, MetadataValue] = {}
        for key in sorted(name for name in host_metadata if is_name(name, limits.max_name_size)):
            try:
                kept[key] = metadata_value_of(host_metadata[key])
            except RefusedValue:
                continue
        refused = len(host_metadata) - len(kept)
        if len(kept) > limits.max_metadata:
            refused += len(kept) - limits.max_metadata
            kept = dict(list(kept.items())[: limits.max_metadata])
        self.tally["metadata_refused"] += refused
        return kept

    def _write_metadata(
        self, key: PeerKey, metadata: dict[str, MetadataValue], held: Metadata
    ) -> None:
        for name, _value in held:
            if name not in metadata:
                self.records.delete_metadata(key, name)
        held_values = dict(held)
        for name, value in metadata.items():
            if name in held_values and _same_value(held_values[name], value):
                continue
            try:
                self.records.put_metadata(key, name, value)
            except (ComponentValueError, PeerRecordLimitError):
                self.tally["metadata_refused"] += 1  # a value over the size limit

    def _latency(self, seconds: object) -> int | None:
        try:
            return latency_ns_of(seconds)
        except RefusedValue:
            self.tally["latencies_refused"] += 1
            return None


def _mirror_negative_cache(
    node: Node, own_key: PeerKey, entries: dict[str, float], ttl_s: float, tally: Counter[str]
) -> None:
    """Each peer the swarm refuses to dial gets a node backoff entry until the same moment;
    its failure is dated `ttl_s` (the cache's TTL) before that, when py-libp2p marked it."""
    monotonic_now = time.monotonic()  # the negative cache counts on `time.monotonic()`
    node_now = node.clock.monotonic_ns()
    for text, release_s in list(entries.items()):
        if (
            isinstance(release_s, bool)
            or not isinstance(release_s, int | float)
            or math.isnan(release_s)  # py-libp2p would refuse the peer for ever
        ):
            tally["backoff_refused"] += 1
            continue
        remaining_s = release_s - monotonic_now
        if remaining_s <= 0:
            continue  # released already: py-libp2p drops it at its next look
        try:
            key = PeerId.from_string(text).to_bytes() if type(text) is str else None
        except InvalidPeerIdError:
            key = None
        if key is None:
            tally["backoff_refused"] += 1
            continue
        if key == own_key:
            continue
        release = min(node_now + round(min(remaining_s, U64_MAX / SECOND_NS) * SECOND_NS), U64_MAX)
        held = node.backoff.entry(key)
        if held is not None and held.next_retry_ns >= release - CLOCK_TOLERANCE_NS:
            continue  # held until then or later already (the node's own backoff, say)
        failed_at = max(0, min(release - round(ttl_s * SECOND_NS), node_now))
        node.backoff.set_entry(
            key,
            BackoffState(
                attempts=max(1, held.attempts) if held is not None else 1,
                last_attempt_ns=failed_at if held is None else max(held.last_attempt_ns, failed_at),
                next_retry_ns=release,
            ),
        )


def _mirror_networks(node: Node, which: IpList, host_networks: object, tally: Counter[str]) -> None:
    if type(host_networks) is not list:
        return
    networks = []
    for entry in host_networks:
        network = network_of(entry)
        if network is None:
            tally["networks_refused"] += 1
        else:
            networks.append(network)
    held = node.governor.ip_allow if which is IpList.ALLOW else node.governor.ip_deny
    if set(networks) != set(held):
        node.governor.set_ip_networks(which, networks)


def _mirror_blacklist(node: Node, own_key: PeerKey, peers: object, tally: Counter[str]) -> None:
    keys: list[bytes] = []
    for peer in peers if isinstance(peers, set | frozenset | list | tuple) else ():
        key = peer.to_bytes() if isinstance(peer, ID) else None
        if key == own_key:
            continue
        if type(key) is bytes and _is_peer_id(key):
            keys.append(key)
        else:
            tally["blacklist_refused"] += 1
    if not keys:
        node.remove_extension(BLACKLIST_EXTENSION)
        return
    encoded = encode_blacklist(keys)
    if node.extension(BLACKLIST_EXTENSION) != encoded:
        try:
            node.set_extension(BLACKLIST_EXTENSION, encoded)
        except ExtensionLimitError:  # the node's extensions would pass their total bound
            tally["blacklist_refused"] += len(keys)


def _is_peer_id(key: bytes) -> bool:
    try:
        PeerId.from_bytes(key)
    except InvalidPeerIdError:
        return False
    return True


def _same_expiries(held: tuple[_Expiry, ...], expiry: _Expiry) -> bool:
    """Whether the expiries held are all `expiry` (to within `CLOCK_TOLERANCE_NS`)."""
    if not held:
        return True
    first = held[0]
    if held.count(first) != len(held):
        return False
    if expiry is None or first is None:
        return first is expiry
    return abs(first - expiry) < CLOCK_TOLERANCE_NS


def _same_value(held: object, value: object) -> bool:
    """Equal and of the same type (`1 == True == 1.0` are three values); `-0.0` is `0.0`."""
    return type(held) is type(value) and held == value


def _holds_metadata(held: Metadata, metadata: object) -> bool:
    """Whether `held` is `metadata` (a dict), each value of the same type (`1`, `True` and
    `1.0` are three values; `-0.0` is `0.0`)."""
    if type(metadata) is not dict or len(metadata) != len(held):
        return False
    for key, value in held:
        other = metadata.get(key, _MISSING)
        if type(other) is not type(value) or other != value:
            return False
    return True
