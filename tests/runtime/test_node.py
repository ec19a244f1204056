"""The node: snapshot and restore bring it back exactly, refuse what is unsound, and rebase time."""

import random
from collections.abc import Callable

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node_runtime.backoff import BackoffPolicy
from node_runtime.clock import ManualClock
from node_runtime.component_errors import ComponentValueError, RestoreValueError
from node_runtime.errors import PeerIdMismatchError
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.peer_governor import Decision
from node_runtime.peer_id import PeerId
from node_runtime.testing import Operation, run_operations
from node_runtime.testing.strategies import node_operations, node_snapshots
from snapshot_schema import (
    PeerHealthSnapshot,
    SnapshotValueError,
    TransientSnapshot,
    build_framework,
    decode,
    encode,
)

S = 1_000_000_000
SEEDS = [bytes([n]) * 32 for n in range(1, 6)]
IDENTITY = Identity.from_private_bytes(SEEDS[0])
PEERS = [Identity.from_private_bytes(seed).peer_id for seed in SEEDS[1:]]


def busy_node(clock: ManualClock) -> Node:
    node = Node(IDENTITY, clock=clock, rng=random.Random(1))
    node.add_peer_address(PEERS[0], Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001"))
    node.add_peer_address(PEERS[0], Multiaddr.from_string("/ip6/::1/udp/9000/quic-v1"))
    node.address_book.retain(PEERS[0].to_bytes())
    node.governor.block(PEERS[1].to_bytes())
    node.record_dial_failure(PEERS[2])
    node.outbound.enqueue(b"envelope-1")
    node.outbound.enqueue(b"envelope-2")
    node.command_ids.mint()
    node.exec_ids.mint()
    node.exec_ids.mint()
    node.lifecycle.fire("started")
    node.bus.subscribe("peer_connected", 7)
    return node


def test_restore_with_the_same_clock_reproduces_the_snapshot() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    snapshot = busy_node(clock).snapshot()
    restored = Node.restore(decode(encode(snapshot)), IDENTITY, clock=clock)
    expected = snapshot.framework.pending_outbound
    again = restored.snapshot()
    assert [e.envelope_bytes for e in again.framework.pending_outbound] == [
        e.envelope_bytes for e in expected
    ]
    assert all(e.redelivered for e in again.framework.pending_outbound)
    assert again.framework.backoff_table == snapshot.framework.backoff_table
    assert again.framework.address_book == snapshot.framework.address_book
    assert again.framework.peer_governor == snapshot.framework.peer_governor
    assert again.bus == snapshot.bus


def test_restored_node_never_reuses_ids_and_still_blocks() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    original = busy_node(clock)
    restored = Node.restore(
        original.snapshot(), IDENTITY, clock=ManualClock(5 * S, clock.wall_ns())
    )
    assert restored.command_ids.mint() == 1
    assert restored.exec_ids.mint() == 2
    assert not restored.may_dial(PEERS[1])
    assert restored.may_dial(PEERS[0])


def test_backoff_survives_a_restart_into_a_clock_of_another_origin() -> None:
    before = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = busy_node(before)
    retry_at = node.backoff.next_ready_ns(PEERS[2].to_bytes())
    assert retry_at is not None
    left = retry_at - before.monotonic_ns()
    after = ManualClock(monotonic_ns=7 * S, wall_ns=before.wall_ns() + 2 * S)  # down for 2 s
    restored = Node.restore(node.snapshot(), IDENTITY, clock=after)
    assert restored.backoff.next_ready_ns(PEERS[2].to_bytes()) == 7 * S + left - 2 * S
    assert not restored.may_dial(PEERS[2])
    after.advance(left - 2 * S)
    assert restored.may_dial(PEERS[2])


def test_a_wall_clock_set_backwards_does_not_extend_backoff() -> None:
    before = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = busy_node(before)
    retry_at = node.backoff.next_ready_ns(PEERS[2].to_bytes())
    assert retry_at is not None
    after = ManualClock(monotonic_ns=0, wall_ns=before.wall_ns() - 86_400 * S)
    restored = Node.restore(node.snapshot(), IDENTITY, clock=after)
    assert restored.backoff.next_ready_ns(PEERS[2].to_bytes()) == retry_at - before.monotonic_ns()


def test_restore_refuses_a_snapshot_of_another_node() -> None:
    snapshot = busy_node(ManualClock()).snapshot()
    other = Identity.from_private_bytes(SEEDS[4])
    with pytest.raises(PeerIdMismatchError, match=str(IDENTITY.peer_id)):
        Node.restore(snapshot, other)


def test_snapshot_peer_tables_are_sorted_so_equal_state_gives_equal_bytes() -> None:
    clock = ManualClock(monotonic_ns=S, wall_ns=S)
    first = Node(IDENTITY, clock=clock, rng=random.Random(1))
    second = Node(IDENTITY, clock=clock, rng=random.Random(1))
    for peer in PEERS:
        first.governor.block(peer.to_bytes())
    for peer in reversed(PEERS):
        second.governor.block(peer.to_bytes())
    assert encode(first.snapshot()) == encode(second.snapshot())


def test_a_bad_peer_key_is_refused_where_it_enters_a_component() -> None:
    node = Node(IDENTITY, clock=ManualClock())
    refusals: list[Callable[[], object]] = [
        lambda: node.governor.block(b"not a multihash"),
        lambda: node.governor.set_allowlist([PEERS[0].to_bytes(), b"\x12\x20short"]),
        lambda: node.governor.record_failure(b"", 0),
        lambda: node.backoff.record_failure(b"\xff", 0),
        lambda: node.address_book.retain(b"xyz"),
    ]
    for refuse in refusals:
        with pytest.raises(ComponentValueError):
            refuse()
    assert node.snapshot() == Node(IDENTITY, clock=ManualClock()).snapshot()


def test_peer_id_of_the_node_is_kept() -> None:
    snapshot = busy_node(ManualClock()).snapshot()
    assert PeerId.from_bytes(snapshot.framework.peer_id_bytes) == IDENTITY.peer_id


def test_restore_can_apply_a_new_failure_threshold() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = busy_node(clock)  # PEERS[2] failed once: below the default threshold of 3
    assert node.may_dial(PEERS[2]) is False  # backing off, but not down
    restored = Node.restore(node.snapshot(), IDENTITY, clock=clock, failure_threshold=1)
    assert restored.governor.failure_threshold == 1
    health = restored.governor.health(PEERS[2].to_bytes())
    assert health is not None
    assert health.down


def test_every_kind_of_change_moves_the_revision() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    changes = [
        lambda: node.add_peer_address(PEERS[0], Multiaddr.from_string("/ip4/1.2.3.4/tcp/1")),
        lambda: node.address_book.retain(PEERS[0].to_bytes()),
        lambda: node.governor.block(PEERS[1].to_bytes()),
        lambda: node.record_dial_failure(PEERS[2]),
        lambda: node.outbound.enqueue(b"e"),
        node.outbound.pop,
        lambda: node.counters.increment("c"),
        lambda: node.lifecycle.fire("p"),
        lambda: node.bus.subscribe("k", 1),
        node.command_ids.mint,
        node.exec_ids.mint,
    ]
    for change in changes:
        before = node.revision
        change()
        assert node.revision > before
    before = node.revision
    node.execution = Node.restore(node.snapshot(), IDENTITY, clock=clock).execution
    assert node.revision > before
    before = node.revision
    node.snapshot()
    node.may_dial(PEERS[0])
    assert node.revision == before  # reading changes nothing


def test_a_refused_restore_names_the_value_from_the_snapshot_root() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    snapshot = busy_node(clock).snapshot()  # two queued envelopes
    with pytest.raises(RestoreValueError) as caught:
        Node.restore(snapshot, IDENTITY, clock=clock, max_outbound=1)
    assert caught.value.path == ("framework", "pending_outbound", 1)
    assert "$.framework.pending_outbound[1]" in str(caught.value)


@settings(max_examples=150)
@given(
    operations=st.lists(node_operations(), max_size=60),
    snapshot=node_snapshots(IDENTITY),
)
def test_the_unchecked_snapshot_path_agrees_with_full_validation(
    operations: list[Operation], snapshot: TransientSnapshot
) -> None:
    # `snapshot()` trusts the components; the validating builder must accept the very same rows
    # and build the same record, for nodes built by operations and by restoring any snapshot.
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    for node in (Node(IDENTITY, clock=clock), Node.restore(snapshot, IDENTITY, clock=clock)):
        run_operations(node, operations)
        layout = node._framework_layout()  # the rows snapshot() builds from
        taken = node.snapshot()
        assert taken.framework == build_framework(layout)
        # Encoding the kept rows writes what encoding the records field by field writes.
        rebuilt = attrs.evolve(taken, framework=attrs.evolve(taken.framework))
        assert encode(taken) == encode(rebuilt)


def test_a_record_of_another_spec_version_cannot_be_built_so_restore_need_not_check() -> None:
    # `Node.restore` has no spec-version check of its own: this is what makes one unreachable.
    framework = busy_node(ManualClock()).snapshot().framework
    with pytest.raises(SnapshotValueError, match="spec version"):
        attrs.evolve(framework, spec_version=framework.spec_version + 1)


@pytest.mark.parametrize(
    ("addresses", "reason", "path"),
    [
        ((b"\x04\x0a\x00\x00\x01", b"\x04\x0a\x00"), "ends inside|truncated", (1,)),
        (tuple(bytes([4, 10, 0, 0, n]) for n in range(33)), "more than 32", ()),
    ],
    ids=["truncated address", "too many addresses"],
)
def test_an_address_list_the_book_refuses_is_located_in_the_snapshot(
    addresses: tuple[bytes, ...], reason: str, path: tuple[int, ...]
) -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    snapshot = busy_node(clock).snapshot()
    framework = snapshot.framework
    (entry,) = framework.address_book
    book = [attrs.evolve(entry, addresses=addresses, expires_ns=(None,) * len(addresses))]
    bad = attrs.evolve(snapshot, framework=attrs.evolve(framework, address_book=book))
    with pytest.raises(RestoreValueError, match=reason) as caught:
        Node.restore(bad, IDENTITY, clock=clock)
    assert caught.value.path == ("framework", "address_book", 0, "addresses", *path)


# Down peers are probed on their backoff schedule.

NO_JITTER = BackoffPolicy(jitter=0.0)  # nominal delays: 10 s, 50 s, 250 s, 1,250 s, then 1 h


def test_a_down_peer_may_be_probed_each_time_its_backoff_passes() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock, backoff_policy=NO_JITTER)  # the default threshold, 3
    peer, key = PEERS[0], PEERS[0].to_bytes()
    for delay in (10, 50):
        node.record_dial_failure(peer)
        clock.advance(delay * S)
    assert node.record_dial_failure(peer) == clock.monotonic_ns() + 250 * S
    assert node.governor.decision(key) is Decision.DOWN

    clock.advance(250 * S - 1)
    assert not node.may_dial(peer)
    clock.advance(1)
    assert node.may_dial(peer)  # the probe
    assert node.record_dial_failure(peer) == clock.monotonic_ns() + 1_250 * S  # it failed
    assert node.governor.decision(key) is Decision.DOWN
    assert not node.may_dial(peer)

    clock.advance(1_250 * S)
    assert node.may_dial(peer)  # the next probe
    node.record_dial_success(peer)
    assert node.governor.health(key) is None
    assert node.backoff.entry(key) is None
    assert node.may_dial(peer)


def test_a_down_peer_is_probed_after_a_restore_at_its_rebased_deadline() -> None:
    before = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=before, failure_threshold=1, backoff_policy=NO_JITTER)
    node.record_dial_failure(PEERS[0])  # down; 10 s until its probe
    before.advance(4 * S)
    after = ManualClock(monotonic_ns=7 * S, wall_ns=before.wall_ns() + 2 * S)  # down for 2 s

    restored = Node.restore(decode(encode(node.snapshot())), IDENTITY, clock=after)

    assert restored.governor.decision(PEERS[0].to_bytes()) is Decision.DOWN
    assert not restored.may_dial(PEERS[0])
    after.advance(4 * S - 1)
    assert not restored.may_dial(PEERS[0])
    after.advance(1)
    assert restored.may_dial(PEERS[0])


def test_a_down_peer_without_a_backoff_entry_may_be_probed_at_once() -> None:
    node = Node(IDENTITY, clock=ManualClock(), failure_threshold=1)
    node.governor.record_failure(PEERS[0].to_bytes(), now_ns=0)  # health only, no backoff

    assert node.governor.decision(PEERS[0].to_bytes()) is Decision.DOWN
    assert node.may_dial(PEERS[0])


@pytest.mark.parametrize("policy", ["block", "disallow"])
def test_a_down_peer_that_policy_refuses_is_never_probed(policy: str) -> None:
    clock = ManualClock()
    node = Node(IDENTITY, clock=clock, failure_threshold=1)
    node.record_dial_failure(PEERS[0])
    if policy == "block":
        node.governor.block(PEERS[0].to_bytes())
    else:
        node.governor.set_allowlist([])
    clock.advance(10_000 * S)

    assert not node.may_dial(PEERS[0])


def test_successful_dials_to_fresh_peers_keep_no_health_rows() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    counted_only = Node(IDENTITY, clock=clock)
    counted_only.counters.increment("dials_succeeded", 3_000)
    # Identity multihashes of Ed25519-shaped keys: 3,000 peers never seen before.
    fresh = [
        PeerId.from_bytes(bytes.fromhex("002408011220") + n.to_bytes(32)) for n in range(3_000)
    ]

    for peer in fresh:
        node.record_dial_success(peer)

    assert len(node.snapshot().framework.peer_governor.health) == 0
    assert len(encode(node.snapshot())) == len(encode(counted_only.snapshot()))


def test_restore_drops_health_rows_without_failures() -> None:
    # Older builds wrote one such row per success: restoring their snapshots sheds them.
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    node.record_dial_failure(PEERS[0])
    snapshot = node.snapshot()
    governor = snapshot.framework.peer_governor
    healthy = [PeerHealthSnapshot(peer.to_bytes(), 0, 1_000 * S, False) for peer in PEERS[1:]]
    rows = sorted([*governor.health, *healthy], key=lambda row: row.peer_id)
    old = attrs.evolve(
        snapshot,
        framework=attrs.evolve(
            snapshot.framework, peer_governor=attrs.evolve(governor, health=rows)
        ),
    )

    restored = Node.restore(old, IDENTITY, clock=clock)

    assert [peer for peer, _ in restored.governor.health_items()] == [PEERS[0].to_bytes()]
    assert restored.snapshot().framework.peer_governor == governor


# The node's own PeerId.


def test_a_node_never_dials_itself() -> None:
    node = Node(IDENTITY, clock=ManualClock())
    address = Multiaddr.from_string("/ip4/127.0.0.1/tcp/1")
    before = node.snapshot()

    refusals: list[Callable[[], object]] = [
        lambda: node.add_peer_address(IDENTITY.peer_id, address),
        lambda: node.record_dial_failure(IDENTITY.peer_id),
        lambda: node.record_dial_success(IDENTITY.peer_id),
    ]
    for refuse in refusals:
        with pytest.raises(ComponentValueError, match="never dials itself") as raised:
            refuse()
        assert raised.value.path == ("peer",)
    assert node.snapshot() == before
    # Not even with an address the address book took in directly.
    node.address_book.add_address(IDENTITY.peer_id.to_bytes(), address)
    assert not node.may_dial(IDENTITY.peer_id)


def test_restore_drops_the_nodes_own_peer_id_and_counts_each_entry() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = busy_node(clock)
    own = IDENTITY.peer_id.to_bytes()
    # Only the components, which do not know the node's PeerId, can take it in.
    node.address_book.add_address(own, Multiaddr.from_string("/ip4/127.0.0.1/tcp/1"))
    node.governor.block(own)
    node.governor.set_allowlist([own, PEERS[0].to_bytes()])
    node.governor.record_failure(own, clock.monotonic_ns())
    node.backoff.record_failure(own, clock.monotonic_ns())
    snapshot = node.snapshot()

    restored = Node.restore(decode(encode(snapshot)), IDENTITY, clock=clock)

    assert own not in restored.address_book
    assert not restored.governor.is_blocked(own)
    assert restored.governor.health(own) is None
    assert restored.backoff.entry(own) is None
    assert restored.governor.allowlist == frozenset({own, PEERS[0].to_bytes()})  # kept
    assert restored.counters.get("restore:own_peer_entries_dropped") == 4
    assert list(restored.address_book.entries()) == list(busy_node(clock).address_book.entries())
    assert restored.governor.blocklist == frozenset({PEERS[1].to_bytes()})


def test_a_consistent_snapshot_restores_without_a_repair_counter() -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    restored = Node.restore(busy_node(clock).snapshot(), IDENTITY, clock=clock)

    assert [name for name, _ in restored.counters.items() if name.startswith("restore:")] == []


def test_a_peer_both_blocked_and_allowed_stays_blocked_until_unblocked() -> None:
    # Not a contradiction: the block outranks the allowlist, and a node holds both whenever an
    # operator blocks a member of its allowlist. Restore keeps both, so unblocking lets it back.
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    key = PEERS[0].to_bytes()
    node.governor.set_allowlist([key])
    node.governor.block(key)

    restored = Node.restore(decode(encode(node.snapshot())), IDENTITY, clock=clock)

    assert restored.governor.decision(key) is Decision.BLOCKED
    assert not restored.may_dial(PEERS[0])
    restored.governor.unblock(key)
    assert restored.governor.decision(key) is Decision.OK
