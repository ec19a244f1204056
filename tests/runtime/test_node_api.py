"""The API has one shape: `Node` takes `PeerId`s for everything a host does, components take a
`PeerId` or its bytes, and an argument of the wrong type is a `TypeError` naming the argument."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from node_runtime import (
    ComponentTypeError,
    ComponentValueError,
    Decision,
    Identity,
    InFlightExecution,
    ManualClock,
    Multiaddr,
    NoAllowlistError,
    Node,
    PeerGovernor,
)

S = 1_000_000_000
OWN, ALICE, BOB = (Identity.from_private_bytes(bytes([n]) * 32) for n in (1, 2, 3))
ADDRESS = Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001")


def make_node() -> Node:
    return Node(OWN, clock=ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S))


def test_a_host_blocks_allows_and_forgets_peers_through_the_node_by_peer_id() -> None:
    node = make_node()
    alice, bob = ALICE.peer_id, BOB.peer_id
    node.add_peer_address(alice, ADDRESS)
    node.record_dial_failure(alice)
    node.block(bob)
    assert node.decision(bob) is Decision.BLOCKED
    node.unblock(bob)
    node.set_allowlist([alice])
    assert node.decision(bob) is Decision.NOT_ALLOWED
    node.allow(bob)
    assert node.decision(bob) is Decision.OK
    node.disallow(bob)
    assert node.decision(bob) is Decision.NOT_ALLOWED
    node.set_allowlist(None)
    with pytest.raises(NoAllowlistError):
        node.allow(bob)
    assert node.remove_peer_address(alice, ADDRESS)
    node.record_dial_failure(alice)
    node.block(alice)
    node.forget_peer(alice)
    framework = node.snapshot().framework
    assert framework.address_book == ()
    assert framework.peer_governor.health == ()
    assert framework.backoff_table == ()
    assert framework.peer_governor.blocklist == frozenset({alice.to_bytes()})  # policy stays


def test_components_take_a_peer_id_or_its_bytes_alike() -> None:
    governor = PeerGovernor()
    governor.block(ALICE.peer_id)
    assert governor.blocklist == frozenset({ALICE.peer_id.to_bytes()})
    assert governor.is_blocked(ALICE.peer_id.to_bytes())
    assert governor.decision(ALICE.peer_id) is Decision.BLOCKED
    governor.unblock(ALICE.peer_id.to_bytes())
    assert governor.blocklist == frozenset()


NODE_CALLS: dict[str, Callable[[Node, object], object]] = {
    "add_peer_address": lambda node, peer: node.add_peer_address(peer, ADDRESS),  # type: ignore[arg-type]
    "remove_peer_address": lambda node, peer: node.remove_peer_address(peer, ADDRESS),  # type: ignore[arg-type]
    "forget_peer": lambda node, peer: node.forget_peer(peer),  # type: ignore[arg-type]
    "record_dial_failure": lambda node, peer: node.record_dial_failure(peer),  # type: ignore[arg-type]
    "record_dial_success": lambda node, peer: node.record_dial_success(peer),  # type: ignore[arg-type]
    "may_dial": lambda node, peer: node.may_dial(peer),  # type: ignore[arg-type]
    "block": lambda node, peer: node.block(peer),  # type: ignore[arg-type]
    "unblock": lambda node, peer: node.unblock(peer),  # type: ignore[arg-type]
    "allow": lambda node, peer: node.allow(peer),  # type: ignore[arg-type]
    "disallow": lambda node, peer: node.disallow(peer),  # type: ignore[arg-type]
    "decision": lambda node, peer: node.decision(peer),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("call", NODE_CALLS)
@pytest.mark.parametrize("wrong", ["12D3KooWAlice", ALICE.peer_id.to_bytes(), None, 5])
def test_a_node_call_with_anything_but_a_peer_id_is_a_type_error_that_changes_nothing(
    call: str, wrong: object
) -> None:
    node = make_node()
    node.set_allowlist([])
    before = (node.revision, node.snapshot())
    with pytest.raises(TypeError, match="expected `PeerId`") as refused:
        NODE_CALLS[call](node, wrong)
    assert isinstance(refused.value, ComponentTypeError)
    assert refused.value.path == ("peer",)
    assert (node.revision, node.snapshot()) == before


GOVERNOR_CALLS: dict[str, Callable[[PeerGovernor, object], object]] = {
    "block": lambda governor, peer: governor.block(peer),  # type: ignore[arg-type]
    "unblock": lambda governor, peer: governor.unblock(peer),  # type: ignore[arg-type]
    "allow": lambda governor, peer: governor.allow(peer),  # type: ignore[arg-type]
    "disallow": lambda governor, peer: governor.disallow(peer),  # type: ignore[arg-type]
    "forget": lambda governor, peer: governor.forget(peer),  # type: ignore[arg-type]
    "record_success": lambda governor, peer: governor.record_success(peer),  # type: ignore[arg-type]
    "is_blocked": lambda governor, peer: governor.is_blocked(peer),  # type: ignore[arg-type]
    "decision": lambda governor, peer: governor.decision(peer),  # type: ignore[arg-type]
    "health": lambda governor, peer: governor.health(peer),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("call", GOVERNOR_CALLS)
@pytest.mark.parametrize("wrong", [["a", "list"], "12D3KooWAlice", bytearray(b"\x00\x01"), None])
def test_a_governor_call_with_a_wrong_type_is_a_type_error_that_changes_nothing(
    call: str, wrong: object
) -> None:
    governor = PeerGovernor()
    governor.set_allowlist([])
    revision = governor.revision
    with pytest.raises(TypeError) as refused:
        GOVERNOR_CALLS[call](governor, wrong)
    assert isinstance(refused.value, ComponentTypeError)
    assert governor.revision == revision
    assert governor.allowlist == frozenset()


@pytest.mark.parametrize("wrong", [5, ALICE.peer_id, b"\x00\x24", "peers"])
def test_an_allowlist_that_is_no_list_of_peers_is_a_type_error(wrong: object) -> None:
    governor = PeerGovernor()
    node = make_node()
    with pytest.raises(ComponentTypeError):
        governor.set_allowlist(wrong)  # type: ignore[arg-type]
    with pytest.raises(ComponentTypeError):
        node.set_allowlist(wrong)  # type: ignore[arg-type]
    assert governor.allowlist is None
    assert node.governor.allowlist is None


def test_a_malformed_key_entering_a_table_is_still_a_value_error() -> None:
    with pytest.raises(ComponentValueError) as refused:
        PeerGovernor().unblock(b"\xff\xff")
    assert not isinstance(refused.value, TypeError)


def test_execution_state_a_snapshot_cannot_hold_is_refused_where_it_is_built() -> None:
    with pytest.raises(ComponentValueError) as refused:
        InFlightExecution(frontier=[(1, "x")])
    assert refused.value.path == ("frontier", 0, "exec_id")
    with pytest.raises(ComponentValueError) as refused:
        InFlightExecution(wire_states={2**32: b""})
    assert refused.value.path[0] == "wire_states"


def test_a_node_takes_only_an_in_flight_execution_as_its_execution() -> None:
    node = make_node()
    revision = node.revision
    with pytest.raises(ComponentTypeError) as refused:
        node.execution = {"frontier": ()}  # type: ignore[assignment]
    assert refused.value.path == ("execution",)
    assert node.revision == revision
    node.execution = InFlightExecution(frontier=[(1, 2)])
    assert node.snapshot().frontier == ((1, 2),)


def test_request_save_without_a_listener_does_nothing() -> None:
    node = make_node()
    node.add_peer_address(ALICE.peer_id, ADDRESS)
    before = (node.revision, node.snapshot())
    node.request_save()
    assert (node.revision, node.snapshot()) == before


def test_request_save_calls_every_save_listener_and_leaves_the_node_as_it_was() -> None:
    node = make_node()
    calls: list[str] = []
    node.add_save_listener(lambda: calls.append("first"))
    node.add_save_listener(lambda: calls.append("second"))
    before = (node.revision, node.snapshot())
    node.request_save()
    node.request_save()
    assert calls == ["first", "second", "first", "second"]
    assert (node.revision, node.snapshot()) == before
