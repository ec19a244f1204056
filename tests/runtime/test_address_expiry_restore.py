"""Address expiry through the node: TTL operations on the node's clock, snapshots that carry each
expiry (and leave expired addresses out), and restores that rebase expiries by the clock rule
without the restart stagger, dropping and counting the addresses that expired while the node was
down."""

import random
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node_runtime.checkpointer import Checkpointer
from node_runtime.clock import ManualClock
from node_runtime.component_errors import ComponentTypeError, ComponentValueError
from node_runtime.directory_store import DirectoryStore
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.peer_id import PeerId
from node_runtime.rebase import Rebase
from node_runtime.testing import assert_restores_identically
from snapshot_schema import (
    AddressBookEntrySnapshot,
    ClockReading,
    TransientSnapshot,
    decode,
    encode,
)
from snapshot_schema.checks import U64_MAX

S = 1_000_000_000
MINUTE = 60 * S
WALL = 1_764_000_000 * S
IDENTITY = Identity.from_private_bytes(bytes([1]) * 32)
ALICE, BOB, CAROL = (Identity.from_private_bytes(bytes([n]) * 32).peer_id for n in (2, 3, 4))
TCP = Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001")
QUIC = Multiaddr.from_string("/ip4/10.0.0.1/udp/4001/quic-v1")
WSS = Multiaddr.from_string("/dns4/example.com/tcp/443/wss")
EXPIRED = "restore:expired_addresses_dropped"


def new_node(monotonic_ns: int = 1_000 * S, wall_ns: int = WALL) -> Node:
    return Node(IDENTITY, clock=ManualClock(monotonic_ns, wall_ns), rng=random.Random(1))


def clock_of(node: Node) -> ManualClock:
    assert isinstance(node.clock, ManualClock)
    return node.clock


def book_rows(snapshot: TransientSnapshot) -> list[AddressBookEntrySnapshot]:
    return list(snapshot.framework.address_book)


def restore(snapshot: TransientSnapshot, monotonic_ns: int, wall_ns: int) -> Node:
    """`snapshot` through bytes into a new process whose clocks read these values."""
    return Node.restore(
        decode(encode(snapshot)),
        IDENTITY,
        clock=ManualClock(monotonic_ns, wall_ns),
        rng=random.Random(2),
    )


# --- Rebase.expiry: the deadline rule without the stagger --------------------------------------

TAKEN = ClockReading(monotonic_ns=5_000 * S, wall_ns=WALL)


def rebase(now_monotonic: int, now_wall: int) -> Rebase:
    return Rebase(TAKEN, ClockReading(now_monotonic, now_wall), random.Random(7))


def test_an_expiry_keeps_its_remaining_time_minus_the_downtime() -> None:
    down_8s = rebase(now_monotonic=100 * S, now_wall=WALL + 8 * S)

    assert down_8s.expiry(TAKEN.monotonic_ns + 20 * S) == 100 * S + 12 * S


def test_an_expiry_that_passed_while_the_node_was_down_is_none_not_staggered() -> None:
    down_8s = rebase(now_monotonic=100 * S, now_wall=WALL + 8 * S)

    assert down_8s.expiry(TAKEN.monotonic_ns + 5 * S) is None
    assert down_8s.expiry(TAKEN.monotonic_ns + 8 * S) is None  # due exactly now: expired
    assert down_8s.expiry(TAKEN.monotonic_ns + 8 * S + 1) == 100 * S + 1


def test_an_expiry_already_passed_at_the_snapshot_is_none() -> None:
    same = rebase(now_monotonic=TAKEN.monotonic_ns, now_wall=TAKEN.wall_ns)

    assert same.expiry(TAKEN.monotonic_ns) is None
    assert same.expiry(0) is None


def test_a_wall_clock_set_back_never_extends_an_expiry() -> None:
    set_back = rebase(now_monotonic=100 * S, now_wall=WALL - 3_600 * S)

    assert set_back.expiry(TAKEN.monotonic_ns + 20 * S) == 100 * S + 20 * S


def test_an_expiry_on_a_clock_far_ahead_saturates_at_the_largest_u64() -> None:
    ahead = rebase(now_monotonic=U64_MAX - 10 * S, now_wall=WALL)

    assert ahead.expiry(U64_MAX) == U64_MAX


@given(
    remaining=st.integers(-(10**12), 10**12),
    wall_step=st.integers(-(10**12), 10**12),
    origin=st.integers(0, 10**15),
)
def test_an_expiry_survives_exactly_when_it_had_more_time_left_than_the_downtime(
    remaining: int, wall_step: int, origin: int
) -> None:
    expiry = TAKEN.monotonic_ns + remaining
    moved = rebase(now_monotonic=origin, now_wall=WALL + wall_step)
    downtime = max(0, wall_step)

    rebased = moved.expiry(expiry)

    if remaining > downtime:
        assert rebased == origin + remaining - downtime  # never more than it had left
    else:
        assert rebased is None


@given(expiry=st.integers(TAKEN.monotonic_ns + 1, U64_MAX))
def test_same_clocks_map_every_unexpired_expiry_to_itself(expiry: int) -> None:
    assert rebase(TAKEN.monotonic_ns, TAKEN.wall_ns).expiry(expiry) == expiry


# --- the node's TTL operations run on its clock -------------------------------------------------


def test_an_address_added_with_a_ttl_disappears_from_the_node_when_it_expires() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 10 * S)
    node.add_peer_address(ALICE, QUIC)  # positional, no TTL: permanent

    clock_of(node).advance(10 * S - 1)
    assert node.peer_addresses(ALICE) == (TCP, QUIC)
    clock_of(node).advance(1)
    assert node.peer_addresses(ALICE) == (QUIC,)


def test_set_peer_address_ttl_sets_exactly_and_zero_forgets() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 60 * S)
    node.add_peer_address(ALICE, QUIC)

    node.set_peer_address_ttl(ALICE, TCP, 5 * S)
    node.set_peer_address_ttl(ALICE, QUIC, 0)
    node.set_peer_address_ttl(BOB, WSS, None)

    assert node.peer_addresses(ALICE) == (TCP,)
    assert node.peer_addresses(BOB) == (WSS,)
    clock_of(node).advance(5 * S)
    assert node.peer_addresses(ALICE) == ()


def test_clear_peer_addresses_forgets_them_all() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP)
    node.add_peer_address(ALICE, QUIC, 5 * S)

    node.clear_peer_addresses(ALICE)

    assert node.peer_addresses(ALICE) == ()
    assert ALICE.to_bytes() not in node.address_book


def test_remove_peer_address_finds_no_expired_address() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 5 * S)
    clock_of(node).advance(5 * S)

    assert node.remove_peer_address(ALICE, TCP) is False


def test_expire_addresses_drops_what_expired_by_the_clock_and_counts_it() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 10 * S)
    node.add_peer_address(BOB, TCP, 20 * S)
    node.add_peer_address(BOB, QUIC)
    clock_of(node).advance(10 * S)

    assert node.expire_addresses() == 1

    assert node.address_book.peers() == (BOB.to_bytes(),)


def test_an_expire_with_nothing_due_leaves_the_revision_so_autosave_writes_nothing() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 10 * S)
    before = node.revision

    assert node.expire_addresses() == 0
    assert node.revision == before
    clock_of(node).advance(10 * S)
    assert node.expire_addresses() == 1
    assert node.revision > before


@pytest.mark.parametrize(
    "call",
    [
        lambda node, me: node.add_peer_address(me, TCP, 5 * S),
        lambda node, me: node.set_peer_address_ttl(me, TCP, 5 * S),
    ],
)
def test_an_address_for_the_node_itself_is_refused(call: Callable[[Node, PeerId], object]) -> None:
    node = new_node()
    before = node.snapshot()

    with pytest.raises(ComponentValueError) as raised:
        call(node, IDENTITY.peer_id)

    assert raised.value.path == ("peer",)
    assert node.snapshot() == before


@pytest.mark.parametrize(
    "call",
    [
        lambda node: node.add_peer_address(ALICE.to_bytes(), TCP, 5 * S),
        lambda node: node.set_peer_address_ttl(str(ALICE), TCP, 5 * S),
        lambda node: node.clear_peer_addresses(ALICE.to_bytes()),
        lambda node: node.peer_addresses(str(ALICE)),
        lambda node: node.add_peer_address(ALICE, TCP, 5.0),
        lambda node: node.set_peer_address_ttl(ALICE, TCP, True),
    ],
)
def test_arguments_of_the_wrong_type_are_type_errors(call: Callable[[Node], object]) -> None:
    node = new_node()
    before = node.snapshot()

    with pytest.raises(ComponentTypeError):
        call(node)

    assert node.snapshot() == before


# --- snapshots carry expiries and leave expired addresses out -----------------------------------


def test_a_snapshot_carries_each_address_expiry_on_the_snapshot_clock() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 10 * S)
    node.add_peer_address(ALICE, QUIC)

    [row] = book_rows(node.snapshot())

    assert row.addresses == (TCP.to_bytes(), QUIC.to_bytes())
    assert row.expires_ns == (1_010 * S, None)


def test_a_snapshot_leaves_out_addresses_expired_but_not_yet_dropped() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 10 * S)
    node.add_peer_address(ALICE, QUIC, 60 * S)
    node.add_peer_address(BOB, TCP, 10 * S)  # BOB is left with nothing: left out entirely
    node.add_peer_address(CAROL, TCP, 10 * S)
    node.address_book.retain(CAROL.to_bytes())  # CAROL is still referenced
    clock_of(node).advance(10 * S)
    revision = node.revision

    rows = book_rows(node.snapshot())

    assert [(row.peer_id, row.addresses, row.ref_count, row.expires_ns) for row in rows] == sorted(
        [
            (ALICE.to_bytes(), (QUIC.to_bytes(),), 0, (1_060 * S,)),
            (CAROL.to_bytes(), (), 1, ()),
        ]
    )
    assert node.revision == revision  # a snapshot only reads
    assert node.address_book.addresses(BOB.to_bytes()) == (TCP,)  # still stored


# --- restore: the done-when -------------------------------------------------------------


def test_a_restore_after_a_downtime_longer_than_some_ttls_drops_them_and_rebases_the_rest() -> None:
    node = new_node(monotonic_ns=1_000 * S)
    node.add_peer_address(ALICE, TCP, 1 * MINUTE)
    node.add_peer_address(ALICE, QUIC, 30 * MINUTE)
    node.add_peer_address(ALICE, WSS)  # permanent
    node.add_peer_address(BOB, TCP, 2 * MINUTE)  # BOB has nothing else: forgotten
    node.add_peer_address(CAROL, QUIC, 2 * MINUTE)
    node.address_book.retain(CAROL.to_bytes())  # CAROL is referenced: kept, without addresses
    snapshot = node.snapshot()
    del node  # killed

    # Down 5 minutes; the new process's monotonic clock starts at 7 s.
    restored = restore(snapshot, monotonic_ns=7 * S, wall_ns=WALL + 5 * MINUTE)

    assert restored.peer_addresses(ALICE) == (QUIC, WSS)
    assert restored.peer_addresses(BOB) == ()
    assert [
        (row.peer_id, row.addresses, row.ref_count, row.expires_ns)
        for row in book_rows(restored.snapshot())
    ] == sorted(
        [
            (ALICE.to_bytes(), (QUIC.to_bytes(), WSS.to_bytes()), 0, (7 * S + 25 * MINUTE, None)),
            (CAROL.to_bytes(), (), 1, ()),
        ]
    )
    assert restored.counters.get(EXPIRED) == 3
    clock_of(restored).advance(25 * MINUTE - 1)
    assert restored.peer_addresses(ALICE) == (QUIC, WSS)
    clock_of(restored).advance(1)
    assert restored.peer_addresses(ALICE) == (WSS,)  # expires when it had 25 minutes left


def test_a_restore_with_the_wall_clock_set_back_keeps_the_full_remaining_time() -> None:
    node = new_node(monotonic_ns=1_000 * S)
    node.add_peer_address(ALICE, TCP, 1 * MINUTE)

    restored = restore(node.snapshot(), monotonic_ns=7 * S, wall_ns=WALL - 3_600 * S)

    [row] = book_rows(restored.snapshot())
    assert row.expires_ns == (7 * S + 1 * MINUTE,)  # never extended past what it had
    assert restored.counters.get(EXPIRED) == 0


def test_a_restore_that_drops_nothing_adds_no_counter() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 10 * MINUTE)
    node.add_peer_address(BOB, TCP)

    restored = restore(node.snapshot(), monotonic_ns=0, wall_ns=WALL + 5 * MINUTE)

    assert EXPIRED not in dict(restored.counters.items())
    assert restored.peer_addresses(ALICE) == (TCP,)


def test_a_snapshot_holding_an_address_expired_before_it_was_taken_restores_without_it() -> None:
    # Another writer may keep expired addresses: restore drops them, counted, even with no
    # downtime at all.
    node = new_node()
    node.add_peer_address(ALICE, TCP)
    node.add_peer_address(ALICE, QUIC)
    snapshot = node.snapshot()
    [row] = book_rows(snapshot)
    stale = attrs.evolve(row, expires_ns=(snapshot.taken_at.monotonic_ns, None))
    snapshot = attrs.evolve(
        snapshot, framework=attrs.evolve(snapshot.framework, address_book=[stale])
    )

    restored = restore(snapshot, snapshot.taken_at.monotonic_ns, snapshot.taken_at.wall_ns)

    assert restored.peer_addresses(ALICE) == (QUIC,)
    assert restored.counters.get(EXPIRED) == 1


def test_with_no_downtime_and_the_same_clocks_a_restore_reproduces_expiries_exactly() -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 10 * S)
    node.add_peer_address(ALICE, QUIC)
    node.add_peer_address(BOB, WSS, U64_MAX)  # saturated at the largest u64
    node.add_peer_address(CAROL, TCP, 5 * S)
    clock_of(node).advance(5 * S)  # CAROL's address has expired, not yet dropped

    restored = assert_restores_identically(node)

    assert restored.peer_addresses(ALICE) == (TCP, QUIC)
    assert restored.peer_addresses(CAROL) == ()
    assert EXPIRED not in dict(restored.counters.items())


# --- through a real store: saved by the checkpointer, restored from store.latest() -------------


def test_addresses_saved_by_autosave_come_back_rebased_from_the_latest_snapshot(
    tmp_path: Path,
) -> None:
    node = new_node(monotonic_ns=1_000 * S)
    node.add_peer_address(ALICE, TCP, 1 * MINUTE)
    node.add_peer_address(ALICE, QUIC, 30 * MINUTE)
    node.add_peer_address(BOB, WSS)
    with DirectoryStore(tmp_path, fsync=False) as store:
        checkpointer = Checkpointer(node, store, timer=lambda: 0.0)
        assert checkpointer.poll()  # the first poll saves at once
        checkpointer.close(timeout=30)  # nothing changed since: no final save
        assert len(store.list()) == 1
    # The process is gone; a new one opens the store 10 minutes later.
    with DirectoryStore(tmp_path, fsync=False) as store:
        latest = store.latest()
    assert latest is not None

    restored = Node.restore(
        latest.snapshot,
        IDENTITY,
        clock=ManualClock(monotonic_ns=3 * S, wall_ns=WALL + 10 * MINUTE),
        rng=random.Random(2),
    )

    assert restored.peer_addresses(ALICE) == (QUIC,)
    assert restored.peer_addresses(BOB) == (WSS,)
    [alice_row, _] = sorted(book_rows(restored.snapshot()), key=lambda row: row.peer_id)
    assert dict(zip(alice_row.addresses, alice_row.expires_ns, strict=True)) == {
        QUIC.to_bytes(): 3 * S + 20 * MINUTE
    }
    assert restored.counters.get(EXPIRED) == 1


def test_autosave_neither_expires_addresses_nor_saves_because_one_expired(tmp_path: Path) -> None:
    node = new_node()
    node.add_peer_address(ALICE, TCP, 10 * S)
    now = [0.0]
    with DirectoryStore(tmp_path, fsync=False) as store:
        checkpointer = Checkpointer(node, store, interval=30.0, timer=lambda: now[0])
        assert checkpointer.poll()
        checkpointer.flush(timeout=30)
        clock_of(node).advance(10 * S)  # ALICE's address expires
        now[0] += 60.0  # two intervals later

        assert not checkpointer.poll()  # nothing changed: nothing to save

        assert node.address_book.addresses(ALICE.to_bytes()) == (TCP,)  # stored until expired
        checkpointer.close(timeout=30)
