"""`capture_host` and `snapshot_host`: a py-libp2p host's state mirrored into its `Node`.

Most tests fill a host's peerstore directly (the host need not run for that); py-libp2p's
TTLs count on the real wall clock, so the tests set `last_identified` to place an address's
age instead of sleeping, and the node runs on a `ManualClock`.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

import msgpack
import pytest
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerdata import PeerData
from libp2p.peer.peerstore import PeerRecordState
from libp2p.pubsub.floodsub import FloodSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p_hosts import MakeHost
from libp2p_peers import (
    HOST,
    HOST_SEED,
    S,
    address,
    host_node,
    identified_seconds_ago,
    key,
    peer_data,
    peer_id,
    peerstore,
    seed,
    signed_record,
)

from node_runtime import (
    DEFAULT_MAX_EXTENSION_BYTES,
    BackoffState,
    Identity,
    Multiaddr,
    PeerId,
    verify_signed_peer_record,
)
from node_runtime.libp2p_adapter import (
    BLACKLIST_EXTENSION,
    CaptureReport,
    HostIdentityMismatchError,
    capture_host,
    decode_blacklist,
    snapshot_host,
)
from node_runtime.libp2p_adapter.host_access import negative_cache, swarm_of
from snapshot_schema import encode

NODE_NOW = 1_000 * S  # the node's monotonic clock in every test (`host_node`)
TCP = "/ip4/10.0.0.1/tcp/4001"
QUIC = "/ip4/10.0.0.1/udp/4001/quic-v1"
WS = "/ip4/10.0.0.2/tcp/80/ws"


def ours(text: str) -> Multiaddr:
    return Multiaddr.from_string(text)


def test_capture_keeps_each_peers_addresses_in_order_expiring_when_py_libp2p_drops_them(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    peerstore(host).add_addrs(peer_id(1), [address(WS), address(TCP), address(QUIC)], 300)
    identified_seconds_ago(host, 1, 100)
    node = host_node()

    capture_host(host, node)

    assert node.peer_addresses(_ours_id(1)) == (ours(WS), ours(TCP), ours(QUIC))
    [(_, _, _, expires)] = node.address_book.entries()
    # py-libp2p keeps them while int(now) <= last_identified + 300: 201 s from the add, at
    # most, less the fraction of a second since `last_identified`.
    (expiry,) = set(expires)  # one TTL per peer in py-libp2p
    assert expiry is not None
    assert 200 * S < expiry - NODE_NOW <= 201 * S


def test_capture_leaves_out_addresses_whose_ttl_ran_out_and_keeps_the_rest_of_the_peer(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    peerstore(host).add_addrs(peer_id(1), [address(TCP)], 60)
    peerstore(host).add_protocols(peer_id(1), ["/ipfs/id/1.0.0"])
    identified_seconds_ago(host, 1, 120)
    node = host_node()

    capture_host(host, node)

    assert key(1) not in node.address_book
    assert node.peer_records.protocols(key(1)) == ("/ipfs/id/1.0.0",)


def test_addresses_with_ttl_zero_are_captured_permanent(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    peerstore(host).add_addrs(peer_id(1), [address(TCP)], 0)
    node = host_node()

    capture_host(host, node)

    assert list(node.address_book.entries()) == [(key(1), (ours(TCP).to_bytes(),), 0, (None,))]


def test_capture_keeps_metadata_types_exactly(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    store = peerstore(host)
    values: dict[str, str | int | float | bool | None] = {
        "agent": "py-libp2p/0.8.1",
        "count": 5,
        "ratio": 0.25,
        "relay": True,
        "one": 1,
        "one_float": 1.0,
        "nothing": None,
        "negative_zero": -0.0,
        "big": 2**64 - 1,
    }
    for name, value in values.items():
        store.put(peer_id(1), name, value)
    node = host_node()

    report = capture_host(host, node)

    captured = node.peer_records.metadata(key(1))
    assert captured == values
    assert {name: type(value) for name, value in captured.items()} == {
        name: type(value) for name, value in values.items()
    }
    negative_zero = captured["negative_zero"]
    assert isinstance(negative_zero, float)
    assert math.copysign(1.0, negative_zero) == 1.0  # kept as 0.0, which a snapshot holds
    assert report.refused == 0


def test_capture_takes_public_key_protocols_and_latency(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    store = peerstore(host)
    public_key = create_new_key_pair(seed(1)).public_key
    store.add_pubkey(peer_id(1), public_key)
    store.add_protocols(peer_id(1), ["/ipfs/kad/1.0.0", "/ipfs/id/1.0.0", "/ipfs/kad/1.0.0"])
    store.record_latency(peer_id(1), 0.0125)
    node = host_node()

    capture_host(host, node)

    assert node.peer_records.public_key(key(1)) == public_key.serialize()
    assert node.peer_records.protocols(key(1)) == ("/ipfs/id/1.0.0", "/ipfs/kad/1.0.0")
    assert node.peer_records.latency_ns(key(1)) == 12_500_000


def test_capture_takes_the_signed_record_as_the_marshalled_envelope_verified(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    envelope = signed_record(1, [address(TCP)], seq=7)
    assert peerstore(host).consume_peer_record(envelope, 3600)
    node = host_node()

    capture_host(host, node)

    held = node.peer_records.signed_record(key(1))
    assert held == envelope.marshal_envelope()
    record = verify_signed_peer_record(held, expected_peer=key(1))
    assert (record.seq, record.addresses) == (7, (ours(TCP).to_bytes(),))


def test_a_newer_signed_record_replaces_the_held_one_and_an_older_one_is_mirrored_too(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    store = peerstore(host)
    store.consume_peer_record(signed_record(1, [address(TCP)], seq=7), 3600)
    node = host_node()
    capture_host(host, node)

    store.consume_peer_record(signed_record(1, [address(QUIC)], seq=9), 3600)
    capture_host(host, node)
    assert node.peer_records.signed_record_seq(key(1)) == 9

    # The host holds an older record again (py-libp2p dropped the newer one): the node
    # mirrors it, though its own book would never take an older record.
    older = signed_record(1, [address(TCP)], seq=3)
    store.peer_record_map[peer_id(1)] = PeerRecordState(older, 3)
    capture_host(host, node)
    assert node.peer_records.signed_record(key(1)) == older.marshal_envelope()


def test_a_signed_record_the_host_dropped_is_dropped_with_the_rest_of_the_record_kept(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    store = peerstore(host)
    store.consume_peer_record(signed_record(1, [address(TCP)], seq=7), 3600)
    store.add_protocols(peer_id(1), ["/ipfs/id/1.0.0"])
    node = host_node()
    capture_host(host, node)

    del store.peer_record_map[peer_id(1)]
    capture_host(host, node)

    assert node.peer_records.signed_record(key(1)) is None
    assert node.peer_records.protocols(key(1)) == ("/ipfs/id/1.0.0",)


def test_the_host_itself_and_its_private_key_are_never_captured(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    own = host.get_id()
    assert peerstore(host).peer_data_map[own].privkey is not None  # it is there to leave out
    peerstore(host).add_addrs(own, [address(TCP)], 0)  # and even own addresses
    node = host_node()

    data = encode(snapshot_host(host, node))

    assert own.to_bytes() not in node.address_book
    assert own.to_bytes() not in node.peer_records
    private_key = create_new_key_pair(HOST_SEED).private_key
    assert private_key.serialize() not in data
    assert HOST_SEED not in data
    assert private_key.to_bytes()[:32] not in data


def test_a_capture_of_an_unchanged_host_does_not_move_the_revision(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    _fill_rich_state(host)
    node = host_node()
    capture_host(host, node)
    revision = node.revision

    for _ in range(3):
        capture_host(host, node)

    assert node.revision == revision


def test_each_kind_of_change_moves_the_revision(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    _fill_rich_state(host)
    node = host_node()
    capture_host(host, node)
    store = peerstore(host)
    changes: list[Callable[[], object]] = [
        lambda: store.add_addrs(peer_id(1), [address("/ip4/10.9.9.9/tcp/1")], 300),
        lambda: store.add_protocols(peer_id(2), ["/new/1.0.0"]),
        lambda: store.put(peer_id(2), "count", 6),
        lambda: store.put(peer_id(2), "count", 6.0),  # same value, another type
        lambda: store.record_latency(peer_id(2), 1.0),
        lambda: swarm_of(host).connection_gate.add_to_allow_list("192.0.2.0/24"),
        lambda: swarm_of(host).connection_gate.add_to_deny_list("198.51.100.0/24"),
        lambda: swarm_of(host)._negative_peer_cache.mark_failed(str(peer_id(4))),
        lambda: store.clear_peerdata(peer_id(3)),
    ]
    for change in changes:
        revision = node.revision
        change()
        capture_host(host, node)
        assert node.revision > revision


def test_peers_gone_from_the_peerstore_lose_addresses_and_record_but_keep_policy(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    store = peerstore(host)
    store.add_addrs(peer_id(1), [address(TCP)], 0)
    store.add_protocols(peer_id(1), ["/ipfs/id/1.0.0"])
    node = host_node()
    capture_host(host, node)
    gone = _ours_id(1)
    node.block(gone)
    node.record_dial_failure(gone)
    node.address_book.retain(key(1))  # a protocol still holds a reference to it

    store.clear_peerdata(peer_id(1))
    capture_host(host, node)

    assert node.peer_addresses(gone) == ()
    assert node.address_book.ref_count(key(1)) == 1
    assert key(1) not in node.peer_records
    assert node.governor.is_blocked(key(1))
    assert node.governor.health(key(1)) is not None
    assert node.backoff.entry(key(1)) is not None


def test_the_dial_backoff_becomes_a_node_backoff_until_the_same_moment(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    negative_cache(swarm_of(host)).entries[str(peer_id(1))] = time.monotonic() + 45.0
    node = host_node()

    capture_host(host, node)

    state = node.backoff.entry(key(1))
    assert state is not None
    assert state.attempts == 1
    assert 44 * S < state.next_retry_ns - NODE_NOW <= 45 * S
    # Marked 60 s (the cache's TTL) before its release: 15 s ago.
    assert 15 * S <= NODE_NOW - state.last_attempt_ns < 16 * S


def test_a_node_backoff_longer_than_the_dial_backoff_is_kept(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    swarm_of(host)._negative_peer_cache.mark_failed(str(peer_id(1)))
    node = host_node()
    own_backoff = BackoffState(
        attempts=4, last_attempt_ns=NODE_NOW, next_retry_ns=NODE_NOW + 3_600 * S
    )
    node.backoff.set_entry(key(1), own_backoff)

    capture_host(host, node)

    assert node.backoff.entry(key(1)) == own_backoff


def test_released_dial_backoff_entries_are_not_captured(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    negative_cache(swarm_of(host)).entries[str(peer_id(1))] = time.monotonic() - 1.0
    node = host_node()

    capture_host(host, node)

    assert node.backoff.entry(key(1)) is None


def test_the_gate_lists_become_the_governors_ip_lists(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    gate = swarm_of(host).connection_gate
    gate.add_to_allow_list("10.0.0.0/8")
    gate.add_to_allow_list("10.0.0.0/8")  # py-libp2p keeps repeats: the governor keeps sets
    gate.add_to_deny_list("10.66.0.1")  # a single IP: py-libp2p keeps it as a /32
    gate.add_to_deny_list("2001:db8::/32")
    node = host_node()

    capture_host(host, node)

    assert node.governor.ip_allow == (ipaddress.ip_network("10.0.0.0/8"),)
    assert set(node.governor.ip_deny) == {
        ipaddress.ip_network("10.66.0.1/32"),
        ipaddress.ip_network("2001:db8::/32"),
    }


def test_the_pubsub_blacklist_becomes_sorted_msgpack_peer_ids(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    pubsub = Pubsub(host, FloodSub([]))
    pubsub.blacklisted_peers.update({peer_id(2), peer_id(1), host.get_id()})
    node = host_node()

    capture_host(host, node, pubsub=pubsub)

    data = node.extension(BLACKLIST_EXTENSION)
    assert data == msgpack.packb(sorted([key(1), key(2)]), use_bin_type=True)
    assert decode_blacklist(data) == tuple(sorted([key(1), key(2)]))

    pubsub.blacklisted_peers.clear()
    capture_host(host, node, pubsub=pubsub)
    assert node.extension(BLACKLIST_EXTENSION) is None  # an empty blacklist holds none


def test_a_blacklist_past_the_nodes_extension_bound_is_left_out_and_counted(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    pubsub = Pubsub(host, FloodSub([]))
    pubsub.blacklisted_peers.update({peer_id(1), peer_id(2)})
    node = host_node()
    node.set_extension("app.large", bytes(DEFAULT_MAX_EXTENSION_BYTES - 10))

    report = capture_host(host, node, pubsub=pubsub)

    assert report.blacklist_refused == 2
    assert node.extension(BLACKLIST_EXTENSION) is None


def test_without_pubsub_the_blacklist_extension_is_left_as_it_is(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    node = host_node()
    node.set_extension(BLACKLIST_EXTENSION, msgpack.packb([key(1)], use_bin_type=True))

    capture_host(host, node)

    assert node.extension(BLACKLIST_EXTENSION) is not None


def test_capture_refuses_a_host_of_another_identity_and_changes_nothing(
    make_host: MakeHost,
) -> None:
    host = make_host(seed(9))
    peerstore(host).add_addrs(peer_id(1), [address(TCP)], 0)
    node = host_node()

    with pytest.raises(HostIdentityMismatchError) as refused:
        capture_host(host, node)

    assert str(HOST.peer_id) in str(refused.value)
    assert node.revision == 0


def test_values_a_snapshot_refuses_are_left_out_and_counted(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    store = peerstore(host)
    store.add_addrs(peer_id(1), [address(TCP), address("/memory/1234"), address(QUIC)], 0)
    data = peer_data(host, 1)
    data.metadata.update(
        {
            "nan": math.nan,
            "huge": 2**70,
            "surrogate": "\ud800",
            "": "empty key",
            "kept": "yes",
            "bytes": b"not a py-libp2p value",  # type: ignore[dict-item]
        }
    )
    data.protocols.extend(["", "/ok/1.0.0", "\udc00"])
    data.latmap = -1.0
    data.pubkey = create_new_key_pair(seed(2)).public_key  # another peer's key
    store.peer_record_map[peer_id(1)] = PeerRecordState(signed_record(2, [address(TCP)], 1), 1)
    store.peer_data_map[ID(b"not a multihash")] = PeerData()
    gate = swarm_of(host).connection_gate
    gate.deny_list.append(ipaddress.ip_network("::ffff:10.0.0.0/104"))  # IPv4-mapped
    negative_cache(swarm_of(host)).entries["not a peer id"] = time.monotonic() + 30
    negative_cache(swarm_of(host)).entries[str(peer_id(3))] = math.nan  # refused for ever
    node = host_node()

    report = capture_host(host, node)

    assert report == CaptureReport(
        peers=1,
        peers_refused=1,
        addresses_refused=1,
        public_keys_refused=1,
        protocols_refused=2,
        metadata_refused=5,
        latencies_refused=1,
        signed_records_refused=1,
        backoff_refused=2,
        networks_refused=1,
    )
    assert report.refused == 15
    assert node.peer_addresses(_ours_id(1)) == (ours(TCP), ours(QUIC))
    assert node.peer_records.metadata(key(1)) == {"kept": "yes"}
    assert node.peer_records.protocols(key(1)) == ("/ok/1.0.0",)
    assert node.peer_records.public_key(key(1)) is None
    assert node.peer_records.latency_ns(key(1)) is None
    assert node.peer_records.signed_record(key(1)) is None
    assert node.governor.ip_deny == ()
    assert node.backoff.entry(key(3)) is None
    revision = node.revision
    assert capture_host(host, node) == report  # counted again, and still nothing to write
    assert node.revision == revision
    encode(node.snapshot())  # and what was captured can be saved


def test_values_of_the_wrong_shape_are_left_out_and_counted(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    store = peerstore(host)
    store.add_addrs(peer_id(1), [address(TCP)], 300)
    peer_data(host, 1).last_identified = "yesterday"  # type: ignore[assignment]
    store.add_addrs(peer_id(2), [address(TCP)], 300)
    peer_data(host, 2).addrs.append("/ip4/10.0.0.3/tcp/1")  # text, not a Multiaddr
    peer_data(host, 2).protocols = "not a list"  # type: ignore[assignment]
    store.peer_data_map[peer_id(3)] = "not peer data"  # type: ignore[assignment]
    node = host_node()

    report = capture_host(host, node)

    assert (report.peers, report.peers_refused, report.addresses_refused) == (2, 1, 2)
    assert key(1) not in node.address_book
    assert node.peer_addresses(_ours_id(2)) == (ours(TCP),)


def test_more_addresses_than_the_node_keeps_per_peer_keeps_the_first(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    many = [address(f"/ip4/10.0.0.{n}/tcp/1") for n in range(1, 41)]
    peerstore(host).add_addrs(peer_id(1), many, 0)
    node = host_node()

    report = capture_host(host, node)

    assert report.addresses_refused == 8
    assert node.peer_addresses(_ours_id(1)) == tuple(
        Multiaddr.from_bytes(a.to_bytes()) for a in many[:32]
    )


def _ours_id(n: int) -> PeerId:
    return Identity.from_private_bytes(seed(n)).peer_id


def _fill_rich_state(host: IHost) -> None:
    """Three peers with every kind of peerstore value, a dial backoff and gate lists."""
    store = peerstore(host)
    store.add_addrs(peer_id(1), [address(TCP), address(QUIC)], 7200)
    store.consume_peer_record(signed_record(1, [address(TCP)], seq=5), 7200)
    store.add_addrs(peer_id(1), [address(TCP), address(QUIC)], 7200)
    store.add_pubkey(peer_id(2), create_new_key_pair(seed(2)).public_key)
    store.add_protocols(peer_id(2), ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"])
    store.put(peer_id(2), "count", 5)
    store.put(peer_id(2), "ratio", 0.5)
    store.record_latency(peer_id(2), 0.02)
    store.add_addrs(peer_id(3), [address(WS)], 0)
    swarm = swarm_of(host)
    swarm._negative_peer_cache.mark_failed(str(peer_id(3)))
    swarm.connection_gate.add_to_deny_list("10.66.0.0/16")
