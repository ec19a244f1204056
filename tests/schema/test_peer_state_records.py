"""The records spec version 2 added, as a producer builds them: what their constructors accept
(and freeze into canonical order), and what they refuse, naming the field."""

import ipaddress

import pytest

from snapshot_schema import (
    AddressBookEntrySnapshot,
    IpNetwork,
    PeerGovernorSnapshot,
    PeerRecordSnapshot,
    SnapshotValueError,
)

PEER = bytes.fromhex("1220") + bytes(32)
KEY = bytes.fromhex("08011220") + bytes([9]) * 32
KEYED_PEER = bytes.fromhex("0024") + KEY
TCP = bytes.fromhex("047f000001060fa1")
QUIC = bytes.fromhex("04c0a8000191022328cc03")


def test_addresses_are_permanent_unless_given_expiries() -> None:
    assert AddressBookEntrySnapshot(PEER, (TCP, QUIC)).expires_ns == (None, None)
    assert AddressBookEntrySnapshot(PEER, [TCP, QUIC], 0, [None, 5]).expires_ns == (None, 5)


@pytest.mark.parametrize(
    ("expires", "path"),
    [
        ((None,), ("expires_ns",)),
        ((None, -1), ("expires_ns", 1)),
        ((None, 2**64), ("expires_ns", 1)),
    ],
)
def test_an_expiry_list_must_hold_one_u64_or_none_per_address(
    expires: tuple[int | None, ...], path: tuple[object, ...]
) -> None:
    with pytest.raises(SnapshotValueError) as caught:
        AddressBookEntrySnapshot(PEER, (TCP, QUIC), 0, expires)
    assert caught.value.path == path


def test_ip_networks_are_built_from_text_or_ipaddress_and_held_sorted() -> None:
    governor = PeerGovernorSnapshot(
        ip_allow={"fd00::/8", ipaddress.ip_network("10.0.0.0/8"), IpNetwork.of("0.0.0.0/0")}
    )
    assert [str(network) for network in governor.ip_allow] == [
        "0.0.0.0/0",
        "10.0.0.0/8",
        "fd00::/8",
    ]
    assert governor.ip_allow[1].network == ipaddress.ip_network("10.0.0.0/8")
    assert IpNetwork.of("10.0.0.0/8") == IpNetwork(bytes([10, 0, 0, 0]), 8)


@pytest.mark.parametrize("text", ["10.1.2.3/8", "10.0.0.0/33", "not a network"])
def test_a_network_text_that_is_not_canonical_is_refused_never_masked(text: str) -> None:
    with pytest.raises(SnapshotValueError):
        IpNetwork.of(text)


@pytest.mark.parametrize(
    ("address", "prefix", "field"),
    [
        (bytes(5), 8, "address"),
        (bytes([10, 1, 0, 0]), 8, "address"),
        (bytes(4), 33, "prefix_length"),
        (bytes(16), -1, "prefix_length"),
        ("10.0.0.0", 8, "address"),
    ],
)
def test_an_invalid_network_record_names_its_field(
    address: object, prefix: object, field: str
) -> None:
    with pytest.raises(SnapshotValueError) as caught:
        IpNetwork(address, prefix)  # type: ignore[arg-type]
    assert caught.value.path == (field,)


def test_a_network_list_given_as_a_tuple_must_be_sorted_and_names_the_position() -> None:
    later, earlier = IpNetwork.of("10.0.0.0/8"), IpNetwork.of("0.0.0.0/0")
    with pytest.raises(SnapshotValueError) as caught:
        PeerGovernorSnapshot(ip_deny=(later, earlier))
    assert caught.value.path == ("ip_deny", 1)
    with pytest.raises(SnapshotValueError) as caught:
        PeerGovernorSnapshot(ip_deny=[later, "10.1.2.3/8"])
    assert caught.value.path == ("ip_deny", 1)


def test_protocols_and_metadata_given_as_collections_are_held_in_canonical_order() -> None:
    record = PeerRecordSnapshot(
        KEYED_PEER, KEY, protocols={"/b", "/a"}, metadata={"z": 1, "a": True}
    )
    assert record.protocols == ("/a", "/b")
    assert record.metadata == (("a", True), ("z", 1))
    assert PeerRecordSnapshot(PEER, metadata={"a": 1}) != PeerRecordSnapshot(
        PEER, metadata={"a": True}
    )


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"protocols": ("/b", "/a")}, ("protocols", 1)),
        ({"protocols": ["/a", "/a"]}, ("protocols", 1)),
        ({"metadata": (("b", 1), ("a", 2))}, ("metadata", 1, "key")),
        ({"metadata": {"x": float("nan")}}, ("metadata", 0, "value")),
        ({"metadata": {"x": -0.0}}, ("metadata", 0, "value")),
        ({"metadata": {"x": 2**64}}, ("metadata", 0, "value")),
        ({"metadata": {"x": [1]}}, ("metadata", 0, "value")),
        ({"public_key": KEY}, ("public_key",)),  # not the key PEER hashes
        ({"latency_ns": -1}, ("latency_ns",)),
        ({"signed_record": b""}, ("signed_record",)),
    ],
)
def test_an_invalid_peer_record_names_its_field(
    fields: dict[str, object], path: tuple[object, ...]
) -> None:
    with pytest.raises(SnapshotValueError) as caught:
        PeerRecordSnapshot(PEER, **fields)  # type: ignore[arg-type]
    assert caught.value.path == path
