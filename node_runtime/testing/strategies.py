"""Hypothesis strategies for hosts: snapshots a node can restore and sequences of operations a
node can be driven with (needs `hypothesis`: the `testing` extra).

    >>> from hypothesis import given, strategies as st
    >>> from node_runtime.testing.strategies import node_operations
    >>> @given(st.lists(node_operations()))
    ... def test_my_host(operations): ...
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import random
from collections.abc import Sequence

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from node_runtime.address_book import DEFAULT_MAX_ADDRESSES_PER_PEER
from node_runtime.clock import ManualClock
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.peer_governor import IpList
from node_runtime.peer_id import PeerId
from node_runtime.signed_record import sign_peer_record
from node_runtime.testing.operations import (
    OPERATION_NAMES,
    Operation,
    Outcome,
    apply_operation,
)
from snapshot_schema import (
    CURRENT_SNAPSHOT_SPEC_VERSION,
    IpNetwork,
    PeerRecordSnapshot,
    TransientSnapshot,
)
from snapshot_schema.checks import U64_MAX
from snapshot_schema.strategies import (
    framework_snapshots,
    metadata_values,
    peer_ids,
    transient_snapshots,
)

__all__ = [
    "DEFAULT_PEERS",
    "MACHINE_IDENTITY",
    "NodeMachine",
    "framework_snapshots",
    "node_operations",
    "node_snapshots",
    "peer_ids",
    "transient_snapshots",
]

_S = 1_000_000_000
MACHINE_IDENTITY = Identity.from_private_bytes(bytes([9]) * 32)
"""The identity of `NodeMachine`'s node."""
_DEFAULT_IDENTITIES = tuple(Identity.from_private_bytes(bytes([n]) * 32) for n in range(10, 14))
DEFAULT_PEERS = tuple(identity.peer_id for identity in _DEFAULT_IDENTITIES)
"""Four peers: few enough that generated operations keep meeting the same ones."""
_ADDRESSES = tuple(
    Multiaddr.from_string(text)
    for text in (
        "/ip4/10.0.0.1/tcp/4001",
        "/dns4/example.com/tcp/443/wss",
        "/ip6/::1/udp/1/quic-v1",
        "/ip4/192.0.2.7/udp/4001/quic-v1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
    )
)


_NETWORKS = ("10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "2001:db8::/32")
_PROTOCOLS = ("/ipfs/id/1.0.0", "/ipfs/kad/1.0.0", "/meshsub/1.1.0")


def _public_key_of(peer: PeerId) -> bytes:
    """The `PublicKey` protobuf a PeerId inlines (an Ed25519 key), or one it cannot match."""
    key = peer.public_key()
    raw = bytes(32) if key is None else key.public_bytes_raw()
    return bytes([0x08, 0x01, 0x12, 0x20]) + raw


@functools.cache
def _signed_record(peer: PeerId, seq: int) -> bytes:
    """`peer`'s signed peer record when it is one of `DEFAULT_PEERS`; another peer's (so
    refused) when it is not."""
    signer = next(
        (identity for identity in _DEFAULT_IDENTITIES if identity.peer_id == peer),
        _DEFAULT_IDENTITIES[0],
    )
    return sign_peer_record(signer, seq, _ADDRESSES[:1])


def _arguments(
    peers: st.SearchStrategy[PeerId],
) -> dict[str, st.SearchStrategy[tuple[object, ...]]]:
    """Each operation kind's arguments."""
    peer = st.tuples(peers)
    address = st.tuples(peers, st.sampled_from(_ADDRESSES))
    none = st.just(())
    subscription = st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 3))
    small_bytes = st.binary(max_size=4)
    namespace = st.sampled_from(["libp2p/pubsub", "app.tags"])
    # Up to about an hour: past the default backoff deadlines, though not always.
    seconds = st.integers(0, 4_000).map(lambda seconds: seconds * _S)
    ip_list = st.sampled_from(list(IpList))
    network = st.tuples(ip_list, st.sampled_from(_NETWORKS))
    protocols = st.tuples(peers, st.lists(st.sampled_from(_PROTOCOLS), max_size=3))
    metadata_key = st.sampled_from(["agent", "score"])
    return {
        "add_address": address,
        "add_address_with_ttl": st.tuples(peers, st.sampled_from(_ADDRESSES), seconds),
        "set_address_ttl": st.tuples(peers, st.sampled_from(_ADDRESSES), st.none() | seconds),
        "remove_address": address,
        "clear_addresses": peer,
        "expire_addresses": none,
        "peer_addresses": peer,
        "retain": peer,
        "release": peer,
        "forget_addresses": peer,
        "block": peer,
        "unblock": peer,
        "set_allowlist": st.tuples(st.none() | st.lists(peers, max_size=3)),
        "allow": peer,
        "disallow": peer,
        "forget_health": peer,
        "dial_failed": peer,
        "dial_succeeded": peer,
        "forget_backoff": peer,
        "add_ip_network": network,
        "remove_ip_network": network,
        "set_ip_networks": st.tuples(ip_list, st.lists(st.sampled_from(_NETWORKS), max_size=3)),
        "set_public_key": st.tuples(peers, peers.map(_public_key_of)),
        "add_protocols": protocols,
        "remove_protocols": protocols,
        "set_protocols": protocols,
        "put_metadata": st.tuples(peers, metadata_key, metadata_values),
        "delete_metadata": st.tuples(peers, metadata_key),
        "record_latency": st.tuples(peers, st.integers(0, 10 * _S)),
        "consume_signed_record": st.tuples(peers, st.integers(0, 3)).map(
            lambda pair: (pair[0], _signed_record(*pair))
        ),
        "forget_peer_record": peer,
        "enqueue": st.tuples(st.binary(min_size=1, max_size=8)),
        "pop": none,
        "drain": st.tuples(st.none() | st.integers(0, 3)),
        "mint_command_id": none,
        "mint_exec_id": none,
        "count": st.tuples(st.sampled_from(["a", "b"])),
        "fire": st.tuples(st.sampled_from(["started", "tick"])),
        "drain_phases": none,
        "set_extension": st.tuples(namespace, small_bytes),
        "remove_extension": st.tuples(namespace),
        "subscribe": subscription,
        "unsubscribe": subscription,
        "await_command": st.tuples(st.integers(0, 3), st.none() | seconds),
        "complete_command": st.tuples(st.integers(0, 3), small_bytes),
        "mature_timer": none,
        "take_ingress": none,
        "write_slot": st.tuples(st.integers(0, 3), st.integers(0, 2), st.none() | small_bytes),
        "set_wire_state": st.tuples(st.integers(0, 2), small_bytes),
        "advance": st.tuples(seconds),
    }


def node_operations(
    *names: str, peers: Sequence[PeerId] = DEFAULT_PEERS
) -> st.SearchStrategy[Operation]:
    """Operations of the kinds `names` (every kind in `OPERATION_NAMES` when none), on `peers`.

    Some are refused now and then (a release without a retain, a pop from an empty queue):
    `apply_operation` reports those as outcomes. `advance` needs the node on a `ManualClock`.
    """
    arguments = _arguments(st.sampled_from(list(peers)))
    return st.one_of(
        [
            arguments[name].map(functools.partial(Operation, name))
            for name in names or OPERATION_NAMES
        ]
    )


_by_peer = operator.attrgetter("peer_id")
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


@st.composite
def _signed_peer_records(draw: st.DrawFn) -> PeerRecordSnapshot:
    """A peer record holding a signed record that verifies: signed by its own peer."""
    signer = Identity.from_private_bytes(draw(st.binary(min_size=32, max_size=32)))
    addresses = draw(st.lists(st.sampled_from(_ADDRESSES), max_size=2))
    return PeerRecordSnapshot(
        signer.peer_id.to_bytes(),
        latency_ns=draw(st.none() | st.integers(0, U64_MAX)),
        signed_record=sign_peer_record(signer, draw(st.integers(0, U64_MAX)), addresses),
    )


def _holds_something(record: PeerRecordSnapshot) -> bool:
    return bool(
        record.public_key is not None
        or record.protocols
        or record.metadata
        or record.latency_ns is not None
        or record.signed_record is not None
    )


def _gate(networks: tuple[IpNetwork, ...]) -> tuple[IpNetwork, ...]:
    """The networks a governor keeps: no IPv4-mapped one (it judges IPs unmapped)."""
    return tuple(network for network in networks if not _ipv4_mapped(network.network))


def _ipv4_mapped(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_IPV4_MAPPED)


@st.composite
def node_snapshots(draw: st.DrawFn, identity: Identity) -> TransientSnapshot:
    """Snapshots a node owned by `identity` could have taken: any value the schema allows, in
    the form `Node.snapshot()` writes it (peer tables sorted, no empty entries or health rows
    without failures, valid multiaddrs, `down` as the threshold decides, signed records that
    verify, no record of the node itself, no IPv4-mapped IP network). Restoring one onto
    `clock_at(snapshot)` reproduces it, queued envelopes flagged `redelivered`."""
    snapshot = draw(transient_snapshots())
    framework = snapshot.framework
    governor = framework.peer_governor
    addresses = st.lists(
        st.sampled_from([address.to_bytes() for address in _ADDRESSES]),
        unique=True,
        max_size=min(len(_ADDRESSES), DEFAULT_MAX_ADDRESSES_PER_PEER),
    ).map(tuple)
    # Each address permanent or expiring after the snapshot's instant: `snapshot()` leaves out
    # addresses expired by then (a restore would drop them).
    taken = snapshot.taken_at.monotonic_ns
    expiry = st.none() if taken == U64_MAX else st.none() | st.integers(taken + 1, U64_MAX)
    book = []
    for entry in framework.address_book:
        kept = draw(addresses)
        expires = draw(st.lists(expiry, min_size=len(kept), max_size=len(kept)))
        book.append(attrs.evolve(entry, addresses=kept, expires_ns=expires))
    health = [
        attrs.evolve(entry, down=entry.consecutive_failures >= governor.failure_threshold)
        for entry in governor.health
        if entry.consecutive_failures  # a node keeps no row for a peer without failures
    ]
    # Random bytes would not verify as signed records: real ones come from their own peers.
    records = {
        record.peer_id: attrs.evolve(record, signed_record=None)
        for record in framework.peer_records
    }
    records.update(
        (record.peer_id, record) for record in draw(st.lists(_signed_peer_records(), max_size=2))
    )
    records.pop(identity.peer_id.to_bytes(), None)
    framework = attrs.evolve(
        framework,
        address_book=sorted(
            (entry for entry in book if entry.addresses or entry.ref_count), key=_by_peer
        ),
        peer_governor=attrs.evolve(
            governor,
            health=sorted(health, key=_by_peer),
            ip_allow=_gate(governor.ip_allow),
            ip_deny=_gate(governor.ip_deny),
        ),
        peer_records=sorted(filter(_holds_something, records.values()), key=_by_peer),
        backoff_table=sorted(framework.backoff_table, key=_by_peer),
        peer_id_bytes=identity.peer_id.to_bytes(),
        spec_version=CURRENT_SNAPSHOT_SPEC_VERSION,
    )
    subscriptions = {
        kind: sites for kind, sites in snapshot.bus.event_subscriptions.items() if sites
    }
    return attrs.evolve(
        snapshot,
        framework=framework,
        bus=attrs.evolve(snapshot.bus, event_subscriptions=subscriptions),
    )


class NodeMachine(RuleBasedStateMachine):
    """A state machine with one rule per operation kind, each applied through `apply`.

    Subclass it to check your own invariants (`@invariant()`) over `self.node`, override
    `make_node` for another node, or `apply` to feed several nodes. One rule per kind (not one
    rule drawing any kind) lets Hypothesis switch whole kinds off in some runs, which finds
    states that a uniform mix rarely reaches (many failures and no success, say).
    """

    def __init__(self) -> None:
        super().__init__()
        self.node = self.make_node()

    def make_node(self) -> Node:
        """`MACHINE_IDENTITY`'s node on its own `ManualClock`, with seeded jitter."""
        clock = ManualClock(monotonic_ns=1_000 * _S, wall_ns=1_764_000_000 * _S)
        rng = random.Random(0)  # noqa: S311  # jitter, not secrets
        return Node(MACHINE_IDENTITY, clock=clock, rng=rng)

    def apply(self, operation: Operation) -> Outcome:
        return apply_operation(self.node, operation)


def _operation_rule(name: str) -> object:
    def step(self: NodeMachine, operation: Operation) -> None:
        self.apply(operation)

    step.__name__ = step.__qualname__ = name  # how Hypothesis prints the steps it took
    return rule(operation=node_operations(name))(step)


# Rules are collected when the machine first runs, so attaching them here is enough.
for _name in OPERATION_NAMES:
    setattr(NodeMachine, _name, _operation_rule(_name))
