"""IP filters: networks checked where they enter, denied networks win over allowed ones, an
allow list admits only what it holds, and addresses are judged by the IP they dial."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node_runtime.component_errors import ComponentTypeError, ComponentValueError
from node_runtime.ip_filter import (
    IpAddress,
    NetworkSet,
    check_ip_address,
    check_ip_network,
    leading_ip,
    network_sort_key,
)
from node_runtime.multiaddr import Multiaddr
from node_runtime.peer_governor import Decision, IpList, PeerGovernor
from snapshot_schema.ip_network import AnyNetwork

TEN = ipaddress.IPv4Network("10.0.0.0/8")
TEN_ONE = ipaddress.IPv4Network("10.1.0.0/16")
DOCS_V6 = ipaddress.IPv6Network("2001:db8::/32")


# Checking networks and addresses.


@pytest.mark.parametrize(
    ("given_network", "expected"),
    [
        ("10.0.0.0/8", TEN),
        (TEN, TEN),
        ("2001:db8::/32", DOCS_V6),
        ("192.0.2.7", ipaddress.IPv4Network("192.0.2.7/32")),
        ("::/0", ipaddress.IPv6Network("::/0")),
    ],
)
def test_a_network_is_taken_as_given_or_parsed_from_text(
    given_network: AnyNetwork | str, expected: AnyNetwork
) -> None:
    assert check_ip_network(given_network, "network") == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.0.0.1/8", "has host bits set"),
        ("10.0.0.0/33", "not an IP network"),
        ("example.com", "not an IP network"),
        ("fe80::%eth0/64", "zone"),
        ("::ffff:10.0.0.0/104", "IPv4-mapped"),
    ],
)
def test_a_network_that_is_malformed_zoned_or_ipv4_mapped_is_refused(
    text: str, reason: str
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        check_ip_network(text, "network")

    assert reason in raised.value.reason
    assert raised.value.path == ("network",)


@pytest.mark.parametrize("value", [b"\n\x00\x00\x00", 167772160, ipaddress.IPv4Address("10.0.0.0")])
def test_a_network_of_another_type_is_a_type_error(value: object) -> None:
    with pytest.raises(ComponentTypeError) as raised:
        check_ip_network(value, "network")  # type: ignore[arg-type]

    assert raised.value.path == ("network",)


def test_an_ipv4_mapped_address_is_judged_as_its_ipv4_address() -> None:
    assert check_ip_address("::ffff:10.0.0.1", "ip") == ipaddress.IPv4Address("10.0.0.1")
    assert check_ip_address(ipaddress.IPv6Address("::1"), "ip") == ipaddress.IPv6Address("::1")


@pytest.mark.parametrize(("value", "error"), [("10.0.0.256", ComponentValueError), (1, TypeError)])
def test_an_address_that_is_no_ip_is_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_ip_address(value, "ip")  # type: ignore[arg-type]


# The set of networks.


def test_a_network_set_holds_the_ips_of_its_networks_of_the_same_version() -> None:
    networks = NetworkSet([TEN_ONE, DOCS_V6])

    assert networks.holds(ipaddress.IPv4Address("10.1.255.255"))
    assert not networks.holds(ipaddress.IPv4Address("10.2.0.0"))
    assert networks.holds(ipaddress.IPv6Address("2001:db8:ffff::1"))
    assert not networks.holds(ipaddress.IPv6Address("2001:db9::"))
    # ::/0 is every IPv6 address, and no IPv4 one (as in go-libp2p's filters).
    assert not NetworkSet([ipaddress.IPv6Network("::/0")]).holds(ipaddress.IPv4Address("1.2.3.4"))


def test_a_network_set_adds_and_removes_each_network_once() -> None:
    networks = NetworkSet()

    assert networks.add(TEN)
    assert not networks.add(TEN)
    assert networks.add(TEN_ONE)
    assert networks.remove(TEN)
    assert not networks.remove(TEN)

    assert networks.networks() == (TEN_ONE,)
    assert not networks.holds(ipaddress.IPv4Address("10.2.0.0"))  # TEN's prefix is gone too
    assert networks.holds(ipaddress.IPv4Address("10.1.0.0"))


def test_networks_are_listed_by_address_bytes_then_prefix_length() -> None:
    networks: list[AnyNetwork] = [DOCS_V6, TEN_ONE, TEN, ipaddress.IPv4Network("9.0.0.0/8")]

    assert NetworkSet(networks).networks() == (
        ipaddress.IPv4Network("9.0.0.0/8"),
        TEN,
        TEN_ONE,
        DOCS_V6,
    )
    assert network_sort_key(TEN) == (b"\n\x00\x00\x00", 8)


ipv4_networks = st.builds(
    lambda address, length: ipaddress.IPv4Network((address, length), strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
ipv6_networks = st.builds(
    lambda address, length: ipaddress.IPv6Network((address, length), strict=False),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
)
ip_addresses = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address) | st.integers(
    0, 2**128 - 1
).map(ipaddress.IPv6Address)


@given(st.lists(ipv4_networks | ipv6_networks, max_size=8), ip_addresses)
def test_a_network_set_holds_exactly_what_one_of_its_networks_contains(
    networks: list[AnyNetwork], ip: IpAddress
) -> None:
    assert NetworkSet(networks).holds(ip) == any(ip in network for network in networks)


# Addresses: the IP they dial.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ip4/10.0.0.1/tcp/4001", ipaddress.IPv4Address("10.0.0.1")),
        ("/ip6/2001:db8::1/udp/1/quic-v1", ipaddress.IPv6Address("2001:db8::1")),
        ("/ip6zone/eth0/ip6/fe80::1/tcp/1", ipaddress.IPv6Address("fe80::1")),
        ("/ip6/::ffff:10.0.0.1/tcp/1", ipaddress.IPv4Address("10.0.0.1")),
        # A relayed address dials the relay: its first IP, not the one after p2p-circuit.
        (
            "/ip4/192.0.2.7/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
            "/p2p-circuit/ip4/10.0.0.1/tcp/2",
            ipaddress.IPv4Address("192.0.2.7"),
        ),
        ("/dns4/example.com/tcp/443/wss", None),
        ("/unix/tmp/node.sock", None),
    ],
)
def test_the_ip_an_address_dials_is_its_leading_ip_component(
    text: str, expected: IpAddress | None
) -> None:
    assert leading_ip(Multiaddr.from_string(text)) == expected


# The governor's IP filters.


def test_with_no_ip_filters_every_ip_may_connect() -> None:
    governor = PeerGovernor()

    assert governor.ip_allow == ()
    assert governor.ip_deny == ()
    assert governor.ip_decision("203.0.113.9") is Decision.OK
    assert governor.may_connect_ip(ipaddress.IPv6Address("2001:db8::1"))


def test_a_denied_network_refuses_its_ips_even_when_an_allowed_network_holds_them() -> None:
    governor = PeerGovernor()
    governor.add_ip_network(IpList.ALLOW, TEN)
    governor.add_ip_network(IpList.DENY, TEN_ONE)

    assert governor.ip_decision("10.1.2.3") is Decision.BLOCKED  # deny wins
    assert governor.ip_decision("10.2.0.1") is Decision.OK
    assert not governor.may_connect_ip("10.1.2.3")


def test_an_allow_list_admits_only_the_ips_its_networks_hold() -> None:
    governor = PeerGovernor()
    governor.add_ip_network(IpList.ALLOW, "10.0.0.0/8")

    assert governor.ip_decision("10.200.0.1") is Decision.OK
    assert governor.ip_decision("192.0.2.1") is Decision.NOT_ALLOWED
    assert governor.ip_decision("2001:db8::1") is Decision.NOT_ALLOWED

    governor.remove_ip_network(IpList.ALLOW, "10.0.0.0/8")

    assert governor.ip_decision("192.0.2.1") is Decision.OK  # an empty list allows every IP


def test_an_ipv4_mapped_ipv6_address_cannot_slip_past_an_ipv4_deny() -> None:
    governor = PeerGovernor()
    governor.add_ip_network(IpList.DENY, TEN)

    assert governor.ip_decision("::ffff:10.0.0.1") is Decision.BLOCKED


def test_an_ip_query_with_no_ip_is_refused() -> None:
    with pytest.raises(ComponentValueError) as raised:
        PeerGovernor().ip_decision("10.0.0")

    assert raised.value.path == ("ip",)


def test_an_address_is_judged_by_the_ip_it_dials() -> None:
    governor = PeerGovernor()
    governor.add_ip_network(IpList.DENY, TEN)

    assert governor.address_decision(Multiaddr.from_string("/ip4/10.0.0.1/tcp/1")) is (
        Decision.BLOCKED
    )
    assert governor.may_connect_address(Multiaddr.from_string("/ip4/192.0.2.1/tcp/1"))


def test_an_address_without_an_ip_passes_unless_an_allow_list_exists() -> None:
    governor = PeerGovernor()
    dns = Multiaddr.from_string("/dns4/example.com/tcp/443/wss")
    governor.add_ip_network(IpList.DENY, TEN)

    assert governor.address_decision(dns) is Decision.OK  # judged again once resolved

    governor.add_ip_network(IpList.ALLOW, "192.0.2.0/24")

    assert governor.address_decision(dns) is Decision.NOT_ALLOWED


def test_an_address_query_with_text_is_a_type_error() -> None:
    with pytest.raises(ComponentTypeError) as raised:
        PeerGovernor().address_decision("/ip4/10.0.0.1/tcp/1")  # type: ignore[arg-type]

    assert raised.value.path == ("address",)


@pytest.mark.parametrize("which", list(IpList))
def test_adding_and_removing_a_network_says_whether_it_changed_anything(which: IpList) -> None:
    governor = PeerGovernor()
    calls: list[None] = []
    governor.add_policy_listener(lambda: calls.append(None))

    assert governor.add_ip_network(which, TEN)
    revision = governor.revision
    assert not governor.add_ip_network(which, "10.0.0.0/8")  # the same network, as text
    assert not governor.remove_ip_network(which, TEN_ONE)
    assert governor.revision == revision
    assert len(calls) == 1  # a change that changes nothing is no policy change to save

    assert governor.remove_ip_network(which, TEN)

    assert governor.revision > revision
    assert len(calls) == 2
    assert getattr(governor, which.value) == ()


def test_every_ip_filter_change_calls_the_policy_listeners() -> None:
    governor = PeerGovernor()
    calls: list[None] = []
    governor.add_policy_listener(lambda: calls.append(None))

    governor.add_ip_network(IpList.DENY, TEN)
    governor.remove_ip_network(IpList.DENY, TEN)
    governor.set_ip_networks(IpList.ALLOW, [TEN])

    assert len(calls) == 3


def test_setting_a_list_replaces_it_with_each_network_once() -> None:
    governor = PeerGovernor()
    governor.add_ip_network(IpList.DENY, DOCS_V6)

    governor.set_ip_networks(IpList.DENY, ["10.1.0.0/16", TEN, TEN])

    assert governor.ip_deny == (TEN, TEN_ONE)
    assert governor.ip_decision("2001:db8::1") is Decision.OK


def test_a_refused_network_leaves_the_list_unchanged() -> None:
    governor = PeerGovernor()
    governor.set_ip_networks(IpList.DENY, [DOCS_V6])
    revision = governor.revision

    with pytest.raises(ComponentValueError) as raised:
        governor.set_ip_networks(IpList.DENY, [TEN, "10.0.0.1/8"])
    with pytest.raises(ComponentValueError):
        governor.add_ip_network(IpList.DENY, "10.0.0.1/8")

    assert raised.value.path == ("networks", 1)
    assert governor.ip_deny == (DOCS_V6,)
    assert governor.revision == revision


@pytest.mark.parametrize("networks", ["10.0.0.0/8", TEN, 8])
def test_a_single_network_where_a_list_goes_is_a_type_error(networks: object) -> None:
    with pytest.raises(ComponentTypeError) as raised:
        PeerGovernor().set_ip_networks(IpList.ALLOW, networks)  # type: ignore[arg-type]

    assert raised.value.path == ("networks",)


def test_a_list_named_by_its_text_is_a_type_error() -> None:
    with pytest.raises(ComponentTypeError) as raised:
        PeerGovernor().add_ip_network("ip_deny", TEN)  # type: ignore[arg-type]

    assert raised.value.path == ("which",)


def test_forgetting_a_peer_keeps_the_ip_filters() -> None:
    governor = PeerGovernor()
    governor.add_ip_network(IpList.DENY, TEN)

    governor.forget(b"\x00\x01a")

    assert governor.ip_deny == (TEN,)


# Restoring.


def test_from_state_restores_the_ip_filters() -> None:
    governor = PeerGovernor.from_state(3, (), None, (), ip_allow=[TEN], ip_deny=[TEN_ONE, DOCS_V6])

    assert governor.ip_allow == (TEN,)
    assert governor.ip_deny == (TEN_ONE, DOCS_V6)
    assert governor.ip_decision("10.1.0.1") is Decision.BLOCKED


def test_from_state_refuses_a_network_listed_twice_or_malformed() -> None:
    with pytest.raises(ComponentValueError) as twice:
        PeerGovernor.from_state(3, (), None, (), ip_deny=[TEN, TEN])
    with pytest.raises(ComponentValueError) as mapped:
        PeerGovernor.from_state(3, (), None, (), ip_allow=[ipaddress.IPv6Network("::ffff:0:0/96")])

    assert (twice.value.reason, twice.value.path) == ("network listed twice", ("ip_deny", 1))
    assert mapped.value.path == ("ip_allow", 0)
