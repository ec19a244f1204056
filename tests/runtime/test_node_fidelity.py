"""Fidelity, proven: a node restored at random points behaves exactly like the original.

A hypothesis state machine drives a node with random operations. At random points it
snapshots the node, goes through `encode`/`decode`, restores, and from then on feeds the
original and the restored node the same operations. Their snapshots stay equal (but for the
documented `redelivered` flag on envelopes that were queued at restore), their answers agree,
and the restored node never mints an ID the original had already minted.
"""

import random
from collections.abc import Callable

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from node_runtime.clock import ManualClock
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from snapshot_schema import TransientSnapshot, decode, encode

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(bytes([9]) * 32)
PEERS = [Identity.from_private_bytes(bytes([n]) * 32).peer_id for n in range(10, 14)]
ADDRESSES = [
    Multiaddr.from_string(text)
    for text in (
        "/ip4/10.0.0.1/tcp/4001",
        "/dns4/example.com/tcp/443/wss",
        "/ip6/::1/udp/1/quic-v1",
    )
]
peers = st.sampled_from(PEERS)


def _mark_redelivered(snapshot: TransientSnapshot, count: int) -> TransientSnapshot:
    outbound = snapshot.framework.pending_outbound
    marked = tuple(
        attrs.evolve(entry, redelivered=True) if index < count else entry
        for index, entry in enumerate(outbound)
    )
    framework = attrs.evolve(snapshot.framework, pending_outbound=marked)
    return attrs.evolve(snapshot, framework=framework)


class NodeFidelity(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clocks = [ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)]
        self.nodes = [Node(IDENTITY, clock=self.clocks[0], rng=random.Random(0))]
        self.minted_before_restore: set[tuple[str, object]] = set()
        self.minted: set[tuple[str, object]] = set()
        self.redelivered = 0

    def each(self, operation: str, *args: object) -> list[tuple[str, object]]:
        """Apply one operation to every live node; all must agree on the outcome."""
        outcomes: list[tuple[str, object]] = []
        for node in self.nodes:
            try:
                outcomes.append(("ok", _apply(node, operation, *args)))
            except Exception as error:  # both must fail alike
                outcomes.append(("error", type(error)))
        assert all(outcome == outcomes[0] for outcome in outcomes)
        return outcomes

    @rule(peer=peers, address=st.sampled_from(ADDRESSES))
    def add_address(self, peer: object, address: Multiaddr) -> None:
        self.each("add_address", peer, address)

    @rule(peer=peers)
    def retain(self, peer: object) -> None:
        self.each("retain", peer)

    @rule(peer=peers)
    def release(self, peer: object) -> None:
        self.each("release", peer)

    @rule(peer=peers, blocked=st.booleans())
    def block(self, peer: object, blocked: bool) -> None:
        self.each("block" if blocked else "unblock", peer)

    @rule(allowed=st.none() | st.lists(peers, max_size=3))
    def allowlist(self, allowed: list[object] | None) -> None:
        self.each("allowlist", allowed)

    @rule(peer=peers, failed=st.booleans())
    def dial(self, peer: object, failed: bool) -> None:
        self.each("fail" if failed else "succeed", peer)

    @rule(envelope=st.binary(min_size=1, max_size=8))
    def enqueue(self, envelope: bytes) -> None:
        self.each("enqueue", envelope)

    @rule()
    def pop(self) -> None:
        outcomes = self.each("pop")
        if outcomes[0][0] == "ok" and self.redelivered:
            self.redelivered -= 1

    @rule(kind=st.sampled_from(["command", "exec"]))
    def mint(self, kind: str) -> None:
        outcome = self.each("mint_" + kind)[0]
        minted = (kind, outcome[1])
        assert minted not in self.minted_before_restore or len(self.nodes) == 1
        self.minted.add(minted)

    @rule(name=st.sampled_from(["a", "b"]))
    def count(self, name: str) -> None:
        self.each("count", name)

    @rule(phase=st.sampled_from(["started", "tick"]), drain=st.booleans())
    def lifecycle(self, phase: str, drain: bool) -> None:
        self.each("drain" if drain else "fire", phase)

    @rule(kind=st.sampled_from(["x", "y"]), site=st.integers(0, 3))
    def subscribe(self, kind: str, site: int) -> None:
        self.each("subscribe", kind, site)

    @rule(seconds=st.integers(0, 4_000))
    def advance(self, seconds: int) -> None:
        for clock in self.clocks:
            clock.advance(seconds * S)

    @rule(seed=st.integers(0, 2**32))
    def restart(self, seed: int) -> None:
        original = self.nodes[0]
        snapshot = decode(encode(original.snapshot()))
        clock = ManualClock(self.clocks[0].monotonic_ns(), self.clocks[0].wall_ns())
        original.rng.seed(seed)
        restored = Node.restore(snapshot, IDENTITY, clock=clock, rng=random.Random(seed))
        self.nodes[1:] = [restored]
        self.clocks[1:] = [clock]
        self.minted_before_restore = set(self.minted)
        self.redelivered = len(original.outbound)

    @precondition(lambda self: len(self.nodes) == 2)
    @invariant()
    def snapshots_and_answers_agree(self) -> None:
        original, restored = self.nodes
        expected = _mark_redelivered(original.snapshot(), self.redelivered)
        assert restored.snapshot() == expected
        for peer in PEERS:
            assert original.may_dial(peer) == restored.may_dial(peer)


OPERATIONS: dict[str, Callable[..., object]] = {
    "add_address": lambda node, peer, address: node.add_peer_address(peer, address),
    "retain": lambda node, peer: node.address_book.retain(peer.to_bytes()),
    "release": lambda node, peer: node.address_book.release(peer.to_bytes()),
    "block": lambda node, peer: node.governor.block(peer.to_bytes()),
    "unblock": lambda node, peer: node.governor.unblock(peer.to_bytes()),
    "allowlist": lambda node, allowed: node.governor.set_allowlist(
        None if allowed is None else [peer.to_bytes() for peer in allowed]
    ),
    "fail": lambda node, peer: node.record_dial_failure(peer),
    "succeed": lambda node, peer: node.record_dial_success(peer),
    "enqueue": lambda node, envelope: node.outbound.enqueue(envelope),
    "pop": lambda node: node.outbound.pop().envelope,
    "mint_command": lambda node: node.command_ids.mint(),
    "mint_exec": lambda node: node.exec_ids.mint(),
    "count": lambda node, name: node.counters.increment(name),
    "fire": lambda node, phase: node.lifecycle.fire(phase),
    "drain": lambda node, _phase: node.lifecycle.drain(),
    "subscribe": lambda node, kind, site: node.bus.subscribe(kind, site),
}


def _apply(node: Node, operation: str, *args: object) -> object:
    return OPERATIONS[operation](node, *args)


NodeFidelity.TestCase.settings = settings(max_examples=100, stateful_step_count=40)
test_node_fidelity = NodeFidelity.TestCase
