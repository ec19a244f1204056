"""The two clocks a host reads and hands to the components as plain integers.

Components never read a clock: they take `now_ns` (monotonic nanoseconds) as an argument, so a
test or a restore decides what time it is. The monotonic clock orders events and sets deadlines
within one process; the wall clock exists only to carry deadlines across a restart, because a new
process's monotonic clock has another origin. The wall clock may jump (NTP, an operator), in
either direction, so nothing may rely on it being monotonic.
"""

from __future__ import annotations

import time
from typing import Protocol, final

from node_runtime._component_checks import check_ns
from node_runtime.component_errors import ComponentValueError
from snapshot_schema.checks import U64_MAX


class Clock(Protocol):
    """A source of the current time, in integer nanoseconds."""

    def monotonic_ns(self) -> int:
        """Nanoseconds since an arbitrary per-boot origin; never goes backwards."""
        ...

    def wall_ns(self) -> int:
        """Nanoseconds since the Unix epoch; may jump either way."""
        ...


@final
class SystemClock:
    """The operating system's clocks: the only place a component's time comes from in production."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def wall_ns(self) -> int:
        return time.time_ns()


@final
class ManualClock:
    """A clock that moves only when told to, for deterministic tests. Its readings stay u64
    values, as snapshots store them: anything that would leave that range is refused
    (`ComponentValueError`) and changes nothing."""

    def __init__(self, monotonic_ns: int = 0, wall_ns: int = 0) -> None:
        self._monotonic_ns = check_ns(monotonic_ns, "monotonic_ns")
        self._wall_ns = check_ns(wall_ns, "wall_ns")

    def monotonic_ns(self) -> int:
        return self._monotonic_ns

    def wall_ns(self) -> int:
        return self._wall_ns

    def advance(self, ns: int) -> None:
        """Let `ns` nanoseconds pass: both clocks move forward together.

        A negative `ns` is refused: a monotonic clock cannot go back.
        """
        check_ns(ns, "ns")
        if max(self._monotonic_ns, self._wall_ns) + ns > U64_MAX:
            raise ComponentValueError(f"advancing by {ns} ns would pass 2**64-1 ns", ("ns",))
        self._monotonic_ns += ns
        self._wall_ns += ns

    def set_wall(self, wall_ns: int) -> None:
        """Jump the wall clock alone, forwards or backwards, as NTP or an operator might."""
        self._wall_ns = check_ns(wall_ns, "wall_ns")
