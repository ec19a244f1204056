"""A node's own deltas, chained from a full save, give exactly its snapshots.

Hypothesis drives a node with any operations (`node_operations()`: every kind, the stand-in
engine's included, and time passing), the node sometimes restored first from any snapshot a
node could take (so its queue comes back `redelivered` and its expiries rebased). Between them
it saves: a full snapshot (`s0 = node.snapshot(); node.mark_saved()`) or a delta
(`node.take_delta(ref)`) from the state saved last. Each delta applied to that state gives
exactly `node.snapshot()` at the same instant: equal records and identical bytes, through the
delta's own bytes too. It also restarts the node (a restored node has no state to count from
until it saves a full snapshot), replaces components on it, and moves its id reservations.
"""

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node_runtime import (
    AddressBook,
    BackoffTable,
    Counters,
    ExtensionTable,
    IdAllocator,
    Identity,
    IdsNotDurableError,
    LifecycleQueue,
    ManualClock,
    Node,
    OutboundQueue,
    PeerGovernor,
    PeerRecordBook,
    SaveMarkError,
    TypedBus,
)
from node_runtime.testing import Operation, apply_operation
from node_runtime.testing.strategies import MACHINE_IDENTITY, node_operations, node_snapshots
from snapshot_schema import (
    TransientSnapshot,
    VersionedSnapshot,
    apply,
    decode_delta,
    encode,
    encode_delta,
    root_state,
)

S = 1_000_000_000
OTHER_IDENTITY = Identity.from_private_bytes(bytes([7]) * 32)


class Keeper:
    """Makes every reservation durable at once, as a checkpointer whose saves all succeed."""

    def reservation_low(self, allocator: IdAllocator) -> None:
        allocator.extend_reservation(4)

    def reservation_used_up(self, allocator: IdAllocator) -> None:
        allocator.extend_reservation(4)
        allocator.confirm_durable(allocator.saved_next_id)
        if not allocator.can_mint_durably():
            raise IdsNotDurableError("no id left to reserve")


def replacement(node: Node, name: str, threshold: int) -> object:
    """A new component holding what `name` holds (the governor with another threshold, the
    queue flagged `redelivered`, as a restore builds them)."""
    governor = node.governor
    builders: dict[str, Callable[[], object]] = {
        "address_book": lambda: AddressBook.from_state(node.address_book.entries()),
        "governor": lambda: PeerGovernor.from_state(
            threshold,
            governor.blocklist,
            governor.allowlist,
            governor.health_items(),
            ip_allow=governor.ip_allow,
            ip_deny=governor.ip_deny,
        ),
        "backoff": lambda: BackoffTable.from_state(
            node.backoff.policy, node.rng, node.backoff.items()
        ),
        "peer_records": lambda: PeerRecordBook.from_state(node.peer_records.entries()),
        "counters": lambda: Counters.from_state(node.counters.items()),
        "extension_table": lambda: ExtensionTable.from_state(node.extension_table.items()),
        "lifecycle": lambda: LifecycleQueue.from_state(node.lifecycle.pending()),
        "bus": lambda: TypedBus.from_state(node.bus.items()),
        "outbound": lambda: OutboundQueue.from_state(
            entry.envelope for entry in node.outbound.items()
        ),
        "command_ids": lambda: IdAllocator(node.command_ids.saved_next_id),
        "identity": lambda: OTHER_IDENTITY,
    }
    return builders[name]()


REPLACEABLE = (
    "address_book",
    "governor",
    "backoff",
    "peer_records",
    "counters",
    "extension_table",
    "lifecycle",
    "bus",
    "outbound",
    "command_ids",
    "identity",
)


Step = Operation | tuple[object, ...]
"""A host's operation, or the saver's and the test's own moves (`CONTROL_STEPS`)."""

CONTROL_STEPS: st.SearchStrategy[tuple[object, ...]] = st.one_of(
    st.just(("save_full",)),
    st.just(("save_delta",)),
    st.just(("save_delta",)),
    st.tuples(st.just("restart"), st.integers(0, 10 * S)),
    st.tuples(st.just("replace"), st.sampled_from(REPLACEABLE), st.integers(1, 4)),
    st.tuples(st.just("reserve"), st.booleans(), st.integers(1, 8)),
    st.tuples(st.just("release"), st.booleans()),
)


def restored(node: Node, snapshot: TransientSnapshot, downtime: int) -> Node:
    """`snapshot` restored in a new process, `downtime` later (expiries rebased)."""
    wall = min(snapshot.taken_at.wall_ns + downtime, 2**64 - 1)
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=wall)
    return Node.restore(snapshot, node.identity, clock=clock, rng=random.Random(0))


class Saver:
    """Drives a node through steps, saving it fully or by deltas, and checks every delta."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.saved: VersionedSnapshot | None = None  # the state saved last, full or by deltas
        self.generation = 0
        self.deltas = 0

    def step(self, step: Step) -> None:
        if isinstance(step, Operation):
            apply_operation(self.node, step)
            return
        name, *args = step
        getattr(self, str(name))(*args)

    def save_full(self) -> None:
        snapshot = self.node.snapshot()
        self.node.mark_saved()
        self.generation += 1
        self.saved = root_state(snapshot, self.generation)

    def save_delta(self) -> None:
        if self.saved is None:
            with pytest.raises(SaveMarkError):
                self.node.take_delta(root_state(self.node.snapshot()).ref)
            return
        delta = self.node.take_delta(self.saved.ref)
        applied = apply(self.saved, decode_delta(encode_delta(delta)))
        expected = self.node.snapshot()  # the same instant: nothing moves the clock between
        assert applied.snapshot == expected
        assert encode(applied.snapshot) == encode(expected)
        assert applied == apply(self.saved, delta)
        self.saved = applied
        self.deltas += 1

    def restart(self, downtime: int) -> None:
        """A new process: it counts no change until it saves a full snapshot."""
        self.node = restored(self.node, self.node.snapshot(), downtime)
        self.saved = None

    def replace(self, name: str, threshold: int) -> None:
        setattr(self.node, name, replacement(self.node, name, threshold))

    def reserve(self, exec_ids: bool, block: int) -> None:
        allocator = self.node.exec_ids if exec_ids else self.node.command_ids
        allocator.reserve_with(Keeper(), block)

    def release(self, exec_ids: bool) -> None:
        (self.node.exec_ids if exec_ids else self.node.command_ids).release_reservation()


def machine_node() -> Node:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    return Node(MACHINE_IDENTITY, clock=clock, rng=random.Random(0))


@settings(max_examples=300, deadline=None)
@given(
    start=st.none() | node_snapshots(MACHINE_IDENTITY),
    downtime=st.integers(0, S),
    steps=st.lists(st.one_of(node_operations(), node_operations(), CONTROL_STEPS), max_size=60),
)
def test_deltas_chained_from_a_full_save_give_exactly_each_snapshot(
    start: TransientSnapshot | None, downtime: int, steps: list[Step]
) -> None:
    node = machine_node()
    saver = Saver(node if start is None else restored(node, start, downtime))
    saver.save_full()
    for step in steps:
        saver.step(step)
    saver.save_delta()
