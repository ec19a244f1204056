"""Whatever the peer record book and the IP filters accept, a snapshot can hold: driven with any
arguments, hostile ones included (surrogates, NaN and -0.0, out-of-range integers, `bytearray`s,
junk keys, envelopes and networks), every call succeeds or is refused with a `ComponentError`
that leaves the node as it was, and `encode(node.snapshot())` always decodes back equal."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_components_accept_only_encodable import KEYS, PEERS, anything, arg, names, texts, times

from node_runtime.clock import ManualClock
from node_runtime.component_errors import ComponentError
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.peer_governor import IpList
from node_runtime.signed_record import sign_peer_record
from snapshot_schema import decode, encode
from snapshot_schema.checks import U64_MAX

ME = Identity.from_private_bytes(bytes(32))
SIGNERS = tuple(Identity.from_private_bytes(bytes([n]) * 32) for n in (1, 2))
KEY_OF = {
    signer.peer_id.to_bytes(): bytes.fromhex("08011220") + signer.public_key.public_bytes_raw()
    for signer in SIGNERS
}
ENVELOPES = tuple(
    sign_peer_record(signer, seq, [Multiaddr.from_string("/ip4/10.0.0.1/tcp/1")])
    for signer in SIGNERS
    for seq in (0, 1)
)

peers = arg(st.sampled_from(KEYS))
public_keys = arg(st.sampled_from(list(KEY_OF.values())), anything | st.binary(max_size=40))
protocol_lists = arg(
    st.lists(st.sampled_from(["/ipfs/id/1.0.0", "/ipfs/kad/1.0.0"]), max_size=2),
    anything | st.lists(texts | anything, max_size=2),
)
metadata_values = arg(
    st.none() | st.booleans() | st.integers(-(2**63), U64_MAX) | st.text(max_size=3),
    anything
    | st.sampled_from([math.nan, -0.0, math.inf, U64_MAX + 1, -(2**63) - 1, "\ud800", b"x" * 5000]),
)
envelopes = arg(st.sampled_from(ENVELOPES), anything | st.binary(min_size=1, max_size=8))
ip_lists = arg(st.sampled_from(list(IpList)), anything)
networks = arg(
    st.sampled_from(["10.0.0.0/8", "2001:db8::/32"]),
    anything | st.sampled_from(["10.0.0.1/8", "fe80::%eth0/64", "::ffff:0:0/96", "1.2.3.4/33"]),
)

Operation = tuple[str, tuple[Any, ...]]
OPERATIONS: dict[str, tuple[Callable[..., object], tuple[st.SearchStrategy[Any], ...]]] = {
    "set_public_key": (
        lambda node, p, k: node.peer_records.set_public_key(p, k),
        (peers, public_keys),
    ),
    "add_protocols": (
        lambda node, p, ps: node.peer_records.add_protocols(p, ps),
        (peers, protocol_lists),
    ),
    "remove_protocols": (
        lambda node, p, ps: node.peer_records.remove_protocols(p, ps),
        (peers, protocol_lists),
    ),
    "set_protocols": (
        lambda node, p, ps: node.peer_records.set_protocols(p, ps),
        (peers, protocol_lists),
    ),
    "put_metadata": (
        lambda node, p, k, v: node.peer_records.put_metadata(p, k, v),
        (peers, names, metadata_values),
    ),
    "delete_metadata": (lambda node, p, k: node.peer_records.delete_metadata(p, k), (peers, names)),
    "record_latency": (lambda node, p, t: node.peer_records.record_latency(p, t), (peers, times)),
    "consume_signed_record": (
        lambda node, p, e: node.peer_records.consume_signed_record(p, e),
        (peers, envelopes),
    ),
    "forget": (lambda node, p: node.peer_records.forget(p), (peers,)),
    "add_ip_network": (lambda node, w, n: node.governor.add_ip_network(w, n), (ip_lists, networks)),
    "remove_ip_network": (
        lambda node, w, n: node.governor.remove_ip_network(w, n),
        (ip_lists, networks),
    ),
    "set_ip_networks": (
        lambda node, w, ns: node.governor.set_ip_networks(w, ns),
        (ip_lists, arg(st.lists(networks, max_size=2), anything)),
    ),
    # `Node`'s own methods: PeerIds, the node's own refused.
    "node_record_latency": (
        lambda node, p, t: node.record_latency(p, t),
        (st.sampled_from([*PEERS, ME.peer_id]), times),
    ),
}

operations: st.SearchStrategy[Operation] = st.one_of(
    [st.tuples(st.just(name), st.tuples(*arguments)) for name, (_, arguments) in OPERATIONS.items()]
)


def state_of(node: Node) -> tuple[object, ...]:
    records = tuple(
        (peer, key, protocols, tuple((k, type(v), v) for k, v in metadata), latency, signed)
        for peer, key, protocols, metadata, latency, signed in node.peer_records.entries()
    )
    return (records, node.governor.ip_allow, node.governor.ip_deny, node.peer_records.revision)


@settings(max_examples=200)
@given(steps=st.lists(operations, max_size=30))
@example(steps=[("put_metadata", (KEYS[0], "k", -0.0)), ("put_metadata", (KEYS[0], "k", math.nan))])
@example(steps=[("add_protocols", (KEYS[0], ["/a", "\ud800"])), ("set_protocols", (KEYS[0], "/a"))])
@example(steps=[("add_ip_network", (IpList.DENY, "::ffff:0:0/96"))])
def test_whatever_peer_records_and_ip_filters_accept_a_snapshot_encodes_and_decodes_back_equal(
    steps: list[Operation],
) -> None:
    node = Node(
        ME,
        clock=ManualClock(monotonic_ns=10**12, wall_ns=1_764_000_000 * 10**9),
        rng=random.Random(0),
    )
    for name, arguments in steps:
        before = state_of(node)
        action, _ = OPERATIONS[name]
        try:
            action(node, *arguments)
        except ComponentError:
            assert state_of(node) == before
        snapshot = node.snapshot()
        assert decode(encode(snapshot)) == snapshot
