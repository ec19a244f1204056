"""Whatever a node's components accept, its snapshot can hold.

The checkpointer's writer thread encodes whatever `Node.snapshot()` returns, long after the call
that changed the node: a value a component let in but `encode` refuses would fail every later
autosave. So a node is driven here through any sequence of operations with any arguments,
hostile ones included (surrogates in names, huge, negative or `bool` integers, floats,
`bytearray`s, empty names, junk peer keys and addresses). Every operation either succeeds or is
refused with a `ComponentError`, leaving the node as it was; and after every step
`encode(node.snapshot())` succeeds and decodes back equal.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from node_runtime.clock import ManualClock
from node_runtime.component_errors import ComponentError, ComponentValueError
from node_runtime.execution import InFlightExecution
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from snapshot_schema import FrozenMap, decode, encode
from snapshot_schema.checks import U32_MAX, U64_MAX
from snapshot_schema.strategies import ingress_events, payloads, u64s

ME = Identity.from_private_bytes(bytes(32))
PEERS = tuple(Identity.from_private_bytes(bytes([n]) * 32).peer_id for n in (1, 2))
# Two Ed25519 PeerIds and a short identity multihash: valid keys, few enough to meet again.
KEYS = (*(peer.to_bytes() for peer in PEERS), b"\x00\x01a")
ADDRESSES = tuple(
    Multiaddr.from_string(text) for text in ("/ip4/10.0.0.1/tcp/4001", "/ip6/::1/udp/1/quic-v1")
)


texts = st.one_of(
    st.sampled_from(["", "é", "\ud800", "peer.\udfff"]),
    st.text(max_size=4),
    # A surrogate anywhere: Hypothesis's own text strategies all but never draw one.
    st.tuples(st.text(max_size=2), st.characters(categories=["Cs"]), st.text(max_size=2)).map(
        "".join
    ),
)
ints = st.one_of(
    st.sampled_from([U32_MAX, U64_MAX, U64_MAX + 1, 2**100, -1, -(2**64)]),
    st.integers(),
    st.booleans(),
    st.floats(),
)
hashable = st.one_of(
    ints, texts, st.binary(max_size=6), st.sampled_from(KEYS), st.sampled_from(ADDRESSES), st.none()
)
anything = st.one_of(
    hashable,
    st.sampled_from(KEYS).map(bytearray),
    st.binary(max_size=6).map(bytearray),
    st.lists(st.sampled_from(KEYS), max_size=2),
    st.sampled_from(PEERS),
)


def whole(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`strategy` as one alternative of a `one_of`, which would otherwise weigh each of its own
    alternatives like each of the others."""
    return strategy.map(lambda value: value)


def arg(
    valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[Any]:
    """An argument: a valid value half the time, else a hostile one."""
    return st.one_of(whole(valid), whole(anything if hostile is None else hostile))


peer_keys = arg(st.sampled_from(KEYS))
# `PeerGovernor`'s removals (unblock, disallow, forget) look an unhashable key up as it is and
# raise `TypeError`: they get hashable arguments only.
removed_keys = arg(st.sampled_from(KEYS), hashable)
# Hostile names are text half the time, so surrogates (which `encode` cannot write) come up often.
names = arg(
    st.sampled_from(["dials", "started", "peer.connected"]),
    st.one_of(whole(texts), whole(anything)),
)
addresses = arg(st.sampled_from(ADDRESSES))
times = arg(st.integers(0, 10**12) | st.just(U64_MAX))
counts = arg(st.integers(0, 3) | st.just(U64_MAX))
envelopes = arg(st.binary(min_size=1, max_size=6))
namespaces = arg(
    st.sampled_from(["libp2p/pubsub", "app.tags"]), st.one_of(whole(texts), whole(anything))
)
extension_data = arg(st.binary(max_size=6))
in_flight = st.builds(
    InFlightExecution,
    frontier=st.lists(st.tuples(u64s, u64s), max_size=2).map(tuple),
    slot_table=st.dictionaries(st.tuples(u64s, u64s), st.none() | payloads, max_size=2).map(
        FrozenMap
    ),
    ingress=st.lists(ingress_events(), max_size=2).map(tuple),
)

Operation = tuple[str, tuple[Any, ...]]
OPERATIONS: dict[str, tuple[Callable[..., object], tuple[st.SearchStrategy[Any], ...]]] = {
    "count": (lambda node, name, by: node.counters.increment(name, by), (names, counts)),
    "fire": (lambda node, phase: node.lifecycle.fire(phase), (names,)),
    "drain_phases": (lambda node: node.lifecycle.drain(), ()),
    "subscribe": (lambda node, kind, site: node.bus.subscribe(kind, site), (names, counts)),
    "unsubscribe": (lambda node, kind, site: node.bus.unsubscribe(kind, site), (names, counts)),
    "add_address": (lambda node, p, a: node.address_book.add_address(p, a), (peer_keys, addresses)),
    "remove_address": (
        lambda node, p, a: node.address_book.remove_address(p, a),
        (peer_keys, addresses),
    ),
    "add_address_with_ttl": (
        lambda node, p, a, ttl, now: node.address_book.add_address(p, a, ttl, now_ns=now),
        (peer_keys, addresses, st.none() | times, st.none() | times),
    ),
    "set_address_ttl": (
        lambda node, p, a, ttl, now: node.address_book.set_address_ttl(p, a, ttl, now_ns=now),
        (peer_keys, addresses, st.none() | times, times),
    ),
    "clear_addresses": (lambda node, peer: node.address_book.clear_addresses(peer), (peer_keys,)),
    "expire_addresses": (lambda node, now: node.address_book.expire(now), (times,)),
    "set_extension": (
        lambda node, ns, data: node.set_extension(ns, data),
        (namespaces, extension_data),
    ),
    "remove_extension": (lambda node, ns: node.remove_extension(ns), (namespaces,)),
    "retain": (lambda node, peer: node.address_book.retain(peer), (peer_keys,)),
    "release": (lambda node, peer: node.address_book.release(peer), (peer_keys,)),
    "forget_address_book": (lambda node, peer: node.address_book.forget(peer), (peer_keys,)),
    "block": (lambda node, peer: node.governor.block(peer), (peer_keys,)),
    "unblock": (lambda node, peer: node.governor.unblock(peer), (removed_keys,)),
    "set_allowlist": (
        lambda node, peers: node.governor.set_allowlist(peers),
        (st.none() | st.lists(peer_keys, max_size=3),),
    ),
    "allow": (lambda node, peer: node.governor.allow(peer), (peer_keys,)),
    "disallow": (lambda node, peer: node.governor.disallow(peer), (removed_keys,)),
    "health_failure": (lambda node, p, t: node.governor.record_failure(p, t), (peer_keys, times)),
    "health_success": (lambda node, peer: node.governor.record_success(peer), (peer_keys,)),
    "forget_health": (lambda node, peer: node.governor.forget(peer), (removed_keys,)),
    "backoff_failure": (lambda node, p, t: node.backoff.record_failure(p, t), (peer_keys, times)),
    "backoff_success": (lambda node, peer: node.backoff.record_success(peer), (peer_keys,)),
    "forget_backoff": (lambda node, peer: node.backoff.forget(peer), (peer_keys,)),
    "enqueue": (lambda node, envelope: node.outbound.enqueue(envelope), (envelopes,)),
    "pop": (lambda node: node.outbound.pop(), ()),
    "drain_outbound": (lambda node, n: node.outbound.drain(n), (st.none() | counts,)),
    "mint_command_id": (lambda node: node.command_ids.mint(), ()),
    "mint_exec_id": (lambda node: node.exec_ids.mint(), ()),
    # `Node`'s own methods take `PeerId`s, which check themselves when built.
    "add_peer_address": (
        lambda node, peer, address: node.add_peer_address(peer, address),
        (st.sampled_from(PEERS), addresses),
    ),
    "dial_failed": (lambda node, peer: node.record_dial_failure(peer), (st.sampled_from(PEERS),)),
    "dial_succeeded": (
        lambda node, peer: node.record_dial_success(peer),
        (st.sampled_from(PEERS),),
    ),
    "replace_execution": (lambda node, e: setattr(node, "execution", e), (in_flight,)),
    "advance": (lambda node, ns: node.clock.advance(ns), (st.integers(0, 10**12),)),
}

operations: st.SearchStrategy[Operation] = st.one_of(
    [st.tuples(st.just(name), st.tuples(*arguments)) for name, (_, arguments) in OPERATIONS.items()]
)


def new_node() -> Node:
    clock = ManualClock(monotonic_ns=1_000_000_000_000, wall_ns=1_764_000_000_000_000_000)
    return Node(ME, clock=clock, rng=random.Random(0))


def state_of(node: Node) -> tuple[object, ...]:
    """Everything a refused operation must leave as it was, each table in its own order."""
    governor = node.governor
    return (
        tuple(node.address_book.entries()),
        governor.blocklist,
        governor.allowlist,
        tuple(governor.health_items()),
        tuple(node.backoff.items()),
        tuple(node.outbound.items()),
        tuple(node.counters.items()),
        node.lifecycle.pending(),
        tuple(node.bus.items()),
        node.command_ids.next_id,
        node.exec_ids.next_id,
        node.execution,
        node.extension_table.items(),
        node.clock.monotonic_ns(),
    )


def assert_snapshot_round_trips(node: Node) -> None:
    snapshot = node.snapshot()
    assert decode(encode(snapshot)) == snapshot


@settings(max_examples=200)
@given(steps=st.lists(operations, max_size=30))
# Known triggers, run every time: a name holding a surrogate once stopped every later autosave.
@example(steps=[("count", ("\ud800", 1)), ("fire", ("stopped\udfff",))])
@example(steps=[("subscribe", ("peer.\udc80", 1)), ("unsubscribe", ([], 1))])
@example(steps=[("add_address", (KEYS[0], ADDRESSES[0].to_bytes())), ("release", (bytearray(),))])
def test_whatever_the_components_accept_a_snapshot_encodes_and_decodes_back_equal(
    steps: list[Operation],
) -> None:
    node = new_node()
    for name, arguments in steps:
        before = state_of(node)
        action, _ = OPERATIONS[name]
        try:
            action(node, *arguments)
        except ComponentError:
            assert state_of(node) == before
        assert_snapshot_round_trips(node)


def test_a_name_holding_a_surrogate_is_refused_where_it_enters_so_autosave_keeps_working() -> None:
    node = new_node()
    refusals: list[Callable[[], object]] = [
        lambda: node.counters.increment("\ud800"),
        lambda: node.lifecycle.fire("stopped\udfff"),
        lambda: node.bus.subscribe("peer.\udc80", 1),
    ]

    for refuse in refusals:
        with pytest.raises(ComponentValueError, match="surrogate"):
            refuse()

    assert decode(encode(node.snapshot())) == new_node().snapshot()
