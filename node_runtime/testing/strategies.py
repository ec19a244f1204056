"""Hypothesis strategies for hosts: snapshots a node can restore and sequences of operations a
node can be driven with (needs `hypothesis`: the `testing` extra).

    >>> from hypothesis import given, strategies as st
    >>> from node_runtime.testing.strategies import node_operations
    >>> @given(st.lists(node_operations()))
    ... def test_my_host(operations): ...
"""

from __future__ import annotations

import functools
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
from node_runtime.peer_id import PeerId
from node_runtime.testing.operations import (
    OPERATION_NAMES,
    Operation,
    Outcome,
    apply_operation,
)
from snapshot_schema import CURRENT_SNAPSHOT_SPEC_VERSION, TransientSnapshot
from snapshot_schema.checks import U64_MAX
from snapshot_schema.strategies import framework_snapshots, peer_ids, transient_snapshots

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
DEFAULT_PEERS = tuple(Identity.from_private_bytes(bytes([n]) * 32).peer_id for n in range(10, 14))
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


def _arguments(
    peers: st.SearchStrategy[PeerId],
) -> dict[str, st.SearchStrategy[tuple[object, ...]]]:
    """Each operation kind's arguments."""
    peer = st.tuples(peers)
    address = st.tuples(peers, st.sampled_from(_ADDRESSES))
    none = st.just(())
    subscription = st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 3))
    small_bytes = st.binary(max_size=4)
    # Up to about an hour: past the default backoff deadlines, though not always.
    seconds = st.integers(0, 4_000).map(lambda seconds: seconds * _S)
    return {
        "add_address": address,
        "remove_address": address,
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
        "enqueue": st.tuples(st.binary(min_size=1, max_size=8)),
        "pop": none,
        "drain": st.tuples(st.none() | st.integers(0, 3)),
        "mint_command_id": none,
        "mint_exec_id": none,
        "count": st.tuples(st.sampled_from(["a", "b"])),
        "fire": st.tuples(st.sampled_from(["started", "tick"])),
        "drain_phases": none,
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


@st.composite
def node_snapshots(draw: st.DrawFn, identity: Identity) -> TransientSnapshot:
    """Snapshots a node owned by `identity` could have taken: any value the schema allows, in
    the form `Node.snapshot()` writes it (peer tables sorted, no empty entries or health rows
    without failures, valid multiaddrs, `down` as the threshold decides). Restoring one onto
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
    framework = attrs.evolve(
        framework,
        address_book=sorted(
            (entry for entry in book if entry.addresses or entry.ref_count), key=_by_peer
        ),
        peer_governor=attrs.evolve(governor, health=sorted(health, key=_by_peer)),
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
