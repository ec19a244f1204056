"""`node_runtime.testing`, the helpers hosts test with: diffs name exactly the differing paths,
replay brings saved files back as they were, `assert_restores_identically` catches a broken
restore with a readable diff, the strategies generate states and operations a node accepts, and
the pytest plugin is loaded."""

from __future__ import annotations

import doctest
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import msgpack
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import node_runtime.testing
import node_runtime.testing.strategies
from node_runtime import (
    DirectoryStore,
    Identity,
    IpList,
    ManualClock,
    Multiaddr,
    Node,
    SignatureMissingError,
    SignerMismatchError,
    SystemClock,
    TruncatedFileError,
)
from node_runtime.component_errors import NoAllowlistError, QueueEmptyError
from node_runtime.counters import Counters
from node_runtime.testing import (
    MISSING,
    Difference,
    Operation,
    Outcome,
    assert_restores_identically,
    clock_at,
    format_diff,
    mark_redelivered,
    replay_file,
    run_operations,
    seal_peer_record,
    snapshot_diff,
)
from node_runtime.testing.pytest_plugin import pytest_assertrepr_compare
from node_runtime.testing.strategies import DEFAULT_PEERS, node_operations, node_snapshots
from snapshot_schema import (
    AddressBookEntrySnapshot,
    ExecutionStateSnapshot,
    IpNetwork,
    PeerRecordSnapshot,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    TimerMaturedIngress,
    TransientSnapshot,
    encode,
)

S = 1_000_000_000
KEY = bytes(range(32))
GOLDEN_V1 = Path(__file__).resolve().parents[1] / "golden" / "v1"


def busy_node(identity: Identity, clock: ManualClock) -> Node:
    node = Node(identity, clock=clock, rng=random.Random(1))
    run_operations(
        node,
        [
            Operation(
                "add_address", (DEFAULT_PEERS[0], Multiaddr.from_string("/ip4/10.0.0.1/tcp/1"))
            ),
            Operation("retain", (DEFAULT_PEERS[0],)),
            Operation("block", (DEFAULT_PEERS[1],)),
            *[Operation("dial_failed", (peer,)) for peer in DEFAULT_PEERS[1:]],
            Operation("enqueue", (b"envelope-1",)),
            Operation("enqueue", (b"\xff" * 40,)),
            Operation("mint_command_id"),
            Operation("count", ("a",)),
            Operation("fire", ("started",)),
            Operation("subscribe", ("peer_connected", 7)),
        ],
    )
    return node


# snapshot_diff and format_diff.


def test_a_diff_names_exactly_the_nested_field_that_differs(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    snapshot = busy_node(node_identity, manual_clock).snapshot()
    table = list(snapshot.framework.backoff_table)
    table[1] = attrs.evolve(table[1], attempts=table[1].attempts + 1)
    changed = attrs.evolve(
        snapshot, framework=attrs.evolve(snapshot.framework, backoff_table=table)
    )
    assert snapshot_diff(snapshot, changed) == [
        Difference("$.framework.backoff_table[1].attempts", 1, 2)
    ]
    assert snapshot_diff(snapshot, snapshot) == []


def test_a_diff_reports_missing_items_and_keys_and_shows_bytes_compactly(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    node = busy_node(node_identity, manual_clock)
    before = node.snapshot()
    node.outbound.pop()
    node.counters.increment("b")
    after = node.snapshot()
    differences = snapshot_diff(before, after)
    assert [d.path for d in differences] == [
        "$.framework.counters.b",
        "$.framework.pending_outbound[0].envelope_bytes",
        "$.framework.pending_outbound[1]",
    ]
    assert differences[0].a is MISSING
    assert differences[2].b is MISSING
    text = format_diff(differences, labels=("before", "after"))
    assert text.splitlines()[:4] == [
        "3 differences:",
        "  $.framework.counters.b",
        "    before: <missing>",
        "    after:  1",
    ]
    assert "<40 bytes ffffffffffffffffffffffffffffffff…>" in text
    assert format_diff([]) == "no differences"


def with_peer_state(snapshot: TransientSnapshot, **changes: Any) -> TransientSnapshot:
    return attrs.evolve(snapshot, framework=attrs.evolve(snapshot.framework, **changes))


def test_a_diff_tells_metadata_values_of_other_types_apart_by_key(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    snapshot = busy_node(node_identity, manual_clock).snapshot()
    peer = DEFAULT_PEERS[2].to_bytes()

    def with_metadata(metadata: dict[str, object]) -> TransientSnapshot:
        record = PeerRecordSnapshot(peer, metadata=metadata)
        return with_peer_state(snapshot, peer_records=[record])

    # Python holds 1 == 1.0 == True, even inside the (key, value) pairs; a snapshot does not.
    before = with_metadata({"a": "x", "dials": 1, "score": 1})
    after = with_metadata({"dials": True, "score": 1.0, "z": None})
    assert snapshot_diff(before, after) == [
        Difference("$.framework.peer_records[0].metadata.a", "x", MISSING),
        Difference("$.framework.peer_records[0].metadata.dials", 1, True),
        Difference("$.framework.peer_records[0].metadata.score", 1, 1.0),
        Difference("$.framework.peer_records[0].metadata.z", MISSING, None),
    ]
    assert snapshot_diff(after, after) == []


def test_a_diff_names_the_new_fields_by_path_and_shows_networks_as_text(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    snapshot = busy_node(node_identity, manual_clock).snapshot()
    peer = DEFAULT_PEERS[0].to_bytes()
    entry = snapshot.framework.address_book[0]
    changed = with_peer_state(
        snapshot,
        address_book=[attrs.evolve(entry, expires_ns=(10**15,))],
        peer_governor=attrs.evolve(snapshot.framework.peer_governor, ip_deny=["10.0.0.0/8"]),
        peer_records=[PeerRecordSnapshot(peer, protocols=["/a"])],
        extensions={"x": b"1"},
    )
    differences = snapshot_diff(snapshot, changed)
    assert differences == [
        Difference("$.framework.address_book[0].expires_ns[0]", None, 10**15),
        Difference("$.framework.peer_governor.ip_deny[0]", MISSING, IpNetwork.of("10.0.0.0/8")),
        Difference(
            "$.framework.peer_records[0]", MISSING, PeerRecordSnapshot(peer, protocols=["/a"])
        ),
        Difference("$.framework.extensions.x", MISSING, b"1"),
    ]
    assert str(differences[1]) == "$.framework.peer_governor.ip_deny[0]: <missing> != 10.0.0.0/8"
    governor = changed.framework.peer_governor
    narrowed = with_peer_state(
        changed, peer_governor=attrs.evolve(governor, ip_deny=["10.0.0.0/16"])
    )
    assert [str(d) for d in snapshot_diff(changed, narrowed)] == [
        "$.framework.peer_governor.ip_deny[0]: 10.0.0.0/8 != 10.0.0.0/16"
    ]


# replay_file.


def test_replay_of_a_stored_sealed_file_restores_the_saved_state(
    node_identity: Identity, manual_clock: ManualClock, snapshot_store: DirectoryStore
) -> None:
    snapshot = busy_node(node_identity, manual_clock).snapshot()
    ref = snapshot_store.save(snapshot)
    replayed = replay_file(ref.path, node_identity)
    assert replayed.snapshot() == mark_redelivered(snapshot)
    assert not replayed.may_dial(DEFAULT_PEERS[1])  # blocked


def test_replay_of_a_signed_encrypted_file_checks_the_signer(
    tmp_path: Path, node_identity: Identity, manual_clock: ManualClock
) -> None:
    snapshot = busy_node(node_identity, manual_clock).snapshot()
    with DirectoryStore(tmp_path, signer=node_identity, encryption_key=KEY, compress=True) as store:
        path = store.save(snapshot).path
    replayed = replay_file(
        path, node_identity, encryption_key=KEY, expected_signer=node_identity.peer_id
    )
    assert replayed.snapshot() == mark_redelivered(snapshot)
    with pytest.raises(SignerMismatchError):
        replay_file(path, node_identity, encryption_key=KEY, expected_signer=DEFAULT_PEERS[0])


def test_replay_of_a_raw_encoded_file(
    tmp_path: Path, node_identity: Identity, manual_clock: ManualClock
) -> None:
    snapshot = busy_node(node_identity, manual_clock).snapshot()
    path = tmp_path / "raw.msgpack"
    path.write_bytes(encode(snapshot))
    later = ManualClock(manual_clock.monotonic_ns(), manual_clock.wall_ns())
    assert replay_file(path, node_identity, clock=later).snapshot() == mark_redelivered(snapshot)
    with pytest.raises(SignatureMissingError):
        replay_file(path, node_identity, expected_signer=node_identity.peer_id)


def test_replay_of_a_version_1_file_restores_its_migrated_state(
    tmp_path: Path, node_identity: Identity
) -> None:
    """The v1 golden `typical`, as the node's own: every address permanent, nothing new."""
    golden = (GOLDEN_V1 / "typical.msgpack").read_bytes()
    version, body = msgpack.unpackb(golden, use_list=False, strict_map_key=False)
    framework = (*body[5][:6], node_identity.peer_id.to_bytes(), *body[5][7:])  # peer_id_bytes
    path = tmp_path / "old.snapshot"
    path.write_bytes(msgpack.packb((version, (*body[:5], framework, *body[6:])), use_bin_type=True))
    snapshot = replay_file(path, node_identity).snapshot()
    assert snapshot.spec_version == 2
    assert snapshot.framework.counters["envelopes_sent"] == 1_204
    assert (snapshot.framework.next_command_id, snapshot.framework.next_exec_id) == (42, 17)
    assert [entry.expires_ns for entry in snapshot.framework.address_book] == [
        (None, None),
        (None,),
    ]
    assert snapshot.framework.peer_records == ()
    assert snapshot.framework.extensions == {}


def test_replay_reads_an_empty_or_torn_sealed_file_as_truncated(
    tmp_path: Path, node_identity: Identity
) -> None:
    for data in (b"", b"\x89NSN"):
        path = tmp_path / "torn.nsnap"
        path.write_bytes(data)
        with pytest.raises(TruncatedFileError):
            replay_file(path, node_identity)


# assert_restores_identically.


def test_a_faithful_restore_passes_and_returns_the_restored_node(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    node = busy_node(node_identity, manual_clock)
    restored = assert_restores_identically(node)
    assert restored.clock.monotonic_ns() == manual_clock.monotonic_ns()
    assert [entry.redelivered for entry in restored.outbound.items()] == [True, True]
    assert run_operations(restored, [Operation("mint_command_id")]) == [Outcome(1)]


def test_a_broken_restore_fails_with_the_diff_by_path(
    monkeypatch: pytest.MonkeyPatch, node_identity: Identity, manual_clock: ManualClock
) -> None:
    forgetful = Counters.from_state.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        Counters, "from_state", classmethod(lambda cls, items: forgetful(cls, list(items)[1:]))
    )
    with pytest.raises(AssertionError) as failure:
        assert_restores_identically(busy_node(node_identity, manual_clock))
    assert str(failure.value) == (
        "the restored node differs from the original\n"
        "1 difference:\n"
        "  $.framework.counters.a\n"
        "    original: 1\n"
        "    restored: <missing>"
    )


def test_the_restoring_clock_must_read_the_snapshot_instant(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    node = busy_node(node_identity, manual_clock)
    with pytest.raises(ValueError, match="not the snapshot's instant"):
        assert_restores_identically(node, clock=ManualClock(0, manual_clock.wall_ns()))


# Operations.


def test_operations_report_refusals_as_outcomes_and_propagate_other_errors(
    node_identity: Identity,
) -> None:
    node = Node(node_identity, clock=SystemClock())
    assert run_operations(node, [Operation("pop"), Operation("count", ("a",))]) == [
        Outcome(refused=QueueEmptyError),
        Outcome(1),
    ]
    assert repr(Operation("count", ("a",))) == "count('a')"
    with pytest.raises(TypeError, match="ManualClock"):
        run_operations(node, [Operation("advance", (S,))])
    with pytest.raises(ValueError, match="unknown operation"):
        Operation("reboot")


def test_the_operations_cover_what_a_host_and_an_engine_do(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    peer = DEFAULT_PEERS[0]
    address = Multiaddr.from_string("/ip4/10.0.0.1/tcp/1")
    node = Node(node_identity, clock=manual_clock, rng=random.Random(1))
    outcomes = run_operations(
        node,
        [
            Operation("add_address", (peer, address)),
            Operation("remove_address", (peer, address)),
            Operation("allow", (peer,)),
            Operation("set_allowlist", ([],)),
            Operation("allow", (peer,)),
            Operation("disallow", (peer,)),
            Operation("dial_failed", (peer,)),
            Operation("forget_health", (peer,)),
            Operation("forget_backoff", (peer,)),
            Operation("retain", (peer,)),
            Operation("forget_addresses", (peer,)),
            Operation("subscribe", ("x", 1)),
            Operation("unsubscribe", ("x", 1)),
            Operation("enqueue", (b"a",)),
            Operation("enqueue", (b"b",)),
            Operation("drain", (1,)),
            Operation("drain", (None,)),
        ],
    )
    assert [outcome.value for outcome in outcomes[:2]] == [True, True]
    assert outcomes[2] == Outcome(refused=NoAllowlistError)  # nothing to edit: open policy
    assert node.governor.allowlist == frozenset()
    assert node.governor.health(peer.to_bytes()) is None
    assert node.backoff.entry(peer.to_bytes()) is None
    assert peer.to_bytes() not in node.address_book
    assert node.bus.subscribers("x") == ()
    assert [outcome.value for outcome in outcomes[-2:]] == [(b"a",), (b"b",)]


def test_the_operations_cover_the_peer_state_of_spec_version_2(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    peer, other = DEFAULT_PEERS[:2]
    signer = Identity.from_private_bytes(bytes([10]) * 32)  # DEFAULT_PEERS[0]'s identity
    tcp, quic = (Multiaddr.from_string(text) for text in ("/ip4/10.0.0.1/tcp/1", "/ip6/::1/tcp/2"))
    node = Node(node_identity, clock=manual_clock)
    outcomes = run_operations(
        node,
        [
            Operation("add_address_with_ttl", (peer, tcp, 60 * S)),
            Operation("set_address_ttl", (peer, quic, 10 * S)),
            Operation("add_address_with_ttl", (other, tcp, 5 * S)),
            Operation("clear_addresses", (other,)),
            Operation("advance", (30 * S,)),
            Operation("peer_addresses", (peer,)),  # quic has expired: not returned
            Operation("expire_addresses"),  # and now dropped
            Operation("add_ip_network", (IpList.DENY, "10.66.0.0/16")),
            Operation("set_ip_networks", (IpList.ALLOW, ["10.0.0.0/8", "fd00::/8"])),
            Operation("remove_ip_network", (IpList.ALLOW, "fd00::/8")),
            Operation("set_public_key", (peer, peer.to_bytes()[2:])),
            Operation("set_protocols", (peer, ["/a", "/b"])),
            Operation("add_protocols", (peer, ["/c"])),
            Operation("remove_protocols", (peer, ["/a"])),
            Operation("put_metadata", (peer, "relay", True)),
            Operation("put_metadata", (peer, "gone", 1)),
            Operation("delete_metadata", (peer, "gone")),
            Operation("record_latency", (peer, 2_000_000)),
            Operation(
                "consume_signed_record", (peer, seal_peer_record(signer, 1, [tcp.to_bytes()]))
            ),
            Operation("put_metadata", (other, "x", 1)),
            Operation("forget_peer_record", (other,)),
            Operation("set_extension", ("app.tags", b"t")),
            Operation("set_extension", ("libp2p/pubsub", b"p")),
            Operation("remove_extension", ("app.tags",)),
        ],
    )
    assert outcomes[5] == Outcome((tcp,))
    assert outcomes[6] == Outcome(1)
    assert outcomes[18] == Outcome(True)  # the signed record verified and was kept
    framework = node.snapshot().framework
    now = manual_clock.monotonic_ns()
    assert list(framework.address_book) == [
        AddressBookEntrySnapshot(peer.to_bytes(), (tcp.to_bytes(),), 0, (now + 30 * S,))
    ]
    governor = framework.peer_governor
    assert (governor.ip_allow, governor.ip_deny) == (
        (IpNetwork.of("10.0.0.0/8"),),
        (IpNetwork.of("10.66.0.0/16"),),
    )
    record = PeerRecordSnapshot(
        peer.to_bytes(),
        public_key=peer.to_bytes()[2:],
        protocols=["/b", "/c"],
        metadata={"relay": True},
        latency_ns=2_000_000,
        signed_record=seal_peer_record(signer, 1, [tcp.to_bytes()]),
    )
    assert list(framework.peer_records) == [record]
    assert framework.extensions == {"libp2p/pubsub": b"p"}
    assert_restores_identically(node)


def test_the_engine_moves_fill_every_execution_field(
    node_identity: Identity, manual_clock: ManualClock
) -> None:
    node = Node(node_identity, clock=manual_clock)
    now = manual_clock.monotonic_ns()
    outcomes = run_operations(
        node,
        [
            Operation("await_command", (1, 5 * S)),
            Operation("await_command", (2, None)),
            Operation("complete_command", (2, b"ok")),
            Operation("complete_command", (3, b"no one waits")),
            Operation("mature_timer"),
            Operation("write_slot", (4, 0, b"v")),
            Operation("write_slot", (5, 0, None)),
            Operation("set_wire_state", (1, b"w")),
        ],
    )
    assert [outcome.value for outcome in outcomes[2:4]] == [True, False]
    snapshot = node.snapshot()
    assert snapshot.pending_async == {
        1: PendingAsyncSnapshot(op_ref=1, exec_id=0, deadline_ns=now + 5 * S)
    }
    assert snapshot.pending_completions == (PendingCompletionSnapshot(2, (("result", b"ok"),)),)
    assert snapshot.ingress == (TimerMaturedIngress(now),)
    assert snapshot.frontier == ((5, 0),)
    assert snapshot.slot_table == {(4, 0): b"v", (5, 0): None}
    assert snapshot.execution_state == {0: ExecutionStateSnapshot(outputs_written=2)}
    assert snapshot.wire_states == {1: b"w"}
    assert run_operations(node, [Operation("take_ingress")] * 2) == [Outcome(1), Outcome(0)]
    assert node.execution.ingress == ()


# The strategies, on our own node.

IDENTITY = Identity.from_private_bytes(bytes([7]) * 32)


@settings(max_examples=50)
@given(st.lists(node_operations(), max_size=30))
def test_any_operation_sequence_restores_identically(operations: list[Operation]) -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock, rng=random.Random(0))
    run_operations(node, operations)
    assert_restores_identically(node)


@settings(max_examples=100)
@given(node_snapshots(IDENTITY))
def test_any_snapshot_a_node_could_take_restores_exactly(snapshot: TransientSnapshot) -> None:
    restored = Node.restore(snapshot, IDENTITY, clock=clock_at(snapshot))
    assert restored.snapshot() == mark_redelivered(snapshot)
    assert_restores_identically(restored)


PEER_STATE: dict[str, Callable[[TransientSnapshot], bool]] = {
    "an expiring address": lambda snapshot: any(
        expiry is not None
        for entry in snapshot.framework.address_book
        for expiry in entry.expires_ns
    ),
    "a signed peer record": lambda snapshot: any(
        record.signed_record is not None for record in snapshot.framework.peer_records
    ),
    "typed metadata": lambda snapshot: any(
        record.metadata for record in snapshot.framework.peer_records
    ),
    "an IP filter": lambda snapshot: bool(snapshot.framework.peer_governor.ip_deny),
    "an extension": lambda snapshot: bool(snapshot.framework.extensions),
}


def test_node_snapshots_reach_the_peer_state_of_spec_version_2() -> None:
    seen: set[str] = set()

    # Generated, not shrunk: what is seen across the examples is the point.
    @settings(max_examples=50, database=None, phases=[Phase.generate])
    @given(node_snapshots(IDENTITY))
    def look(snapshot: TransientSnapshot) -> None:
        seen.update(name for name, holds in PEER_STATE.items() if holds(snapshot))

    look()
    assert seen == set(PEER_STATE)


# The package itself.


def test_the_plugin_is_loaded_and_explains_unequal_snapshots(
    request: pytest.FixtureRequest, node_identity: Identity, manual_clock: ManualClock
) -> None:
    assert request.config.pluginmanager.hasplugin("nodesnap")
    node = busy_node(node_identity, manual_clock)
    before = node.snapshot()
    node.command_ids.mint()
    assert pytest_assertrepr_compare("==", before, node.snapshot()) == [
        "snapshots differ",
        "1 difference:",
        "  $.framework.next_command_id",
        "    left:  1",
        "    right: 2",
    ]
    assert pytest_assertrepr_compare("==", before, 1) is None


def test_the_helpers_import_without_hypothesis() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None; "
        "import node_runtime.testing, node_runtime.testing.pytest_plugin"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("module", [node_runtime.testing, node_runtime.testing.strategies])
def test_docstring_examples_run(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]
