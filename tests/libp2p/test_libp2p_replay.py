"""`replay_into_host`: a restored `Node` written back into a fresh py-libp2p host, and the whole
round trip host -> snapshot -> bytes -> restore -> fresh host.

The node runs on a `ManualClock`, so a downtime is a jump of its wall clock between snapshot
and restore; py-libp2p's own times (TTLs, the negative cache) are read from the real clocks,
so they are compared with a margin of a second, never as absolute times.
"""

from __future__ import annotations

import ipaddress
import time

import msgpack
import pytest
import trio
from cryptography.hazmat.primitives.asymmetric import ec
from libp2p.abc import IHost, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.floodsub import FloodSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p_hosts import MakeHost, RunningHost, RunTrio
from libp2p_peers import (
    HOST,
    HOST_SEED,
    WALL,
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
    BackoffState,
    Identity,
    IpList,
    ManualClock,
    Multiaddr,
    Node,
    PeerId,
    libp2p_keys,
    sign_peer_record,
)
from node_runtime.libp2p_adapter import (
    BLACKLIST_EXTENSION,
    HostIdentityMismatchError,
    ReplayReport,
    ReplayValueError,
    capture_host,
    replay_into_host,
    snapshot_host,
)
from node_runtime.libp2p_adapter.host_access import negative_cache, swarm_of
from snapshot_schema import decode, encode

TCP = "/ip4/10.0.0.1/tcp/4001"
QUIC = "/ip4/10.0.0.1/udp/4001/quic-v1"
WS = "/ip4/10.0.0.2/tcp/80/ws"
PROTOCOL = TProtocol("/nodesnap/replay-test/1.0.0")


def ours(text: str) -> Multiaddr:
    return Multiaddr.from_string(text)


def ours_id(n: int) -> PeerId:
    return Identity.from_private_bytes(seed(n)).peer_id


def seconds_kept(host: IHost, n: int) -> float:
    """How long from now py-libp2p keeps peer `n`'s addresses (its own rule)."""
    data = peer_data(host, n)
    return data.last_identified + data.ttl + 1 - time.time()


def fill(host: IHost) -> Pubsub:
    """Every kind of state the adapter carries, in a host that need not run."""
    store = peerstore(host)
    store.add_addrs(peer_id(1), [address(QUIC), address(TCP)], 7200)
    store.consume_peer_record(signed_record(1, [address(TCP), address(QUIC)], seq=5), 7200)
    store.peer_data_map[peer_id(1)].addrs[:] = [address(QUIC), address(TCP)]  # not the set order
    identified_seconds_ago(host, 1, 600)
    store.add_pubkey(peer_id(2), create_new_key_pair(seed(2)).public_key)
    store.add_protocols(peer_id(2), ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"])
    metadata: dict[str, str | int | float | bool | None] = {
        "count": 5,
        "ratio": 0.5,
        "relay": True,
        "agent": "x",
        "none": None,
    }
    for name, value in metadata.items():
        store.put(peer_id(2), name, value)
    store.record_latency(peer_id(2), 0.0125)
    store.add_addrs(peer_id(3), [address(WS)], 0)
    swarm = swarm_of(host)
    negative_cache(swarm).entries[str(peer_id(3))] = time.monotonic() + 40
    swarm.connection_gate.add_to_allow_list("10.0.0.0/8")
    swarm.connection_gate.add_to_deny_list("10.66.0.0/16")
    pubsub = Pubsub(host, FloodSub([]))
    pubsub.blacklisted_peers.add(peer_id(4))
    return pubsub


def test_a_host_comes_back_as_it_was_through_snapshot_bytes_and_restore(
    make_host: MakeHost,
) -> None:
    original = make_host(HOST_SEED)
    pubsub = fill(original)
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=WALL)
    node = host_node(clock)
    snapshot = snapshot_host(original, node, pubsub=pubsub)

    restored = Node.restore(decode(encode(snapshot)), HOST, clock=clock)
    fresh = make_host(HOST_SEED)
    fresh_pubsub = Pubsub(fresh, FloodSub([]))
    report = replay_into_host(restored, fresh, pubsub=fresh_pubsub)

    assert report == ReplayReport(
        peers=3,
        addresses=3,
        public_keys=1,
        signed_records=1,
        backoff_entries=1,
        networks=2,
        blacklisted=1,
    )
    for n in (1, 2, 3):
        before, after = peer_data(original, n), peer_data(fresh, n)
        assert after.addrs == before.addrs  # in order
        if before.ttl:
            # The very second py-libp2p drops them, as it was.
            assert after.last_identified + after.ttl == before.last_identified + before.ttl
        assert after.ttl == 0 if before.ttl == 0 else after.ttl > 0
        assert after.pubkey == before.pubkey
        assert sorted(after.protocols) == sorted(before.protocols)
        assert after.metadata == before.metadata
        assert {k: type(v) for k, v in after.metadata.items()} == {
            k: type(v) for k, v in before.metadata.items()
        }
        assert after.latmap == pytest.approx(before.latmap, abs=1e-9)
        assert after.privkey is None
    record = peerstore(fresh).peer_record_map[peer_id(1)]
    assert record.envelope.marshal_envelope() == (
        peerstore(original).peer_record_map[peer_id(1)].envelope.marshal_envelope()
    )
    assert record.seq == 5
    release = negative_cache(swarm_of(fresh)).entries[str(peer_id(3))]
    assert release == pytest.approx(
        negative_cache(swarm_of(original)).entries[str(peer_id(3))], abs=1
    )
    gate, original_gate = swarm_of(fresh).connection_gate, swarm_of(original).connection_gate
    assert (gate.allow_list, gate.deny_list) == (original_gate.allow_list, original_gate.deny_list)
    assert fresh_pubsub.blacklisted_peers == {peer_id(4)}
    # Capturing the fresh host finds nothing the restored node does not hold already.
    revision = restored.revision
    capture_host(fresh, restored, pubsub=fresh_pubsub)
    assert restored.revision == revision


def test_addresses_come_back_with_their_ttl_less_the_downtime(make_host: MakeHost) -> None:
    original = make_host(HOST_SEED)
    store = peerstore(original)
    store.add_addrs(peer_id(1), [address(TCP)], 300)
    identified_seconds_ago(original, 1, 100)  # ~200 s left
    store.add_addrs(peer_id(2), [address(TCP)], 150)
    identified_seconds_ago(original, 2, 100)  # ~50 s left
    snapshot = snapshot_host(original, host_node())

    # Down for 120 s: peer 2's addresses expired meanwhile, peer 1's have ~80 s left.
    after = ManualClock(monotonic_ns=5 * S, wall_ns=WALL + 120 * S)
    restored = Node.restore(decode(encode(snapshot)), HOST, clock=after)
    fresh = make_host(HOST_SEED)
    replay_into_host(restored, fresh)

    assert 79 < seconds_kept(fresh, 1) < 81
    assert peer_id(2) not in peerstore(fresh).peer_data_map
    assert restored.counters.get("restore:expired_addresses_dropped") == 1


def test_addresses_that_expired_after_the_restore_are_dropped_and_counted(
    make_host: MakeHost,
) -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=WALL)
    node = host_node(clock)
    node.add_peer_address(ours_id(1), ours(TCP), 10 * S)
    node.add_peer_address(ours_id(1), ours(QUIC), 100 * S)
    clock.advance(30 * S)  # TCP expired; nothing called `expire_addresses`
    fresh = make_host(HOST_SEED)

    report = replay_into_host(node, fresh)

    assert report.addresses_expired == 1
    assert peer_data(fresh, 1).addrs == [address(QUIC)]
    assert 69 < seconds_kept(fresh, 1) < 71


def test_a_peers_addresses_of_different_expiries_get_the_earliest_as_their_one_ttl(
    make_host: MakeHost,
) -> None:
    node = host_node()
    node.add_peer_address(ours_id(1), ours(WS))  # permanent
    node.add_peer_address(ours_id(1), ours(TCP), 500 * S)
    node.add_peer_address(ours_id(1), ours(QUIC), 100 * S)
    fresh = make_host(HOST_SEED)

    replay_into_host(node, fresh)

    assert peer_data(fresh, 1).addrs == [address(WS), address(TCP), address(QUIC)]
    assert 99 < seconds_kept(fresh, 1) < 101  # none lives longer than it had


def test_permanent_addresses_are_replayed_with_ttl_zero(make_host: MakeHost) -> None:
    node = host_node()
    node.add_peer_address(ours_id(1), ours(TCP))
    fresh = make_host(HOST_SEED)

    replay_into_host(node, fresh)

    assert (peer_data(fresh, 1).addrs, peer_data(fresh, 1).ttl) == ([address(TCP)], 0)


def test_a_signed_record_is_consumed_and_the_ordered_address_list_survives_it(
    make_host: MakeHost,
) -> None:
    node = host_node()
    for text in (TCP, QUIC, WS):
        node.add_peer_address(ours_id(1), ours(text), 600 * S)
    signer = Identity.from_private_bytes(seed(1))
    node.consume_signed_record(ours_id(1), sign_peer_record(signer, 11, [ours(WS), ours(QUIC)]))
    fresh = make_host(HOST_SEED)

    report = replay_into_host(node, fresh)

    assert report.signed_records == 1
    assert peer_data(fresh, 1).addrs == [address(TCP), address(QUIC), address(WS)]
    state = peerstore(fresh).peer_record_map[peer_id(1)]
    assert state.seq == 11
    assert peerstore(fresh).get_peer_record(peer_id(1)) is state.envelope


def test_a_signed_record_never_brings_back_addresses_that_expired(make_host: MakeHost) -> None:
    node = host_node()
    signer = Identity.from_private_bytes(seed(1))
    node.consume_signed_record(ours_id(1), sign_peer_record(signer, 3, [ours(TCP)]))
    node.add_peer_protocols(ours_id(1), ["/ipfs/id/1.0.0"])
    fresh = make_host(HOST_SEED)

    report = replay_into_host(node, fresh)

    assert report.signed_records_dropped == 1
    assert peer_data(fresh, 1).addrs == []
    assert peer_id(1) not in peerstore(fresh).peer_record_map
    assert peer_data(fresh, 1).protocols == ["/ipfs/id/1.0.0"]


def test_the_dial_backoff_comes_back_for_the_time_it_had_left_at_most_a_minute(
    make_host: MakeHost,
) -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=WALL)
    node = host_node(clock)
    node.backoff.set_entry(key(1), BackoffState(1, 990 * S, 1_025 * S))  # 25 s left
    node.backoff.set_entry(key(2), BackoffState(5, 990 * S, 4_600 * S))  # an hour left
    node.backoff.set_entry(key(3), BackoffState(1, 900 * S, 990 * S))  # due already
    fresh = make_host(HOST_SEED)

    report = replay_into_host(node, fresh)

    entries = negative_cache(swarm_of(fresh)).entries
    assert report.backoff_entries == 2
    assert entries.keys() == {str(peer_id(1)), str(peer_id(2))}
    assert entries[str(peer_id(1))] - time.monotonic() == pytest.approx(25, abs=1)
    assert entries[str(peer_id(2))] - time.monotonic() == pytest.approx(60, abs=1)


def test_the_gate_lists_become_the_governors(make_host: MakeHost) -> None:
    node = host_node()
    node.governor.set_ip_networks(IpList.ALLOW, ["10.0.0.0/8"])
    node.governor.set_ip_networks(IpList.DENY, ["10.66.0.0/16", "2001:db8::/32"])
    fresh = make_host(HOST_SEED)
    swarm_of(fresh).connection_gate.add_to_deny_list("192.0.2.0/24")  # replaced

    replay_into_host(node, fresh)

    gate = swarm_of(fresh).connection_gate
    assert gate.allow_list == [ipaddress.ip_network("10.0.0.0/8")]
    assert set(gate.deny_list) == {
        ipaddress.ip_network("10.66.0.0/16"),
        ipaddress.ip_network("2001:db8::/32"),
    }


def test_the_pubsub_blacklist_becomes_exactly_the_extensions(make_host: MakeHost) -> None:
    node = host_node()
    node.set_extension(BLACKLIST_EXTENSION, msgpack.packb(sorted([key(1), key(2)])))
    fresh = make_host(HOST_SEED)
    pubsub = Pubsub(fresh, FloodSub([]))
    pubsub.blacklisted_peers.add(peer_id(3))

    report = replay_into_host(node, fresh, pubsub=pubsub)

    assert pubsub.blacklisted_peers == {peer_id(1), peer_id(2)}
    assert report.blacklisted == 2


def test_values_py_libp2p_cannot_hold_are_left_out_and_counted(make_host: MakeHost) -> None:
    node = host_node()
    node.put_peer_metadata(ours_id(1), "raw", b"\x00")
    node.put_peer_metadata(ours_id(1), "kept", 1)
    # py-libp2p 0.8 reads no ECDSA key: neither the key nor a record it signed.
    signer = ec.generate_private_key(ec.SECP256R1())
    ecdsa_key = libp2p_keys.public_key_of(signer)
    ecdsa_peer = PeerId.from_bytes(libp2p_keys.peer_id_of(ecdsa_key))
    node.set_peer_public_key(ecdsa_peer, ecdsa_key)
    node.add_peer_address(ecdsa_peer, ours(TCP))
    node.consume_signed_record(ecdsa_peer, sign_peer_record(signer, 1, [ours(TCP)]))
    fresh = make_host(HOST_SEED)

    report = replay_into_host(node, fresh)

    assert (report.metadata_refused, report.public_keys_refused) == (1, 1)
    assert report.signed_records_refused == 1
    assert peer_data(fresh, 1).metadata == {"kept": 1}
    assert peerstore(fresh).addrs(ID(ecdsa_peer.to_bytes())) == [address(TCP)]  # the rest stays


def test_peers_the_peerstore_evicts_are_counted(make_host: MakeHost) -> None:
    node = host_node()
    for n in range(1, 6):
        node.add_peer_address(ours_id(n), ours(TCP))
    small = make_host(HOST_SEED, max_peers=3)

    report = replay_into_host(node, small)

    assert report.peers + report.peers_evicted == 5
    assert report.peers_evicted >= 2


def test_replay_refuses_a_host_of_another_identity_and_writes_nothing(
    make_host: MakeHost,
) -> None:
    node = host_node()
    node.add_peer_address(ours_id(1), ours(TCP))
    other = make_host(seed(9))

    with pytest.raises(HostIdentityMismatchError):
        replay_into_host(node, other)

    assert list(peerstore(other).peer_data_map) == [other.get_id()]


def test_a_malformed_blacklist_extension_refuses_the_replay_and_writes_nothing(
    make_host: MakeHost,
) -> None:
    node = host_node()
    node.add_peer_address(ours_id(1), ours(TCP))
    node.set_extension("app.first", b"")
    node.set_extension(BLACKLIST_EXTENSION, msgpack.packb([b"not a peer id"]))
    fresh = make_host(HOST_SEED)

    with pytest.raises(ReplayValueError) as refused:
        replay_into_host(node, fresh, pubsub=Pubsub(fresh, FloodSub([])))

    assert refused.value.path == ("framework", "extensions", 1, "value")
    assert list(peerstore(fresh).peer_data_map) == [fresh.get_id()]
    replay_into_host(node, fresh)  # without pubsub, the extension is not read


def test_the_restored_host_reaches_a_peer_by_peer_id_alone(
    run_trio: RunTrio, running_host: RunningHost
) -> None:
    received: list[bytes] = []

    async def main() -> None:
        async with running_host(seed(1)) as peer:

            async def handler(stream: INetStream) -> None:
                received.append(await stream.read(5))
                await stream.close()

            peer.set_stream_handler(PROTOCOL, handler)
            node = Node(HOST)
            async with running_host(HOST_SEED) as before:
                await before.connect(info_from_p2p_addr(peer.get_addrs()[0]))
                data = encode(snapshot_host(before, node))
            # The process is gone; a new one with the same key knows nothing of the peer.
            restored = Node.restore(decode(data), HOST)
            async with running_host(HOST_SEED) as after:
                assert peer.get_id() not in peerstore(after).peer_data_map
                replay_into_host(restored, after)
                stream = await after.new_stream(peer.get_id(), [PROTOCOL])
                await stream.write(b"hello")
                await stream.close()
                while not received:
                    await trio.sleep(0.01)

    run_trio(main)
    assert received == [b"hello"]
