"""Fidelity, proven: a node restored at random points, after random downtime, behaves exactly like
one that never stopped.

A hypothesis state machine (`NodeMachine`, the one hosts get) drives a node with random
operations, the stand-in engine's included. At random points the running node is snapshotted,
encoded, decoded and restored into a "new process": a monotonic clock with another origin (older
or younger than the old one) and a wall clock moved by a random step: back (NTP, an operator), a
little (a quick restart), or a lot (a long downtime, or a jump forward). The original never stops:
it lives through the downtime the rule measures, idle. From then on both get the same operations
and must agree:

* at the restart, every saved time follows the clock rule of docs/runtime.md, staggered deadlines
  included (the machine then waits out the stagger window);
* at the restart, every address expiry follows the same rule without the stagger: the addresses
  that expired while the node was down are gone, and counted in
  `restore:expired_addresses_dropped`;
* after it, every operation answers the same (minted IDs aside, and how many addresses
  `expire_addresses` drops: the restore already dropped some) and so does `may_dial` for every
  peer; the restored node's snapshot is the original's with every time moved by the difference
  of their monotonic clocks (past times no lower than the floor a restore clamped them to,
  deadlines that are due in one due in the other) and queued envelopes flagged `redelivered`;
* a restored node mints first exactly the next ID its snapshot saved, and then only IDs greater
  than every ID minted before the restart (so restoring an allocator from anything less fails).
"""

import random
from collections.abc import Callable

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from node_runtime.clock import ManualClock
from node_runtime.node import Node
from node_runtime.rebase import DEFAULT_RESTART_STAGGER_NS
from node_runtime.testing import Operation, Outcome, apply_operation, mark_redelivered
from node_runtime.testing.strategies import DEFAULT_PEERS, MACHINE_IDENTITY, NodeMachine
from snapshot_schema import ClockReading, TimerMaturedIngress, TransientSnapshot, decode, encode
from snapshot_schema.checks import U64_MAX

S = 1_000_000_000
DAY = 86_400 * S
_MINTS = {"mint_command_id": "next_command_id", "mint_exec_id": "next_exec_id"}
EXPIRED_DROPPED = "restore:expired_addresses_dropped"

# One saved time: where it is, whether it is a deadline (else a past time), its value.
Time = tuple[str, bool, int]


def times(snapshot: TransientSnapshot) -> list[Time]:
    """Every time a restore rebases, in a fixed order."""
    framework = snapshot.framework
    found: list[Time] = []
    for index, health in enumerate(framework.peer_governor.health):
        found.append((f"health[{index}].last_event_ns", False, health.last_event_ns))
    for index, entry in enumerate(framework.backoff_table):
        found.append((f"backoff_table[{index}].last_attempt_ns", False, entry.last_attempt_ns))
        found.append((f"backoff_table[{index}].next_retry_ns", True, entry.next_retry_ns))
    for command_id, pending in sorted(snapshot.pending_async.items()):
        if pending.deadline_ns is not None:
            found.append((f"pending_async[{command_id}].deadline_ns", True, pending.deadline_ns))
    for index, event in enumerate(snapshot.ingress):
        if isinstance(event, TimerMaturedIngress):
            found.append((f"ingress[{index}].at_ns", False, event.at_ns))
    return found


def expiries(snapshot: TransientSnapshot) -> dict[tuple[bytes, bytes], int | None]:
    """Each address's expiry, by peer and address."""
    return {
        (entry.peer_id, address): expiry
        for entry in snapshot.framework.address_book
        for address, expiry in zip(entry.addresses, entry.expires_ns, strict=True)
    }


def timeless(snapshot: TransientSnapshot) -> TransientSnapshot:
    """`snapshot` with every time (and the next IDs, and the count of expired addresses a restore
    dropped, checked on their own) set to 0 or left out."""
    framework = snapshot.framework
    governor = framework.peer_governor
    return attrs.evolve(
        snapshot,
        taken_at=ClockReading(0, 0),
        framework=attrs.evolve(
            framework,
            counters={k: v for k, v in framework.counters.items() if k != EXPIRED_DROPPED},
            address_book=[
                attrs.evolve(e, expires_ns=[None if x is None else 0 for x in e.expires_ns])
                for e in framework.address_book
            ],
            peer_governor=attrs.evolve(
                governor, health=[attrs.evolve(h, last_event_ns=0) for h in governor.health]
            ),
            backoff_table=[
                attrs.evolve(e, last_attempt_ns=0, next_retry_ns=0) for e in framework.backoff_table
            ],
            next_command_id=0,
            next_exec_id=0,
        ),
        pending_async={
            command_id: attrs.evolve(p, deadline_ns=None if p.deadline_ns is None else 0)
            for command_id, p in snapshot.pending_async.items()
        },
        ingress=[
            TimerMaturedIngress(0) if isinstance(event, TimerMaturedIngress) else event
            for event in snapshot.ingress
        ],
    )


def mismatches(
    expected: list[Time], actual: list[Time], agree: Callable[[bool, int, int], bool]
) -> list[str]:
    """Where `actual` times do not `agree(is_deadline, expected value, actual value)`."""
    assert [path for path, _, _ in actual] == [path for path, _, _ in expected]
    return [
        f"{path}: {value} for {want}"
        for (path, deadline, want), (_, _, value) in zip(expected, actual, strict=True)
        if not agree(deadline, want, value)
    ]


def assert_follows_the_clock_rule(
    saved: TransientSnapshot, rebased: TransientSnapshot, downtime: int, stagger: int
) -> None:
    """Each time in `rebased` is the saved one mapped by the rule of docs/runtime.md, restated."""
    now = rebased.taken_at.monotonic_ns  # the new clock has not moved since the restore
    shift = saved.taken_at.monotonic_ns + downtime - now

    def agree(deadline: bool, saved_ns: int, rebased_ns: int) -> bool:
        remaining = saved_ns - saved.taken_at.monotonic_ns
        if not deadline or remaining <= 0:  # a past time keeps its age, plus the downtime
            return rebased_ns == min(U64_MAX, max(0, saved_ns - shift))
        if remaining > downtime:  # still in the future: what was left, minus the downtime
            return rebased_ns == min(U64_MAX, now + remaining - downtime)
        # Expired while down: staggered, never further off than it was.
        return now <= rebased_ns < now + max(1, min(stagger, remaining))

    assert mismatches(times(saved), times(rebased), agree) == []
    # Expiries: the deadline rule without the stagger; what had no time left is dropped.
    kept = {
        key: expiry if expiry is None else expiry - saved.taken_at.monotonic_ns - downtime
        for key, expiry in expiries(saved).items()
    }
    kept = {key: left for key, left in kept.items() if left is None or left > 0}
    assert expiries(rebased) == {
        key: left if left is None else min(U64_MAX, now + left) for key, left in kept.items()
    }
    dropped = len(expiries(saved)) - len(kept)
    saved_count = dict(saved.framework.counters).get(EXPIRED_DROPPED, 0)
    assert dict(rebased.framework.counters).get(EXPIRED_DROPPED, 0) == saved_count + dropped


class NodeFidelity(NodeMachine):
    def __init__(self) -> None:
        super().__init__()
        self.live = self.node  # the node running now: the original, or its latest restored copy
        self.floor_ns: int | None = None  # no past time a restore clamped reads below it
        self.redelivered = 0
        self.minted: dict[str, int] = {}  # the greatest ID minted so far, by any node
        self.minted_before_restart: dict[str, int] = {}
        self.minted_by_live: dict[str, int] = {}

    def apply(self, operation: Operation) -> Outcome:
        """Apply to the original and the running copy (each advances its own clock)."""
        outcome = super().apply(operation)
        if self.live is not self.node:
            answer = apply_operation(self.live, operation)
            if operation.name in _MINTS:
                self.check_minted(operation.name, answer)
            elif operation.name == "dial_failed":  # a retry deadline: on each node's own clock
                assert answer == attrs.evolve(outcome, value=self.on_live_clock(outcome.value))
            elif operation.name == "expire_addresses":  # the restore dropped some already
                assert isinstance(answer.value, int)
                assert isinstance(outcome.value, int)
                assert answer.value <= outcome.value
            else:
                assert answer == outcome
        if operation.name in _MINTS and outcome.refused is None:
            self.note_minted(operation.name, outcome.value)
        if operation.name == "pop" and outcome.refused is None:
            self.redelivered = max(0, self.redelivered - 1)
        if operation.name == "drain" and isinstance(outcome.value, tuple):
            self.redelivered = max(0, self.redelivered - len(outcome.value))
        return outcome

    def on_live_clock(self, original_ns: object) -> int:
        """A time on the original's clock, read on the running copy's."""
        assert isinstance(original_ns, int)
        return original_ns + self.live.clock.monotonic_ns() - self.node.clock.monotonic_ns()

    def note_minted(self, name: str, value: object) -> None:
        assert isinstance(value, int)
        self.minted[name] = max(value, self.minted.get(name, -1))

    def check_minted(self, name: str, answer: Outcome) -> None:
        # Either ID scheme: restored nodes mint past everything minted before the restart, and
        # mint the saved next ID first (checked at the restart), so they never reuse one.
        assert answer.refused is None
        assert isinstance(answer.value, int)
        assert answer.value > self.minted_before_restart.get(name, -1)
        assert answer.value > self.minted_by_live.get(name, -1)
        self.minted_by_live[name] = answer.value
        self.note_minted(name, answer.value)

    def restart(self, seed: int, origin: int, wall_step: int, stagger: int) -> None:
        """The running node's process dies; a new one restores its snapshot through bytes."""
        saved = self.live.snapshot()
        downtime = max(0, wall_step)
        apply_operation(self.node, Operation("advance", (downtime,)))  # it lives through, idle
        clock = ManualClock(monotonic_ns=origin, wall_ns=saved.taken_at.wall_ns + wall_step)
        restored = Node.restore(
            decode(encode(saved)),
            MACHINE_IDENTITY,
            clock=clock,
            rng=random.Random(seed),
            backoff_policy=self.live.backoff.policy,
            max_outbound=self.live.outbound.max_len,
            restart_stagger_ns=stagger,
        )
        assert_follows_the_clock_rule(saved, restored.snapshot(), downtime, stagger)
        for name, field in _MINTS.items():
            saved_next = getattr(saved.framework, field)
            allocator = restored.command_ids if name == "mint_command_id" else restored.exec_ids
            assert saved_next > self.minted.get(name, -1)
            assert allocator.peek_next() == (None if saved_next == U64_MAX else saved_next)
        self.minted_before_restart = dict(self.minted)
        self.minted_by_live = {}
        shift = saved.taken_at.monotonic_ns + downtime - origin
        self.floor_ns = 0 if self.floor_ns is None else max(0, self.floor_ns - shift)
        self.live = restored
        self.redelivered = len(restored.outbound)
        # Same seed on both sides: jitter drawn from now on must agree too.
        self.node.rng.seed(seed)
        restored.rng.seed(seed)
        # Wait out the stagger window: every deadline it spread is then due in both nodes.
        for node in (self.node, restored):
            apply_operation(node, Operation("advance", (stagger,)))

    seeds = st.integers(0, 2**32)
    origins = st.integers(0, 400_000 * S)  # the new process's monotonic clock
    # Often the default window: a quick restart then staggers deadlines of a few seconds.
    staggers = st.just(DEFAULT_RESTART_STAGGER_NS) | st.integers(0, 60 * S)

    @rule(seed=seeds, origin=origins, wall_step=st.integers(0, 60 * S), stagger=staggers)
    def restart_quickly(self, seed: int, origin: int, wall_step: int, stagger: int) -> None:
        self.restart(seed, origin, wall_step, stagger)

    @rule(seed=seeds, origin=origins, wall_step=st.integers(-30 * DAY, -1), stagger=staggers)
    def restart_with_the_wall_clock_set_back(
        self, seed: int, origin: int, wall_step: int, stagger: int
    ) -> None:
        self.restart(seed, origin, wall_step, stagger)

    @rule(seed=seeds, origin=origins, wall_step=st.integers(60 * S, 365 * DAY), stagger=staggers)
    def restart_after_a_long_downtime_or_a_wall_clock_jump(
        self, seed: int, origin: int, wall_step: int, stagger: int
    ) -> None:
        self.restart(seed, origin, wall_step, stagger)

    @precondition(lambda self: self.live is not self.node)
    @invariant()
    def the_restored_node_agrees_with_the_original(self) -> None:
        original, restored = self.node, self.live
        shift = restored.clock.monotonic_ns() - original.clock.monotonic_ns()
        original_now = original.clock.monotonic_ns()
        expected = mark_redelivered(original.snapshot(), self.redelivered)
        actual = restored.snapshot()
        assert timeless(actual) == timeless(expected)

        def agree(deadline: bool, original_ns: int, restored_ns: int) -> bool:
            if deadline and original_ns <= original_now:
                return restored_ns <= original_now + shift  # due in both
            if deadline:
                return restored_ns == original_ns + shift
            return restored_ns == max(self.floor_ns or 0, original_ns + shift)

        assert mismatches(times(expected), times(actual), agree) == []
        assert expiries(actual) == {
            key: expiry if expiry is None else min(U64_MAX, expiry + shift)
            for key, expiry in expiries(expected).items()
        }
        for peer in DEFAULT_PEERS:
            assert original.may_dial(peer) == restored.may_dial(peer)


NodeFidelity.TestCase.settings = settings(max_examples=100, stateful_step_count=40)
test_node_fidelity = NodeFidelity.TestCase


class ThoroughNodeFidelity(NodeFidelity):
    """The same machine, run far longer: for a change to restore or to the clock rule."""


ThoroughNodeFidelity.TestCase.settings = settings(max_examples=300, stateful_step_count=80)
test_node_fidelity_thoroughly = pytest.mark.slow(ThoroughNodeFidelity.TestCase)
