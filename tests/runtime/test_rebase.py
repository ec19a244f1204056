"""The restart clock rule: remaining time survives, downtime counts, wall jumps never extend."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node_runtime.rebase import Rebase
from snapshot_schema import ClockReading

S = 1_000_000_000
TAKEN = ClockReading(monotonic_ns=5_000 * S, wall_ns=1_764_000_000 * S)


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
    deadlines = [restored.deadline(TAKEN.monotonic_ns + n * S) for n in range(1, 41)]
    assert all(100 * S <= d < 130 * S for d in deadlines)
    assert len(set(deadlines)) == len(deadlines)


def test_without_stagger_expired_deadlines_are_due_now() -> None:
    restored = rebase(now_monotonic=100 * S, now_wall=TAKEN.wall_ns + 60 * S, stagger=0)
    assert restored.deadline(TAKEN.monotonic_ns + S) == 100 * S


def test_past_times_keep_their_age_plus_downtime_clamped_at_zero() -> None:
    restored = rebase(now_monotonic=100 * S, now_wall=TAKEN.wall_ns + 10 * S)
    assert restored.past_time(TAKEN.monotonic_ns - 5 * S) == 85 * S
    assert restored.past_time(TAKEN.monotonic_ns - 500 * S) == 0
    assert restored.deadline(TAKEN.monotonic_ns - 5 * S) == 85 * S


@given(st.integers(0, 2**64 - 1))
def test_same_clock_and_no_downtime_maps_every_time_to_itself(time_ns: int) -> None:
    same = Rebase(TAKEN, TAKEN, random.Random(1))
    assert same.past_time(min(time_ns, TAKEN.monotonic_ns)) == min(time_ns, TAKEN.monotonic_ns)
    assert same.deadline(time_ns) == time_ns


@given(
    remaining=st.integers(1, 10**6 * S),
    downtime=st.integers(-(10**6) * S, 10**6 * S),
    origin=st.integers(0, 10**9 * S),
)
def test_time_left_never_exceeds_what_was_left(remaining: int, downtime: int, origin: int) -> None:
    restored = rebase(now_monotonic=origin, now_wall=TAKEN.wall_ns + downtime, stagger=0)
    left = restored.deadline(TAKEN.monotonic_ns + remaining) - origin
    assert 0 <= left <= remaining
    if downtime >= 0:
        assert left == max(0, remaining - downtime)


def test_a_negative_stagger_window_is_refused() -> None:
    reading = ClockReading(0, 0)
    with pytest.raises(ValueError, match="stagger_ns"):
        Rebase(reading, reading, random.Random(0), -1)
