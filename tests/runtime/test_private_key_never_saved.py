"""The node's own private key is never part of a snapshot (issue 12, docs/concepts.md "What is
not captured"): not among its own state, and not smuggled in as some peer's public key."""

import pytest

from node_runtime import ComponentValueError, Identity, ManualClock, Multiaddr, Node, PeerId
from node_runtime.signed_record import sign_peer_record
from snapshot_schema import PeerRecordSnapshot, SnapshotValueError, encode

S = 1_000_000_000
SEED = bytes(range(100, 132))
IDENTITY = Identity.from_private_bytes(SEED)
OTHER = Identity.from_private_bytes(b"\x05" * 32)
ADDRESS = Multiaddr.from_string("/ip4/127.0.0.1/tcp/4001")


def test_a_snapshot_of_a_node_with_every_kind_of_peer_state_holds_no_private_key() -> None:
    node = Node(IDENTITY, clock=ManualClock(monotonic_ns=10 * S, wall_ns=1_764_000_000 * S))
    peer = OTHER.peer_id
    public_key = peer.to_bytes()[2:]  # an identity PeerId embeds its key's protobuf
    node.add_peer_address(peer, ADDRESS, ttl_ns=60 * S)
    node.set_peer_public_key(peer, public_key)
    node.add_peer_protocols(peer, ["/ipfs/id/1.0.0"])
    node.put_peer_metadata(peer, "agent", "test")
    node.consume_signed_record(peer, sign_peer_record(OTHER, 1, [ADDRESS]))
    node.set_extension("host/state", b"opaque")
    data = encode(node.snapshot())
    # Neither the raw seed nor the libp2p PrivateKey protobuf (08 01 12 40 seed public) occurs.
    assert SEED not in data
    assert bytes.fromhex("08011240") not in data


def test_the_node_keeps_no_peer_record_for_itself() -> None:
    node = Node(IDENTITY)
    own_key = IDENTITY.peer_id.to_bytes()[2:]
    with pytest.raises(ComponentValueError):
        node.set_peer_public_key(IDENTITY.peer_id, own_key)


def test_a_private_key_protobuf_is_no_public_key() -> None:
    """An Ed25519 PrivateKey protobuf has the PublicKey's shape (08 01 12 <len> <data>) but 64
    bytes of data: refused, whatever PeerId it is filed under."""
    private_protobuf = bytes.fromhex("08011240") + SEED + IDENTITY.peer_id.to_bytes()[6:]
    for peer in (IDENTITY.peer_id, PeerId.from_bytes(bytes.fromhex("a0e40220") + bytes(32))):
        with pytest.raises(SnapshotValueError, match="hold 32 bytes, not 64"):
            PeerRecordSnapshot(peer.to_bytes(), public_key=private_protobuf)
