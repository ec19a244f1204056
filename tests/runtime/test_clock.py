"""Clocks: the system clock reads the OS; the manual clock moves only when told to."""

from collections.abc import Callable

import pytest

from node_runtime.clock import Clock, ManualClock, SystemClock
from node_runtime.component_errors import ComponentValueError


def test_the_system_clock_reads_nanoseconds_and_its_monotonic_side_never_goes_back() -> None:
    clock: Clock = SystemClock()

    first, second = clock.monotonic_ns(), clock.monotonic_ns()

    assert type(first) is int
    assert second >= first
    assert clock.wall_ns() > 1_600_000_000 * 10**9  # after September 2020


def test_a_manual_clock_reads_what_it_was_set_to() -> None:
    clock: Clock = ManualClock(monotonic_ns=5, wall_ns=1_000)

    assert (clock.monotonic_ns(), clock.wall_ns()) == (5, 1_000)


def test_advancing_a_manual_clock_moves_both_clocks_together() -> None:
    clock = ManualClock(monotonic_ns=5, wall_ns=1_000)

    clock.advance(10)

    assert (clock.monotonic_ns(), clock.wall_ns()) == (15, 1_010)


def test_the_wall_clock_can_jump_backwards_alone() -> None:
    clock = ManualClock(monotonic_ns=5, wall_ns=1_000)

    clock.set_wall(400)
    clock.advance(10)

    assert (clock.monotonic_ns(), clock.wall_ns()) == (15, 410)


@pytest.mark.parametrize("ns", [-1, 1.5, True])
def test_advancing_by_a_negative_or_non_integer_amount_is_refused_and_changes_nothing(
    ns: int,
) -> None:
    clock = ManualClock(monotonic_ns=5, wall_ns=1_000)

    with pytest.raises(ComponentValueError) as raised:
        clock.advance(ns)

    assert raised.value.path == ("ns",)
    assert (clock.monotonic_ns(), clock.wall_ns()) == (5, 1_000)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ManualClock(monotonic_ns=-1),
        lambda: ManualClock(wall_ns=2**64),
        lambda: ManualClock(wall_ns=1.5),  # type: ignore[arg-type]
    ],
)
def test_a_manual_clock_reading_outside_u64_is_refused(build: Callable[[], ManualClock]) -> None:
    with pytest.raises(ComponentValueError):
        build()


def test_a_manual_clock_never_moves_outside_u64_and_a_refused_move_changes_nothing() -> None:
    clock = ManualClock(monotonic_ns=2**64 - 10, wall_ns=5)
    with pytest.raises(ComponentValueError):
        clock.advance(10)
    with pytest.raises(ComponentValueError):
        clock.set_wall(-1)
    assert (clock.monotonic_ns(), clock.wall_ns()) == (2**64 - 10, 5)
    clock.advance(9)
    assert clock.monotonic_ns() == 2**64 - 1
