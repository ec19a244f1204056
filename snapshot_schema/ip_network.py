"""`IpNetwork`: one IPv4 or IPv6 network of a connection gate, as a snapshot holds it."""

from __future__ import annotations

import ipaddress
from typing import Any

import attrs

from snapshot_schema.checks import Path, check_u32
from snapshot_schema.errors import SnapshotValueError
from snapshot_schema.reprs import bytes_repr

AnyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_BITS = {4: 32, 16: 128}  # address size in bytes -> address bits


def ip_network_problem(address: object, prefix_length: object) -> tuple[str, str] | None:
    """`(field, reason)` for the first thing wrong with a network, or `None` when it is valid:
    a 4- or 16-byte address, a prefix length that fits it, and no bit set past the prefix (the
    canonical form: `10.0.0.0/8`, never `10.1.2.3/8`)."""
    if type(address) is not bytes:
        return "address", f"expected `bytes`, got `{type(address).__name__}`"
    bits = _BITS.get(len(address))
    if bits is None:
        return "address", f"expected 4 (IPv4) or 16 (IPv6) bytes, got {len(address)}"
    try:
        check_u32(prefix_length, ())
    except SnapshotValueError as error:
        return "prefix_length", error.reason
    if prefix_length > bits:  # type: ignore[operator]
        return "prefix_length", f"a {bits}-bit address has no /{prefix_length} prefix"
    host_bits = bits - prefix_length  # type: ignore[operator]
    if int.from_bytes(address, "big") & ((1 << host_bits) - 1):
        return "address", "bits set past the prefix length (write the network address)"
    return None


@attrs.frozen(weakref_slot=False, order=True)
class IpNetwork:
    """An IPv4 (4-byte `address`) or IPv6 (16-byte) network and its prefix length.

    Networks order by address bytes, then prefix length: the order a snapshot lists them in.
    `IpNetwork.of("10.0.0.0/8")` builds one from text or an `ipaddress` network; `.network`
    gives the `ipaddress` network back.
    """

    address: bytes = attrs.field(repr=bytes_repr)
    prefix_length: int

    def __attrs_post_init__(self) -> None:
        problem = ip_network_problem(self.address, self.prefix_length)
        if problem is not None:
            raise SnapshotValueError(problem[1], (problem[0],))

    @classmethod
    def of(cls, network: AnyNetwork | str | IpNetwork) -> IpNetwork:
        """The network `network` names (`"fd00::/8"`, an `ipaddress` network); a string with
        bits set past its prefix is refused (`SnapshotValueError`), never silently masked."""
        if type(network) is IpNetwork:
            return network
        if isinstance(network, str):
            try:
                network = ipaddress.ip_network(network)
            except ValueError as error:
                raise SnapshotValueError(str(error), ()) from None
        if not isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
            raise SnapshotValueError(f"expected an IP network, got `{type(network).__name__}`", ())
        return cls(network.network_address.packed, network.prefixlen)

    @property
    def network(self) -> AnyNetwork:
        return ipaddress.ip_network((self.address, self.prefix_length))

    def __str__(self) -> str:
        return str(self.network)


def as_networks(value: object) -> object:
    """A list or set of networks (records, `ipaddress` networks or text), as sorted records;
    anything else as given, for the check to report (a tuple must be sorted already)."""
    if not isinstance(value, list | set | frozenset):
        return value
    try:
        return tuple(sorted(map(IpNetwork.of, value)))
    except SnapshotValueError:
        return tuple(value)  # the check finds the bad one and names its position


def check_networks(value: object, path: Path) -> None:
    """A tuple of `IpNetwork`s sorted strictly ascending (no network twice)."""
    if type(value) is not tuple:
        raise SnapshotValueError(f"expected `tuple`, got `{type(value).__name__}`", path)
    for index, item in enumerate(value):
        if type(item) is not IpNetwork:
            raise SnapshotValueError(
                f"expected `IpNetwork`, got `{type(item).__name__}`", (*path, index)
            )
        if index and value[index - 1] >= item:
            raise SnapshotValueError("networks must be sorted ascending, each once", (*path, index))


def network_rows(networks: tuple[IpNetwork, ...]) -> list[tuple[Any, ...]]:
    """The networks as the format writes them: `[address, prefix_length]` each."""
    return [(network.address, network.prefix_length) for network in networks]
