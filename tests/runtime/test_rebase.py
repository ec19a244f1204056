"""The restart clock rule: remaining time survives, downtime counts, wall jumps never extend,
deadlines never gain time, and every result stays a u64 whatever the snapshot and the clocks."""

import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node_runtime.backoff import BackoffState
from node_runtime.clock import ManualClock
from node_runtime.identity import Identity
from node_runtime.node import Node
from node_runtime.rebase import DEFAULT_RESTART_STAGGER_NS, Rebase
from snapshot_schema import (
    BackoffEntry,
    ClockReading,
    PeerHealthSnapshot,
    PendingAsyncSnapshot,
    TimerMaturedIngress,
    build_framework,
)
from snapshot_schema.checks import U64_MAX

S = 1_000_000_000
TAKEN = ClockReading(monotonic_ns=5_000 * S, wall_ns=1_764_000_000 * S)
u64s = st.integers(0, U64_MAX)
# Any u64, with the ends of the range drawn often: where a shifted time would leave it.
edgy_u64s = st.sampled_from([0, 1, U64_MAX - 1, U64_MAX]) | u64s


def rebase(now_monotonic: int, now_wall: int, stagger: int = 30 * S) -> Rebase:
    return Rebase(TAKEN, ClockReading(now_monotonic, now_wall), random.Random(7), stagger)


def test_remaining_time_carries_into_a_clock_with_another_origin() -> None:
    # 20 s of backoff left at snapshot time; the new process's monotonic clock starts near 0.
    deadline = TAKEN.monotonic_ns + 20 * S
    restored = rebase(now_monotonic=3 * S, now_wall=TAKEN.wall_ns)
    assert restored.deadline(deadline) == 3 * S + 20 * S


def test_downtime_is_subtracted_from_the_remaining_time() -> None:
    deadline = TAKEN.monotonic_ns + 20 * S
    restored = rebase(now_monotonic=100 * S, now_wall=TAKEN.wall_ns + 8 * S)
    assert restored.deadline(deadline) == 100 * S + 12 * S


def test_a_wall_clock_set_backwards_never_extends_a_deadline() -> None:
    deadline = TAKEN.monotonic_ns + 20 * S
    restored = rebase(now_monotonic=100 * S, now_wall=TAKEN.wall_ns - 3_600 * S)
    assert restored.deadline(deadline) == 100 * S + 20 * S


def test_deadlines_that_expired_while_down_are_spread_not_fired_together() -> None:
    restored = rebase(now_monotonic=100 * S, now_wall=TAKEN.wall_ns + 60 * S, stagger=30 * S)
    remaining = [n * S for n in range(1, 41)]
    deadlines = [restored.deadline(TAKEN.monotonic_ns + left) for left in remaining]
    assert all(
        100 * S <= d < 100 * S + min(30 * S, left)
        for d, left in zip(deadlines, remaining, strict=True)
    )
    assert len(set(deadlines)) == len(deadlines)


def test_an_expired_deadline_is_never_staggered_past_the_time_it_had_left() -> None:
    # 10 s left at the snapshot, down 11 s: due within those 10 s (not anywhere in 30 s), so
    # sooner than a peer that had 40 s left and still waits 29 s.
    restored = rebase(now_monotonic=100 * S, now_wall=TAKEN.wall_ns + 11 * S)
    lefts = [restored.deadline(TAKEN.monotonic_ns + 10 * S) - 100 * S for _ in range(40)]
    assert all(0 <= left < 10 * S for left in lefts)
    assert restored.deadline(TAKEN.monotonic_ns + 40 * S) - 100 * S == 29 * S


def test_without_stagger_expired_deadlines_are_due_now() -> None:
    restored = rebase(now_monotonic=100 * S, now_wall=TAKEN.wall_ns + 60 * S, stagger=0)
    assert restored.deadline(TAKEN.monotonic_ns + S) == 100 * S


def test_past_times_keep_their_age_plus_downtime_clamped_at_zero() -> None:
    restored = rebase(now_monotonic=100 * S, now_wall=TAKEN.wall_ns + 10 * S)
    assert restored.past_time(TAKEN.monotonic_ns - 5 * S) == 85 * S
    assert restored.past_time(TAKEN.monotonic_ns - 500 * S) == 0
    assert restored.deadline(TAKEN.monotonic_ns - 5 * S) == 85 * S


def test_times_after_the_snapshot_saturate_on_a_clock_ahead_of_the_old_one() -> None:
    # `decode` accepts an event time later than `taken_at`; on a new clock 1,000 s ahead it would
    # land past 2**64-1, so it saturates there, as deadlines do.
    ahead = rebase(now_monotonic=TAKEN.monotonic_ns + 1_000 * S, now_wall=TAKEN.wall_ns)
    assert ahead.past_time(U64_MAX) == U64_MAX
    assert ahead.past_time(U64_MAX - 1_000 * S) == U64_MAX
    assert ahead.past_time(U64_MAX - 1_001 * S) == U64_MAX - S
    assert ahead.deadline(U64_MAX) == U64_MAX


@given(
    time_ns=edgy_u64s,
    taken=st.builds(ClockReading, edgy_u64s, edgy_u64s),
    now=st.builds(ClockReading, edgy_u64s, edgy_u64s),
    stagger=st.sampled_from([0, 1, DEFAULT_RESTART_STAGGER_NS, U64_MAX]),
)
def test_every_rebased_time_is_a_u64_whatever_the_clocks(
    time_ns: int, taken: ClockReading, now: ClockReading, stagger: int
) -> None:
    rebased = Rebase(taken, now, random.Random(0), stagger)
    assert 0 <= rebased.past_time(time_ns) <= U64_MAX
    assert 0 <= rebased.deadline(time_ns) <= U64_MAX


@given(st.integers(0, 2**64 - 1))
def test_same_clock_and_no_downtime_maps_every_time_to_itself(time_ns: int) -> None:
    same = Rebase(TAKEN, TAKEN, random.Random(1))
    assert same.past_time(time_ns) == time_ns
    assert same.deadline(time_ns) == time_ns


@given(
    remaining=st.integers(1, 10**6 * S),
    downtime=st.integers(-(10**6) * S, 10**6 * S),
    origin=st.integers(0, 10**9 * S),
    seed=st.integers(0, 2**32),
)
def test_time_left_never_exceeds_what_was_left(
    remaining: int, downtime: int, origin: int, seed: int
) -> None:
    # Under the default stagger window, expired deadlines included.
    restored = Rebase(TAKEN, ClockReading(origin, TAKEN.wall_ns + downtime), random.Random(seed))
    left = restored.deadline(TAKEN.monotonic_ns + remaining) - origin
    assert 0 <= left <= remaining
    if remaining > downtime:
        assert left == remaining - max(0, downtime)
    else:
        assert left < min(remaining, DEFAULT_RESTART_STAGGER_NS)


def test_a_negative_stagger_window_is_refused() -> None:
    reading = ClockReading(0, 0)
    with pytest.raises(ValueError, match="stagger_ns"):
        Rebase(reading, reading, random.Random(0), -1)


# Through `Node.restore`: the rule reaches every saved time, and no saved time makes it fail.

IDENTITY = Identity.from_private_bytes(bytes([1]) * 32)
PEER = Identity.from_private_bytes(bytes([2]) * 32).peer_id.to_bytes()


def test_a_snapshot_with_times_after_taken_at_restores_onto_a_clock_ahead() -> None:
    # The example that made the fast-path agreement property test fail at random: times near
    # 2**64-1, later than `taken_at`, restored onto a clock 1,000 s ahead of the old one.
    late = U64_MAX - 1_000 * S + 1
    taken = ClockReading(0, 1_764_000_000 * S)
    saved = Node(IDENTITY, clock=ManualClock(taken.monotonic_ns, taken.wall_ns)).snapshot()
    framework = attrs.evolve(
        saved.framework,
        peer_governor=attrs.evolve(
            saved.framework.peer_governor, health=[PeerHealthSnapshot(PEER, 1, late, False)]
        ),
        backoff_table=[BackoffEntry(PEER, 1, late, U64_MAX)],
    )
    snapshot = attrs.evolve(
        saved,
        framework=framework,
        pending_async={2: PendingAsyncSnapshot(0, 0, deadline_ns=late)},
        ingress=(TimerMaturedIngress(late),),
    )
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=taken.wall_ns)
    restored = Node.restore(snapshot, IDENTITY, clock=clock)
    (health,) = restored.snapshot().framework.peer_governor.health
    assert health.last_event_ns == U64_MAX
    assert restored.backoff.entry(PEER) == BackoffState(1, U64_MAX, U64_MAX)
    assert restored.execution.ingress == (TimerMaturedIngress(U64_MAX),)
    assert restored.execution.pending_async[2].deadline_ns == U64_MAX
    assert restored.snapshot().framework == build_framework(restored._framework_layout())


def test_restore_rebases_every_saved_time_by_the_rule() -> None:
    saved = Node(IDENTITY, clock=ManualClock(TAKEN.monotonic_ns, TAKEN.wall_ns)).snapshot()
    framework = attrs.evolve(
        saved.framework,
        peer_governor=attrs.evolve(
            saved.framework.peer_governor,
            health=[PeerHealthSnapshot(PEER, 1, TAKEN.monotonic_ns - 5 * S, False)],
        ),
        backoff_table=[
            BackoffEntry(PEER, 1, TAKEN.monotonic_ns - 5 * S, TAKEN.monotonic_ns + 20 * S)
        ],
    )
    snapshot = attrs.evolve(
        saved,
        framework=framework,
        pending_async={
            2: PendingAsyncSnapshot(0, 0, deadline_ns=TAKEN.monotonic_ns + 30 * S),
            3: PendingAsyncSnapshot(0, 0),
        },
        ingress=(TimerMaturedIngress(TAKEN.monotonic_ns - 7 * S),),
    )
    # A new process at 100 s on its monotonic clock, 8 s later on the wall clock.
    clock = ManualClock(monotonic_ns=100 * S, wall_ns=TAKEN.wall_ns + 8 * S)
    restored = Node.restore(snapshot, IDENTITY, clock=clock)
    (health,) = restored.snapshot().framework.peer_governor.health
    assert health.last_event_ns == 87 * S
    assert restored.backoff.entry(PEER) == BackoffState(1, 87 * S, 112 * S)
    assert restored.execution.pending_async[2].deadline_ns == 122 * S
    assert restored.execution.pending_async[3].deadline_ns is None
    assert restored.execution.ingress == (TimerMaturedIngress(85 * S),)


@given(
    last_attempt=edgy_u64s,
    wait=edgy_u64s,
    taken=st.builds(ClockReading, edgy_u64s, edgy_u64s),
    now=st.builds(ClockReading, edgy_u64s, edgy_u64s),
)
def test_a_rebased_retry_never_precedes_its_rebased_last_attempt(
    last_attempt: int, wait: int, taken: ClockReading, now: ClockReading
) -> None:
    # A backoff entry stays valid through a restore: its retry is no earlier than its attempt.
    rebased = Rebase(taken, now, random.Random(0))
    next_retry = min(U64_MAX, last_attempt + wait)
    assert rebased.past_time(last_attempt) <= rebased.deadline(next_retry)
