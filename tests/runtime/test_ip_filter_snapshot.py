"""IP filters survive snapshot and restore, a snapshot holding a network the governor refuses is
refused with its path, and an IP filter change is saved at once under autosave."""

from __future__ import annotations

import ipaddress

import attrs
import pytest

from node_runtime import Checkpointer, Identity, ManualClock, Multiaddr, Node, RestoreValueError
from node_runtime.peer_governor import Decision, IpList
from node_runtime.testing import MemoryStore, assert_restores_identically, clock_at
from snapshot_schema import IpNetwork, TransientSnapshot

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(b"\x01" * 32)


def make_node() -> Node:
    return Node(IDENTITY, clock=ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S))


def test_a_snapshot_holds_the_ip_filters_sorted_as_the_format_orders_them() -> None:
    node = make_node()
    node.governor.set_ip_networks(IpList.DENY, ["2001:db8::/32", "10.1.0.0/16", "10.0.0.0/8"])
    node.governor.add_ip_network(IpList.ALLOW, "192.0.2.0/24")

    governor = node.snapshot().framework.peer_governor

    assert governor.ip_deny == (
        IpNetwork(bytes([10, 0, 0, 0]), 8),
        IpNetwork(bytes([10, 1, 0, 0]), 16),
        IpNetwork.of("2001:db8::/32"),
    )
    assert governor.ip_allow == (IpNetwork(bytes([192, 0, 2, 0]), 24),)


def test_a_restored_node_judges_ips_as_the_original_did() -> None:
    node = make_node()
    node.governor.add_ip_network(IpList.ALLOW, "10.0.0.0/8")
    node.governor.add_ip_network(IpList.DENY, "10.1.0.0/16")

    restored = assert_restores_identically(node)

    assert restored.governor.ip_allow == (ipaddress.IPv4Network("10.0.0.0/8"),)
    assert restored.governor.ip_decision("10.1.0.1") is Decision.BLOCKED
    assert restored.governor.ip_decision("10.2.0.1") is Decision.OK
    assert restored.governor.ip_decision("192.0.2.1") is Decision.NOT_ALLOWED


def with_ip_allow(snapshot: TransientSnapshot, *networks: IpNetwork) -> TransientSnapshot:
    framework = snapshot.framework
    governor = attrs.evolve(framework.peer_governor, ip_allow=networks)
    return attrs.evolve(snapshot, framework=attrs.evolve(framework, peer_governor=governor))


def test_a_snapshot_with_an_ipv4_mapped_network_is_refused_with_its_path() -> None:
    snapshot = with_ip_allow(
        make_node().snapshot(), IpNetwork.of("0.0.0.0/8"), IpNetwork.of("::ffff:0:0/96")
    )

    with pytest.raises(RestoreValueError) as raised:
        Node.restore(snapshot, IDENTITY, clock=clock_at(snapshot))

    assert raised.value.path == ("framework", "peer_governor", "ip_allow", 1)
    assert "IPv4-mapped" in raised.value.reason


def test_an_ip_filter_change_is_saved_at_once_under_autosave() -> None:
    node = make_node()
    store = MemoryStore()
    readings = [100.0]
    checkpointer = Checkpointer(
        node, store, interval=30.0, cooldown=1.0, timer=lambda: readings[-1]
    )
    try:
        assert checkpointer.poll()  # the first save
        checkpointer.flush(10.0)
        readings.append(101.0)  # past the cooldown, far from the interval

        node.governor.add_ip_network(IpList.DENY, "10.0.0.0/8")  # no poll follows

        checkpointer.flush(10.0)
        assert checkpointer.saves == 2
        latest = store.latest()
        assert latest is not None
        assert latest.snapshot.framework.peer_governor.ip_deny == (IpNetwork.of("10.0.0.0/8"),)
    finally:
        checkpointer.close(timeout=10.0)


def test_may_dial_judges_the_peer_not_its_addresses() -> None:
    node = make_node()
    peer = Identity.from_private_bytes(b"\x02" * 32).peer_id
    address = Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001")
    node.add_peer_address(peer, address)
    node.governor.add_ip_network(IpList.DENY, "10.0.0.0/8")

    assert node.may_dial(peer)
    assert not node.governor.may_connect_address(address)  # the host checks what it dials
