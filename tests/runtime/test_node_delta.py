"""`Node.mark_saved()` and `Node.take_delta()`: what a delta holds, what it costs, and when the
node refuses to make one (docs/runtime.md, "Deltas")."""

import random

import pytest

from node_runtime import (
    ComponentTypeError,
    Counters,
    Identity,
    ManualClock,
    Multiaddr,
    Node,
    PeerGovernor,
    PeerId,
    SaveMarkError,
)
from snapshot_schema import (
    FullSnapshotNeeded,
    Patch,
    Replace,
    SnapshotDelta,
    Splice,
    StateRef,
    VersionedSnapshot,
    apply,
    encode,
    encode_delta,
    root_state,
)

S = 1_000_000_000
ME = Identity.from_private_bytes(bytes(32))
PEERS = tuple(Identity.from_private_bytes(bytes([n]) * 32).peer_id for n in range(1, 4))
ADDRESS = Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001")
OTHER_ADDRESS = Multiaddr.from_string("/ip4/10.0.0.2/tcp/4001")


def new_node() -> Node:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    return Node(ME, clock=clock, rng=random.Random(0))


def saved(node: Node) -> VersionedSnapshot:
    """A full save: the snapshot, named, and the node's mark."""
    state = root_state(node.snapshot())
    node.mark_saved()
    return state


def advance(node: Node, ns: int) -> None:
    assert isinstance(node.clock, ManualClock)
    node.clock.advance(ns)


def assert_gives_the_snapshot(state: VersionedSnapshot, delta: SnapshotDelta, node: Node) -> None:
    applied = apply(state, delta).snapshot
    assert applied == node.snapshot()
    assert encode(applied) == encode(node.snapshot())


def peer_key(peer: PeerId) -> bytes:
    return peer.to_bytes()


def test_an_idle_node_gives_an_empty_delta_to_the_next_state() -> None:
    node = new_node()
    state = saved(node)

    delta = node.take_delta(state.ref)

    assert dict(delta.changes) == {}
    assert (delta.target.generation, delta.target.sequence) == (0, 1)
    assert delta.taken_at == node.snapshot().taken_at


def test_a_delta_holds_the_rows_of_the_peers_that_changed_and_nothing_else() -> None:
    node = new_node()
    for peer in PEERS:
        node.add_peer_address(peer, ADDRESS)
    state = saved(node)
    node.add_peer_address(PEERS[1], OTHER_ADDRESS)
    node.record_dial_failure(PEERS[2])

    delta = node.take_delta(state.ref)

    book = delta.changes["address_book"]
    assert isinstance(book, Patch)
    assert book.removed == ()
    assert [entry.peer_id for entry in book.upserted] == [peer_key(PEERS[1])]
    assert set(delta.changes) == {"address_book", "health", "backoff_table", "counters"}
    assert delta.changes["counters"] == Patch((), {"dials_failed": 1})
    assert_gives_the_snapshot(state, delta, node)


def test_a_peer_forgotten_since_the_mark_is_removed_by_the_delta() -> None:
    node = new_node()
    node.add_peer_address(PEERS[0], ADDRESS)
    node.record_dial_failure(PEERS[0])
    state = saved(node)
    node.forget_peer(PEERS[0])

    delta = node.take_delta(state.ref)

    for field in ("address_book", "health", "backoff_table"):
        change = delta.changes[field]
        assert isinstance(change, Patch)
        assert change.removed == (peer_key(PEERS[0]),)
        assert len(change.upserted) == 0
    assert_gives_the_snapshot(state, delta, node)


def test_an_address_expiring_between_two_deltas_is_in_the_second_though_nothing_touched_it() -> (
    None
):
    node = new_node()
    node.add_peer_address(PEERS[0], ADDRESS, ttl_ns=10 * S)
    node.add_peer_address(PEERS[0], OTHER_ADDRESS, ttl_ns=20 * S)
    node.add_peer_address(PEERS[1], ADDRESS)
    state = saved(node)
    advance(node, 5 * S)
    first = node.take_delta(state.ref)
    state = apply(state, first)
    advance(node, 10 * S)  # the first address expired; nothing called the book

    second = node.take_delta(state.ref)

    assert dict(first.changes) == {}
    book = second.changes["address_book"]
    assert isinstance(book, Patch)
    assert [row[:2] for row in book.upserted.rows] == [
        (peer_key(PEERS[0]), (OTHER_ADDRESS.to_bytes(),))
    ]
    assert_gives_the_snapshot(state, second, node)
    state = apply(state, second)
    advance(node, 10 * S)  # the second one too: the peer goes

    third = node.take_delta(state.ref)

    assert third.changes["address_book"] == Patch((peer_key(PEERS[0]),), ())
    assert_gives_the_snapshot(state, third, node)


def test_an_address_expired_before_the_mark_is_in_no_delta() -> None:
    node = new_node()
    node.add_peer_address(PEERS[0], ADDRESS, ttl_ns=1 * S)
    node.add_peer_address(PEERS[0], OTHER_ADDRESS)
    advance(node, 2 * S)  # expired, though still stored: the full snapshot left it out
    state = saved(node)
    advance(node, 5 * S)

    delta = node.take_delta(state.ref)

    assert dict(delta.changes) == {}
    assert_gives_the_snapshot(state, delta, node)


def test_the_outbound_queue_is_spliced_keeping_each_entrys_redelivered_flag() -> None:
    node = new_node()
    for envelope in (b"a", b"b", b"c"):
        node.outbound.enqueue(envelope)
    node = Node.restore(node.snapshot(), ME, clock=node.clock)  # all three come back redelivered
    state = saved(node)
    node.outbound.pop()
    node.outbound.enqueue(b"d")

    delta = node.take_delta(state.ref)

    change = delta.changes["pending_outbound"]
    assert isinstance(change, Splice)
    assert (change.drop_front, change.keep) == (1, 2)
    assert change.appended.rows == ((b"d", False),)
    assert [
        entry.redelivered for entry in apply(state, delta).snapshot.framework.pending_outbound
    ] == [
        True,
        True,
        False,
    ]
    assert_gives_the_snapshot(state, delta, node)


def test_a_queue_emptied_past_what_was_marked_keeps_only_what_was_queued_since() -> None:
    node = new_node()
    node.outbound.enqueue(b"a")
    state = saved(node)
    for envelope in (b"b", b"c", b"d"):
        node.outbound.enqueue(envelope)
    node.outbound.drain(2)  # a and b

    delta = node.take_delta(state.ref)

    change = delta.changes["pending_outbound"]
    assert isinstance(change, Splice)
    assert (change.drop_front, change.keep) == (1, 0)
    assert change.appended.rows == ((b"c", False), (b"d", False))
    assert_gives_the_snapshot(state, delta, node)


def test_a_component_replaced_since_the_mark_is_saved_whole() -> None:
    node = new_node()
    node.counters.increment("kept")
    state = saved(node)
    node.counters = Counters.from_state([("new", 1)])
    node.governor = PeerGovernor.from_state(5, [], None, [])

    delta = node.take_delta(state.ref)

    assert delta.changes["counters"] == Replace({"new": 1})
    assert delta.changes["failure_threshold"] == Replace(5)
    assert delta.changes["blocklist"] == Replace(frozenset())
    assert_gives_the_snapshot(state, delta, node)


def test_an_allowlist_set_whole_is_replaced_and_then_patched_member_by_member() -> None:
    node = new_node()
    state = saved(node)
    node.set_allowlist([PEERS[0]])
    first = node.take_delta(state.ref)
    state = apply(state, first)
    node.allow(PEERS[1])
    node.disallow(PEERS[0])

    second = node.take_delta(state.ref)

    assert first.changes["allowlist"] == Replace(frozenset({peer_key(PEERS[0])}))
    assert second.changes["allowlist"] == Patch(
        (peer_key(PEERS[0]),), frozenset({peer_key(PEERS[1])})
    )
    assert_gives_the_snapshot(state, second, node)


def test_take_delta_reads_only_the_rows_that_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    node = new_node()
    for peer in PEERS:
        node.add_peer_address(peer, ADDRESS, ttl_ns=60 * S)
        node.record_dial_failure(peer)
        node.record_latency(peer, 5_000)
    state = saved(node)
    node.record_latency(PEERS[0], 7_000)
    node.record_dial_failure(PEERS[1])
    advance(node, 61 * S)  # every address expired
    for component, method in (
        (node.address_book, "entries"),
        (node.peer_records, "entries"),
        (node.governor, "health_items"),
        (node.backoff, "items"),
        (node.outbound, "items"),
    ):
        monkeypatch.setattr(
            component, method, lambda *_, name=method: pytest.fail(f"{name} listed")
        )

    delta = node.take_delta(state.ref)

    monkeypatch.undo()
    assert_gives_the_snapshot(state, delta, node)


def test_take_delta_before_any_mark_is_refused_as_needing_a_full_snapshot() -> None:
    node = new_node()

    with pytest.raises(SaveMarkError, match="no state is marked saved") as raised:
        node.take_delta(root_state(node.snapshot()).ref)

    assert isinstance(raised.value, FullSnapshotNeeded)


def test_mark_saved_without_a_snapshot_is_refused() -> None:
    with pytest.raises(SaveMarkError, match="has taken none"):
        new_node().mark_saved()


def test_mark_saved_after_the_node_changed_since_its_snapshot_is_refused() -> None:
    node = new_node()
    node.snapshot()
    node.counters.increment("late")

    with pytest.raises(SaveMarkError, match="changed since it"):
        node.mark_saved()


def test_a_base_other_than_the_last_deltas_target_is_refused_and_changes_nothing() -> None:
    node = new_node()
    state = apply(saved(node), node.take_delta(saved(node).ref))
    node.counters.increment("kept")
    other = StateRef(0, 1, bytes(32))

    with pytest.raises(SaveMarkError, match="counts its changes from"):
        node.take_delta(other)
    delta = node.take_delta(state.ref)

    assert delta.changes["counters"] == Patch((), {"kept": 1})
    assert_gives_the_snapshot(state, delta, node)


def test_a_base_that_is_not_a_state_ref_is_a_type_error() -> None:
    node = new_node()
    saved(node)

    with pytest.raises(ComponentTypeError, match="expected `StateRef`"):
        node.take_delta(b"ref")  # type: ignore[arg-type]


def test_a_full_save_after_deltas_counts_from_it_again() -> None:
    node = new_node()
    first = saved(node)
    node.counters.increment("before")
    node.take_delta(first.ref)
    node.counters.increment("between")
    state = root_state(node.snapshot(), generation=1)
    node.mark_saved()
    node.counters.increment("after")

    delta = node.take_delta(state.ref)

    assert delta.changes["counters"] == Patch((), {"after": 1})
    assert_gives_the_snapshot(state, delta, node)


def test_a_delta_of_a_small_change_to_a_large_node_is_small() -> None:
    node = new_node()
    rng = random.Random(1)
    for _ in range(500):
        peer = Identity.from_private_bytes(rng.randbytes(32)).peer_id
        node.add_peer_address(peer, ADDRESS)
    state = saved(node)
    node.record_dial_failure(PEERS[0])

    delta = node.take_delta(state.ref)

    assert len(encode_delta(delta)) * 20 < len(encode(node.snapshot()))


def test_a_component_put_back_after_another_replaced_it_is_saved_whole() -> None:
    node = new_node()
    original = node.counters
    original.increment("kept")
    state = saved(node)
    node.counters = Counters.from_state([("other", 1)])
    state = apply(state, node.take_delta(state.ref))
    original.increment("kept")  # recorded by the original, which the last delta never saw
    node.counters = original

    delta = node.take_delta(state.ref)

    assert delta.changes["counters"] == Replace({"kept": 2})
    assert_gives_the_snapshot(state, delta, node)


def test_changes_taken_from_a_nodes_component_directly_are_missing_from_its_next_delta() -> None:
    node = new_node()
    state = saved(node)
    node.counters.increment("sent")
    node.counters.increment("received")

    assert node.counters.take_changed_names() == {"sent", "received"}
    node.counters.increment("received")
    delta = node.take_delta(state.ref)

    assert delta.changes["counters"] == Patch((), {"received": 2})
    assert apply(state, delta).snapshot != node.snapshot()
