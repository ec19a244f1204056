"""The py-libp2p internals the adapter relies on (`host_access.py`, and the behaviours capture,
replay and the PeerId gate build on), each checked on a real host: a py-libp2p upgrade that
moves or changes one fails here, by name, rather than somewhere deep in a capture."""

from __future__ import annotations

import inspect
import ipaddress
import time
from typing import Any

import pytest
import trio
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.network.exceptions import SwarmException
from libp2p.network.swarm import Swarm
from libp2p.peer import peerdata
from libp2p.peer.peerdata import PeerData
from libp2p.peer.peerstore import PeerRecordState
from libp2p_hosts import MakeHost
from libp2p_peers import HOST_SEED, address, peer_id, peerstore, signed_record

from node_runtime.libp2p_adapter import UnsupportedHostError
from node_runtime.libp2p_adapter.host_access import (
    connection_gate,
    negative_cache,
    peer_data_map,
    peer_record_map,
    peerstore_of,
    swarm_of,
)

TCP = "/ip4/10.0.0.1/tcp/4001"
QUIC = "/ip4/10.0.0.1/udp/4001/quic-v1"


def test_peer_data_map_is_the_live_dict_of_peer_data_with_the_fields_capture_reads(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    store = peerstore_of(host)
    store.add_addrs(peer_id(1), [address(TCP)], 300)
    store.add_pubkey(peer_id(1), create_new_key_pair(bytes([1]) * 32).public_key)
    store.add_protocols(peer_id(1), ["/a"])
    store.put(peer_id(1), "k", 1)
    store.record_latency(peer_id(1), 0.5)

    data_map = peer_data_map(store)

    assert data_map is store.peer_data_map
    data = data_map[peer_id(1)]
    assert isinstance(data, PeerData)
    assert data.addrs == [address(TCP)]
    assert (type(data.ttl), data.ttl) == (int, 300)
    assert type(data.last_identified) is int
    assert abs(data.last_identified - time.time()) < 2
    assert data.pubkey is not None
    assert data.privkey is None
    assert (data.protocols, data.metadata, data.latmap) == (["/a"], {"k": 1}, 0.5)
    # The host's own entry holds its private key: the one capture must leave out.
    assert data_map[host.get_id()].privkey is not None


def test_py_libp2p_keeps_addresses_while_int_now_is_at_most_last_identified_plus_ttl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `wall_ns_until_expiry` counts on this rule (hence its `+ 1` second).
    class FrozenTime:
        now = 1_000.0

        @classmethod
        def time(cls) -> float:
            return cls.now

    monkeypatch.setattr(peerdata, "time", FrozenTime)
    data = PeerData()
    data.set_ttl(100)
    data.last_identified = 900
    FrozenTime.now = 1_000.999
    assert not data.is_expired()  # int(now) = 1000 <= 900 + 100
    FrozenTime.now = 1_001.0
    assert data.is_expired()  # from the second 900 + 100 + 1 on
    data.set_ttl(0)
    assert not data.is_expired()  # 0: for ever


def test_every_add_addrs_resets_the_peers_one_ttl_and_last_identified(
    make_host: MakeHost,
) -> None:
    store = peerstore(make_host(HOST_SEED))
    store.add_addrs(peer_id(1), [address(TCP)], 300)
    data = store.peer_data_map[peer_id(1)]
    data.last_identified -= 1_000
    store.add_addrs(peer_id(1), [address(QUIC)], 60)
    assert data.ttl == 60
    assert abs(data.last_identified - time.time()) < 2
    assert data.addrs == [address(TCP), address(QUIC)]  # in order, de-duplicated


def test_peer_record_map_holds_envelope_and_seq_and_consuming_replaces_addresses_as_a_set(
    make_host: MakeHost,
) -> None:
    store = peerstore(make_host(HOST_SEED))
    store.add_addrs(peer_id(1), [address("/ip4/10.9.9.9/tcp/1")], 300)
    envelope = signed_record(1, [address(TCP), address(QUIC)], seq=4)

    assert store.consume_peer_record(envelope, 300)

    state = peer_record_map(store)[peer_id(1)]
    assert isinstance(state, PeerRecordState)
    assert (state.envelope, state.seq) == (envelope, 4)
    # The earlier address is gone, the record's are there in no guaranteed order: hence the
    # replay writes the ordered list back after consuming.
    assert set(store.peer_data_map[peer_id(1)].addrs) == {address(TCP), address(QUIC)}
    # Clearing through the peerstore drops the record (a record needs an address); clearing
    # the peer's own data, as replay does, keeps it.
    store.peer_data_map[peer_id(1)].clear_addrs()
    assert peer_id(1) in store.peer_record_map
    store.clear_addrs(peer_id(1))
    assert peer_id(1) not in store.peer_record_map


def test_the_negative_cache_maps_base58_peer_ids_to_monotonic_release_times(
    make_host: MakeHost,
) -> None:
    host = make_host(HOST_SEED)
    swarm = swarm_of(host)
    cache = negative_cache(swarm)
    assert cache.ttl_s == 60.0
    assert cache.max_size == 10_000

    swarm._negative_peer_cache.mark_failed(str(peer_id(1)))

    assert list(cache.entries) == [str(peer_id(1))]
    assert cache.entries[str(peer_id(1))] - time.monotonic() == pytest.approx(60.0, abs=1)

    async def dial() -> None:
        with pytest.raises(SwarmException, match="negative cache"):
            await swarm.dial_peer(peer_id(1))

    trio.run(dial)


def test_the_connection_gate_keeps_lists_of_ip_networks_and_judges_by_them(
    make_host: MakeHost,
) -> None:
    gate = connection_gate(swarm_of(make_host(HOST_SEED)))
    gate.add_to_deny_list("10.66.0.0/16")
    assert gate.deny_list == [ipaddress.ip_network("10.66.0.0/16")]
    gate.deny_list = [ipaddress.ip_network("10.77.0.0/16")]  # replay assigns the lists

    async def judge() -> tuple[bool, bool]:
        return (
            await gate.is_allowed(address("/ip4/10.77.1.1/tcp/1")),
            await gate.is_allowed(address("/ip4/10.66.1.1/tcp/1")),
        )

    assert trio.run(judge) == (False, True)


def test_the_swarm_methods_the_gate_wraps_take_the_arguments_it_passes(
    make_host: MakeHost,
) -> None:
    swarm = swarm_of(make_host(HOST_SEED))
    expected = {
        "dial_peer": ["peer_id"],
        "dial_addr": ["addr", "peer_id", "source"],
        "dial_addr_as_responder": ["addr", "peer_id", "source"],
        "dial_peer_replacement": ["peer_id"],
        "new_stream": ["peer_id"],
        "add_conn": ["muxed_conn", "direction"],
    }
    for name, parameters in expected.items():
        assert list(inspect.signature(getattr(swarm, name)).parameters) == parameters, name
    upgrade = inspect.signature(swarm.upgrader.upgrade_security)
    assert list(upgrade.parameters) == ["raw_conn", "is_initiator", "peer_id"]
    assert isinstance(swarm.connections, dict)


def test_a_host_without_py_libp2p_parts_is_refused_by_name(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)

    class ForeignHost:
        def get_network(self) -> object:
            return object()

        def get_peerstore(self) -> object:
            return {}

    foreign: Any = ForeignHost()
    with pytest.raises(UnsupportedHostError, match="Swarm"):
        swarm_of(foreign)
    with pytest.raises(UnsupportedHostError, match="PeerStore"):
        peerstore_of(foreign)

    swarm = swarm_of(host)
    swarm._negative_peer_cache._ttl = float("nan")
    with pytest.raises(UnsupportedHostError, match="negative peer cache"):
        negative_cache(swarm)
    swarm._negative_peer_cache = None  # type: ignore[assignment]  # as if a release moved it
    with pytest.raises(UnsupportedHostError, match="negative peer cache"):
        negative_cache(swarm)
    store = peerstore(host)
    store.peer_data_map = None  # type: ignore[assignment]
    with pytest.raises(UnsupportedHostError, match="peer_data_map"):
        peer_data_map(store)


def test_new_host_takes_a_peerstore_with_a_raised_peer_limit(make_host: MakeHost) -> None:
    host: IHost = make_host(HOST_SEED, max_peers=20_000)
    store = peerstore(host)
    assert (store.max_peers, store.max_records) == (20_000, 20_000)
    assert isinstance(host.get_network(), Swarm)
