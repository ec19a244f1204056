"""A py-libp2p host's state is open to any code: its dicts and lists take any value. Whatever a
peerstore, negative cache, gate or pubsub blacklist holds, capture never crashes, what it
captured can be saved and restored, and replaying the restored node never crashes either."""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerdata import PeerData
from libp2p.peer.peerstore import PeerRecordState, PeerStore
from libp2p.pubsub.floodsub import FloodSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p_peers import HOST, HOST_SEED, address, host_node, peer_id, seed, signed_record

from node_runtime import Node
from node_runtime.libp2p_adapter import capture_host, replay_into_host
from node_runtime.libp2p_adapter.host_access import negative_cache, swarm_of
from snapshot_schema import decode, encode

LONG_TEXT = "x" * 5000  # past a metadata value's size limit
ODD_NUMBERS = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 2.0**70, -1.0, 1e-12])
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    ODD_NUMBERS,
    st.text(max_size=8),
    st.sampled_from(["", "\ud800", LONG_TEXT]),
    st.binary(max_size=8),
    st.just([1]),
    st.just(object()),
)
KEYS = st.one_of(
    st.text(max_size=4),
    st.integers(min_value=1, max_value=6).map(lambda n: str(peer_id(n))),
    st.integers(),
    st.binary(max_size=4),
    st.none(),
)
ADDRESSES = st.sampled_from(
    [
        address("/ip4/10.0.0.1/tcp/4001"),
        address("/ip4/10.0.0.2/udp/4001/quic-v1"),
        address("/memory/1234"),  # py-multiaddr reads it, our codec does not
        "/ip4/10.0.0.3/tcp/1",  # text, not a Multiaddr
        None,
    ]
)
PEER_IDS = st.one_of(
    st.integers(min_value=1, max_value=6).map(peer_id),
    st.binary(max_size=40).map(ID),
    st.just(ID("text, not bytes")),  # type: ignore[arg-type]
)


@st.composite
def peer_data(draw: st.DrawFn) -> PeerData:
    data = PeerData()
    data.addrs = draw(st.one_of(st.lists(ADDRESSES, max_size=5), ANYTHING))
    data.ttl = draw(st.one_of(st.integers(min_value=-10, max_value=10**6), ANYTHING))
    data.last_identified = draw(
        st.one_of(st.integers(min_value=0, max_value=4_000_000_000), ANYTHING)
    )
    data.protocols = draw(st.one_of(st.lists(ANYTHING, max_size=4), ANYTHING))
    data.metadata = draw(
        st.one_of(
            st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), ANYTHING), ANYTHING
        )
    )
    data.latmap = draw(ANYTHING)
    n = draw(st.integers(min_value=1, max_value=6))
    keys: list[Any] = [None, create_new_key_pair(seed(n)).public_key, "not a key"]
    data.pubkey = draw(st.sampled_from(keys))
    return data


RECORDS = st.one_of(
    st.none(),
    st.builds(
        lambda n, signer, seq: PeerRecordState(
            signed_record(signer, [address("/ip4/10.0.0.1/tcp/4001")], seq), seq
        ),
        st.integers(1, 6),
        st.integers(1, 6),
        st.integers(0, 2**64 - 1),
    ),
    st.just("not a record state"),
)


@settings(max_examples=60)
@given(
    peers=st.lists(st.tuples(PEER_IDS, peer_data(), RECORDS), max_size=5),
    cache=st.dictionaries(KEYS, ANYTHING),
    networks=st.lists(
        st.sampled_from(
            [
                ipaddress.ip_network("10.0.0.0/8"),
                ipaddress.ip_network("::ffff:10.0.0.0/104"),
                ipaddress.ip_network("fe80::%eth0/64", strict=False),
                "10.1.0.0/16",
                None,
            ]
        ),
        max_size=4,
    ),
    blacklist=st.lists(st.one_of(PEER_IDS, ANYTHING), max_size=4),
)
def test_capture_never_crashes_and_what_it_captured_saves_restores_and_replays(
    peers: list[tuple[ID, PeerData, object]],
    cache: dict[object, object],
    networks: list[object],
    blacklist: list[object],
) -> None:
    host = new_host(key_pair=create_new_key_pair(HOST_SEED), peerstore_opt=PeerStore())
    store = host.get_peerstore()
    assert isinstance(store, PeerStore)
    for peer, data, record in peers:
        store.peer_data_map[peer] = data
        if record is not None:
            store.peer_record_map[peer] = record  # type: ignore[assignment]
    negative_cache(swarm_of(host)).entries.update(cache)  # type: ignore[arg-type]
    gate = swarm_of(host).connection_gate
    gate.allow_list = list(networks)  # type: ignore[arg-type]
    gate.deny_list = list(reversed(networks))  # type: ignore[arg-type]
    pubsub = Pubsub(host, FloodSub([]))
    pubsub.blacklisted_peers = set(filter(_hashable, blacklist))  # type: ignore[arg-type]
    node = host_node()

    report = capture_host(host, node, pubsub=pubsub)

    assert report.peers + report.peers_refused <= len(peers) + 1
    restored = Node.restore(decode(encode(node.snapshot())), HOST, clock=node.clock)
    fresh = new_host(key_pair=create_new_key_pair(HOST_SEED), peerstore_opt=PeerStore())
    replay_into_host(restored, fresh, pubsub=Pubsub(fresh, FloodSub([])))


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
