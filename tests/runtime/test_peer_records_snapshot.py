"""Peer records through `Node`: its methods refuse the node's own PeerId, `forget_peer` forgets
the record, snapshots carry the records sorted by peer, and a restore verifies every signed record:
one that fails is left out, counted and logged, the rest of its peer's record kept."""

from __future__ import annotations

import logging
import math

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node_runtime import (
    ComponentTypeError,
    ComponentValueError,
    Identity,
    ManualClock,
    Node,
    RestoreValueError,
)
from node_runtime.multiaddr import Multiaddr
from node_runtime.signed_record import sign_peer_record
from node_runtime.testing import (
    Operation,
    assert_restores_identically,
    clock_at,
    run_operations,
)
from node_runtime.testing.strategies import node_operations
from snapshot_schema import PeerRecordSnapshot, TransientSnapshot, decode, encode

S = 1_000_000_000
ME = Identity.from_private_bytes(b"\x01" * 32)
ALICE_ID = Identity.from_private_bytes(b"\x0a" * 32)
BOB_ID = Identity.from_private_bytes(b"\x0b" * 32)
ALICE, BOB = ALICE_ID.peer_id, BOB_ID.peer_id
ALICE_KEY = bytes([0x08, 0x01, 0x12, 0x20]) + ALICE_ID.public_key.public_bytes_raw()
ADDRESS = Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001")


def make_node() -> Node:
    return Node(ME, clock=ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S))


def known_node() -> Node:
    """A node knowing every kind of thing about alice, and bob's agent."""
    node = make_node()
    node.set_peer_public_key(ALICE, ALICE_KEY)
    node.set_peer_protocols(ALICE, ["/ipfs/kad/1.0.0", "/ipfs/id/1.0.0"])
    node.put_peer_metadata(ALICE, "score", -1.5)
    node.put_peer_metadata(ALICE, "seen", 3)
    node.put_peer_metadata(ALICE, "relay", True)
    node.put_peer_metadata(ALICE, "cert", b"\x00\xff")
    node.put_peer_metadata(ALICE, "note", None)
    node.record_latency(ALICE, 40_000_000)
    node.record_latency(ALICE, 50_000_000)
    node.consume_signed_record(ALICE, sign_peer_record(ALICE_ID, 7, [ADDRESS]))
    node.put_peer_metadata(BOB, "AgentVersion", "go-libp2p/0.36")
    return node


def test_a_host_notes_what_it_learns_of_a_peer() -> None:
    node = known_node()

    records = node.peer_records
    assert records.public_key(ALICE) == ALICE_KEY
    assert records.protocols(ALICE) == ("/ipfs/id/1.0.0", "/ipfs/kad/1.0.0")
    assert records.supports(ALICE, "/ipfs/kad/1.0.0")
    assert records.latency_ns(ALICE) == 41_000_000
    assert records.signed_record_seq(ALICE) == 7
    assert records.get_metadata(BOB, "AgentVersion") == "go-libp2p/0.36"
    assert node.address_book.addresses(ALICE.to_bytes()) == ()  # records are not addresses
    assert node.remove_peer_protocols(ALICE, ["/ipfs/id/1.0.0"])
    assert node.add_peer_protocols(ALICE, ["/meshsub/1.1.0"])
    assert node.delete_peer_metadata(BOB, "AgentVersion")
    assert records.protocols(ALICE) == ("/ipfs/kad/1.0.0", "/meshsub/1.1.0")
    assert BOB.to_bytes() not in records


def test_peer_record_changes_move_the_node_revision() -> None:
    node = make_node()
    revision = node.revision

    node.record_latency(ALICE, 1)

    assert node.revision > revision


@pytest.mark.parametrize(
    "call",
    [
        lambda node: node.set_peer_public_key(ME.peer_id, b"\x08\x01\x12\x20" + bytes(32)),
        lambda node: node.add_peer_protocols(ME.peer_id, ["/a"]),
        lambda node: node.set_peer_protocols(ME.peer_id, ["/a"]),
        lambda node: node.remove_peer_protocols(ME.peer_id, ["/a"]),
        lambda node: node.put_peer_metadata(ME.peer_id, "k", 1),
        lambda node: node.delete_peer_metadata(ME.peer_id, "k"),
        lambda node: node.record_latency(ME.peer_id, 1),
        lambda node: node.consume_signed_record(ME.peer_id, sign_peer_record(ME, 1, [])),
    ],
)
def test_the_node_keeps_no_peer_record_for_itself(call: object) -> None:
    node = make_node()

    with pytest.raises(ComponentValueError) as raised:
        call(node)  # type: ignore[operator]

    assert raised.value.path == ("peer",)
    assert len(node.peer_records) == 0


def test_node_methods_take_peer_ids_not_their_bytes() -> None:
    with pytest.raises(ComponentTypeError):
        make_node().record_latency(ALICE.to_bytes(), 1)  # type: ignore[arg-type]


def test_forgetting_a_peer_forgets_its_record() -> None:
    node = known_node()

    node.forget_peer(ALICE)

    assert ALICE.to_bytes() not in node.peer_records
    assert BOB.to_bytes() in node.peer_records


def test_a_snapshot_holds_the_records_sorted_by_peer() -> None:
    node = known_node()

    records = node.snapshot().framework.peer_records

    assert [record.peer_id for record in records] == sorted([ALICE.to_bytes(), BOB.to_bytes()])
    alice = next(record for record in records if record.peer_id == ALICE.to_bytes())
    assert alice == PeerRecordSnapshot(
        ALICE.to_bytes(),
        public_key=ALICE_KEY,
        protocols=("/ipfs/id/1.0.0", "/ipfs/kad/1.0.0"),
        metadata={"cert": b"\x00\xff", "note": None, "relay": True, "score": -1.5, "seen": 3},
        latency_ns=41_000_000,
        signed_record=sign_peer_record(ALICE_ID, 7, [ADDRESS]),
    )


def test_a_restored_node_knows_what_the_original_knew_types_and_all() -> None:
    node = known_node()

    restored = assert_restores_identically(node)

    metadata = restored.peer_records.metadata(ALICE)
    assert [(key, type(value), value) for key, value in sorted(metadata.items())] == [
        ("cert", bytes, b"\x00\xff"),
        ("note", type(None), None),
        ("relay", bool, True),
        ("score", float, -1.5),
        ("seen", int, 3),
    ]
    assert restored.peer_records.signed_record_seq(ALICE) == 7
    assert not restored.consume_signed_record(ALICE, sign_peer_record(ALICE_ID, 7, []))
    assert "restore:signed_records_refused" not in dict(restored.counters.items())


def with_records(snapshot: TransientSnapshot, *records: PeerRecordSnapshot) -> TransientSnapshot:
    framework = attrs.evolve(snapshot.framework, peer_records=records)
    return attrs.evolve(snapshot, framework=framework)


def tampered(envelope: bytes) -> bytes:
    changed = bytearray(envelope)
    changed[-1] ^= 1  # the signature's last byte
    return bytes(changed)


def test_a_tampered_signed_record_is_not_restored_but_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = sign_peer_record(BOB_ID, 2, [ADDRESS])
    records = sorted(
        [
            PeerRecordSnapshot(
                ALICE.to_bytes(),
                latency_ns=9,
                signed_record=tampered(sign_peer_record(ALICE_ID, 1, [ADDRESS])),
            ),
            PeerRecordSnapshot(BOB.to_bytes(), signed_record=good),
        ],
        key=lambda record: record.peer_id,
    )
    snapshot = decode(encode(with_records(make_node().snapshot(), *records)))

    with caplog.at_level(logging.WARNING, logger="node_runtime.node"):
        restored = Node.restore(snapshot, ME, clock=clock_at(snapshot))

    assert restored.peer_records.signed_record(ALICE) is None
    assert restored.peer_records.latency_ns(ALICE) == 9  # the rest of alice's record is kept
    assert restored.peer_records.signed_record(BOB) == good
    assert dict(restored.counters.items())["restore:signed_records_refused"] == 1
    [warning] = caplog.records
    assert str(ALICE) in warning.getMessage()
    assert "bad signature" in warning.getMessage()


def test_a_signed_record_of_another_peer_is_not_restored() -> None:
    snapshot = with_records(
        make_node().snapshot(),
        PeerRecordSnapshot(BOB.to_bytes(), signed_record=sign_peer_record(ALICE_ID, 1, [])),
    )

    restored = Node.restore(snapshot, ME, clock=clock_at(snapshot))

    assert len(restored.peer_records) == 0  # bob's row held nothing else
    assert dict(restored.counters.items())["restore:signed_records_refused"] == 1


def test_a_record_of_the_node_itself_is_dropped_and_counted() -> None:
    snapshot = with_records(
        make_node().snapshot(),
        PeerRecordSnapshot(ME.peer_id.to_bytes(), signed_record=sign_peer_record(ME, 1, [])),
    )

    restored = Node.restore(snapshot, ME, clock=clock_at(snapshot))

    assert len(restored.peer_records) == 0
    assert dict(restored.counters.items())["restore:own_peer_entries_dropped"] == 1


def test_a_record_past_the_books_limits_refuses_the_snapshot_with_its_path() -> None:
    protocols = [f"/p/{n:04}" for n in range(1025)]
    snapshot = with_records(
        make_node().snapshot(), PeerRecordSnapshot(ALICE.to_bytes(), protocols=protocols)
    )

    with pytest.raises(RestoreValueError) as raised:
        Node.restore(snapshot, ME, clock=clock_at(snapshot))

    assert raised.value.path == ("framework", "peer_records", 0, "protocols")


def test_a_metadata_value_a_snapshot_cannot_hold_is_refused_where_it_enters() -> None:
    node = make_node()

    with pytest.raises(ComponentValueError):
        node.put_peer_metadata(ALICE, "k", math.nan)

    assert encode(node.snapshot())  # nothing unencodable got in


PEER_STATE_OPERATIONS = (
    "add_ip_network",
    "remove_ip_network",
    "set_ip_networks",
    "set_public_key",
    "add_protocols",
    "remove_protocols",
    "set_protocols",
    "put_metadata",
    "delete_metadata",
    "record_latency",
    "consume_signed_record",
    "forget_peer_record",
)


@settings(max_examples=50, deadline=None)
@given(st.lists(node_operations(*PEER_STATE_OPERATIONS), max_size=30))
def test_any_peer_record_and_ip_filter_history_restores_identically(
    operations: list[Operation],
) -> None:
    node = make_node()
    run_operations(node, operations)

    restored = assert_restores_identically(node)

    # And the copy answers every later operation as the original does.
    assert run_operations(restored, operations) == run_operations(node, operations)
