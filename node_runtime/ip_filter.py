"""IP filters: the networks a remote address must avoid (deny) or come from (allow).

A remote IP is refused when any denied network holds it (deny wins); otherwise, when the allow
list is non-empty, an allowed network must hold it. An IPv4-mapped IPv6 address
(`::ffff:10.0.0.1`) is judged as the IPv4 address it carries, so it cannot slip past an IPv4
rule. Lookups cost one set probe per distinct prefix length in use, however many networks a
list holds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TypeAlias

from node_runtime.component_errors import ComponentTypeError, ComponentValueError
from node_runtime.multiaddr import Multiaddr
from snapshot_schema.errors import PathElement
from snapshot_schema.ip_network import AnyNetwork

IpAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetworkLike: TypeAlias = AnyNetwork | str
"""A network argument: an `ipaddress` network, or its text (`"10.0.0.0/8"`, host bits zero)."""
IpAddressLike: TypeAlias = IpAddress | str

_BITS = {4: 32, 6: 128}
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def check_ip_network(value: IpNetworkLike, *path: PathElement) -> AnyNetwork:
    """`value` as an `ipaddress` network: one as given, or parsed from text. Refused: host bits
    set (`"10.0.0.1/8"`), an IPv6 zone (`"fe80::%eth0/64"`: a snapshot stores no zone), and an
    IPv4-mapped network (`"::ffff:10.0.0.0/104"`: IPs are judged unmapped, so it would never
    match; write `"10.0.0.0/8"`)."""
    network: AnyNetwork
    if type(value) is ipaddress.IPv4Network or type(value) is ipaddress.IPv6Network:
        network = value
    elif type(value) is str:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as error:
            raise ComponentValueError(f"not an IP network: {error}", path) from None
    else:
        raise ComponentTypeError(
            f"expected an `IPv4Network`, `IPv6Network` or `str`, got `{type(value).__name__}`",
            path,
        )
    if isinstance(network, ipaddress.IPv6Network):
        if network.network_address.scope_id is not None:
            raise ComponentValueError("an IP network with a zone (`%...`) is refused", path)
        if network.subnet_of(_IPV4_MAPPED):
            raise ComponentValueError(
                "an IPv4-mapped network never matches (IPs are judged unmapped): "
                "write it as an IPv4 network",
                path,
            )
    return network


def check_ip_address(value: IpAddressLike, *path: PathElement) -> IpAddress:
    """`value` as an `ipaddress` address, IPv4-mapped IPv6 turned into its IPv4 address."""
    address: IpAddress
    if type(value) is ipaddress.IPv4Address or type(value) is ipaddress.IPv6Address:
        address = value
    elif type(value) is str:
        try:
            address = ipaddress.ip_address(value)
        except ValueError as error:
            raise ComponentValueError(f"not an IP address: {error}", path) from None
    else:
        raise ComponentTypeError(
            f"expected an `IPv4Address`, `IPv6Address` or `str`, got `{type(value).__name__}`",
            path,
        )
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def leading_ip(address: Multiaddr) -> IpAddress | None:
    """The IP a dial of `address` connects to: its first component when that is `/ip4` or
    `/ip6` (after an optional `/ip6zone`), as go-libp2p's filters read it; `None` for an
    address that does not start with one (`/dns4/...`, `/unix/...`)."""
    components = address.components()
    if components and components[0][0] == "ip6zone":
        components = components[1:]
    if not components or components[0][0] not in ("ip4", "ip6"):
        return None
    return check_ip_address(ipaddress.ip_address(components[0][1] or ""), "address")


class NetworkSet:
    """A set of IP networks answering "does any of them hold this IP?" in one set probe per
    prefix length in use (at most 33 for IPv4 and 129 for IPv6)."""

    __slots__ = ("_by_prefix", "_networks")

    def __init__(self, networks: Iterable[AnyNetwork] = ()) -> None:
        self._networks: set[AnyNetwork] = set()
        # version -> prefix length -> network addresses (as integers) of that length.
        self._by_prefix: dict[int, dict[int, set[int]]] = {4: {}, 6: {}}
        for network in networks:
            self.add(network)

    def __len__(self) -> int:
        return len(self._networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def networks(self) -> tuple[AnyNetwork, ...]:
        """The networks sorted as a snapshot stores them: by (address bytes, prefix length)."""
        return tuple(sorted(self._networks, key=network_sort_key))

    def has_network(self, network: AnyNetwork) -> bool:
        return network in self._networks

    def add(self, network: AnyNetwork) -> bool:
        """Add a (checked) network; False if it was already there."""
        if network in self._networks:
            return False
        self._networks.add(network)
        by_length = self._by_prefix[network.version]
        by_length.setdefault(network.prefixlen, set()).add(int(network.network_address))
        return True

    def remove(self, network: AnyNetwork) -> bool:
        """Remove a network; False if it was not there."""
        if network not in self._networks:
            return False
        self._networks.remove(network)
        by_length = self._by_prefix[network.version]
        members = by_length[network.prefixlen]
        members.discard(int(network.network_address))
        if not members:
            del by_length[network.prefixlen]
        return True

    def holds(self, ip: IpAddress) -> bool:
        """Whether a network of the set holds `ip` (checked, IPv4-mapped already unmapped)."""
        bits = _BITS[ip.version]
        value = int(ip)
        for length, members in self._by_prefix[ip.version].items():
            shift = bits - length
            if (value >> shift) << shift in members:
                return True
        return False


def network_sort_key(network: AnyNetwork) -> tuple[bytes, int]:
    """The order a snapshot keeps networks in: address bytes (4 or 16), then prefix length."""
    return (network.network_address.packed, network.prefixlen)
