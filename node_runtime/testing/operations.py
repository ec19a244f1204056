"""What a host does to a `Node`, as data: operations to generate, replay and apply to several
nodes alike (an original and its restored copy must answer each the same way)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from node_runtime.clock import ManualClock
from node_runtime.component_errors import ComponentError
from node_runtime.node import Node
from node_runtime.testing import engine


def _advance(node: Node, ns: int) -> None:
    # Each node's own clock: an original and its restored copy each advance theirs.
    if not isinstance(node.clock, ManualClock):
        raise TypeError("advancing time needs a node on a ManualClock")
    node.clock.advance(ns)


_ACTIONS: dict[str, Callable[..., object]] = {
    "add_address": lambda node, peer, address: node.add_peer_address(peer, address),
    "add_address_with_ttl": lambda node, peer, address, ttl_ns: node.add_peer_address(
        peer, address, ttl_ns
    ),
    "set_address_ttl": lambda node, peer, address, ttl_ns: node.set_peer_address_ttl(
        peer, address, ttl_ns
    ),
    # Through the node, on its clock: an address that has expired is not there to remove.
    "remove_address": lambda node, peer, address: node.remove_peer_address(peer, address),
    "clear_addresses": lambda node, peer: node.clear_peer_addresses(peer),
    "expire_addresses": lambda node: node.expire_addresses(),
    "peer_addresses": lambda node, peer: node.peer_addresses(peer),
    "retain": lambda node, peer: node.address_book.retain(peer.to_bytes()),
    "release": lambda node, peer: node.address_book.release(peer.to_bytes()),
    "forget_addresses": lambda node, peer: node.address_book.forget(peer.to_bytes()),
    "block": lambda node, peer: node.governor.block(peer.to_bytes()),
    "unblock": lambda node, peer: node.governor.unblock(peer.to_bytes()),
    "set_allowlist": lambda node, allowed: node.governor.set_allowlist(
        None if allowed is None else [peer.to_bytes() for peer in allowed]
    ),
    "allow": lambda node, peer: node.governor.allow(peer.to_bytes()),
    "disallow": lambda node, peer: node.governor.disallow(peer.to_bytes()),
    "forget_health": lambda node, peer: node.governor.forget(peer.to_bytes()),
    "dial_failed": lambda node, peer: node.record_dial_failure(peer),
    "dial_succeeded": lambda node, peer: node.record_dial_success(peer),
    "forget_backoff": lambda node, peer: node.backoff.forget(peer.to_bytes()),
    "add_ip_network": lambda node, which, network: node.governor.add_ip_network(which, network),
    "remove_ip_network": lambda node, which, network: node.governor.remove_ip_network(
        which, network
    ),
    "set_ip_networks": lambda node, which, networks: node.governor.set_ip_networks(which, networks),
    "set_public_key": lambda node, peer, key: node.set_peer_public_key(peer, key),
    "add_protocols": lambda node, peer, protocols: node.add_peer_protocols(peer, protocols),
    "remove_protocols": lambda node, peer, protocols: node.remove_peer_protocols(peer, protocols),
    "set_protocols": lambda node, peer, protocols: node.set_peer_protocols(peer, protocols),
    "put_metadata": lambda node, peer, key, value: node.put_peer_metadata(peer, key, value),
    "delete_metadata": lambda node, peer, key: node.delete_peer_metadata(peer, key),
    "record_latency": lambda node, peer, sample_ns: node.record_latency(peer, sample_ns),
    "consume_signed_record": lambda node, peer, envelope: node.consume_signed_record(
        peer, envelope
    ),
    "forget_peer_record": lambda node, peer: node.peer_records.forget(peer.to_bytes()),
    "enqueue": lambda node, envelope: node.outbound.enqueue(envelope),
    # The bytes alone: a restored copy pops the same envelopes flagged `redelivered`.
    "pop": lambda node: node.outbound.pop().envelope,
    "drain": lambda node, max_n: tuple(entry.envelope for entry in node.outbound.drain(max_n)),
    "mint_command_id": lambda node: node.command_ids.mint(),
    "mint_exec_id": lambda node: node.exec_ids.mint(),
    "count": lambda node, name: node.counters.increment(name),
    "fire": lambda node, phase: node.lifecycle.fire(phase),
    "drain_phases": lambda node: node.lifecycle.drain(),
    "set_extension": lambda node, namespace, data: node.set_extension(namespace, data),
    "remove_extension": lambda node, namespace: node.remove_extension(namespace),
    "subscribe": lambda node, kind, site: node.bus.subscribe(kind, site),
    "unsubscribe": lambda node, kind, site: node.bus.unsubscribe(kind, site),
    "await_command": engine.await_command,
    "complete_command": engine.complete_command,
    "mature_timer": engine.mature_timer,
    "take_ingress": engine.take_ingress,
    "write_slot": engine.write_slot,
    "set_wire_state": engine.set_wire_state,
    "advance": _advance,
}
OPERATION_NAMES = tuple(_ACTIONS)
"""Every operation kind, in the order `node_operations()` and `NodeMachine` list them."""


def _known(_operation: Operation, _attribute: object, name: str) -> None:
    if name not in _ACTIONS:
        raise ValueError(f"unknown operation {name!r}; one of {', '.join(OPERATION_NAMES)}")


@attrs.frozen(repr=False)
class Operation:
    """One call a host makes on a node: `Operation("dial_failed", (peer,))`.

    The arguments are those of the node method it stands for (`PeerId`s, `Multiaddr`s, bytes,
    names, nanoseconds for `advance`), or of the stand-in engine's move in
    `node_runtime.testing.engine`; `OPERATION_NAMES` lists the kinds.
    """

    name: str = attrs.field(validator=_known)
    args: tuple[object, ...] = ()

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(map(repr, self.args))})"


@attrs.frozen
class Outcome:
    """What an operation did: its return value, or the error type a component refused it with
    (a refused operation changes nothing, so refusals are outcomes to compare, not failures)."""

    value: object = None
    refused: type[ComponentError] | None = None


def apply_operation(node: Node, operation: Operation) -> Outcome:
    """Apply `operation` to `node`. Errors other than a component's refusal propagate."""
    try:
        return Outcome(_ACTIONS[operation.name](node, *operation.args))
    except ComponentError as error:
        return Outcome(refused=type(error))


def run_operations(node: Node, operations: Iterable[Operation]) -> list[Outcome]:
    """Apply each operation in turn; their outcomes, in order."""
    return [apply_operation(node, operation) for operation in operations]
