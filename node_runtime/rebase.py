"""Carry monotonic times across a restart: the clock rule restore applies to every deadline.

A monotonic clock's origin is private to a process, so a deadline saved as raw monotonic
nanoseconds means nothing after a restart. A snapshot therefore records both clocks at the
instant it was taken (`taken_at`), and restore maps each saved time onto the new process's
monotonic clock. The downtime is the wall-clock time since `taken_at`, or zero if the wall clock
went backwards.

* **Deadlines still in the future when the snapshot was taken** keep their remaining time,
  minus the downtime. That is the *smaller* of (a) the remaining duration at snapshot time and
  (b) the distance to the absolute wall-clock deadline `taken_at.wall + remaining`: a wall clock
  set backwards makes (b) larger than (a), so (a) wins and no deadline is ever extended
  (Chromium's backoff entry serializer uses the same guard).
* **Deadlines that expired while the node was down** must not all fire in the same instant
  (a restarted node must not stampede every peer): each is spread uniformly over
  `[now, now + min(stagger_ns, remaining))` with the injected random generator (lnd staggers
  reconnects to persistent peers by up to 30 s after a restart; that is the default here). The
  window never reaches past the time the deadline had left, so for every deadline the time left
  after a restore is at most the time left at the snapshot.
* **Deadlines already past, and past event times** (last attempt, last health event, a timer
  that matured) keep their age at snapshot time plus the downtime.
* **Expiries** (an address's TTL) follow the deadline rule without the stagger: one that passed
  while the node was down, or before the snapshot, has nothing left to spread, so it is gone.

Every result is clamped to the u64 range a snapshot stores (`0 … 2**64-1`): a time the snapshot
holds *after* its own `taken_at` (which `decode` accepts) then saturates instead of overflowing.

With zero downtime and the same clock readings, every time maps to itself, so restoring into
an identical clock reproduces the snapshot exactly.
"""

from __future__ import annotations

import random

import attrs

from snapshot_schema import ClockReading
from snapshot_schema.checks import U64_MAX

DEFAULT_RESTART_STAGGER_NS = 30 * 1_000_000_000


@attrs.frozen
class Rebase:
    """Maps times on the snapshot's monotonic clock onto the restoring process's clock."""

    taken_at: ClockReading
    now: ClockReading
    rng: random.Random = attrs.field(eq=False)
    stagger_ns: int = attrs.field(default=DEFAULT_RESTART_STAGGER_NS)
    # How far every time moves back: the old clock's reading minus the new one's, plus the
    # downtime. Derived once here, since restore maps hundreds of thousands of times with it.
    _shift: int = attrs.field(init=False, eq=False, repr=False)

    @stagger_ns.validator
    def _check_stagger(self, _attribute: object, value: int) -> None:
        if not 0 <= value <= U64_MAX:
            raise ValueError(f"stagger_ns must be 0..2**64-1, got {value}")

    @_shift.default
    def _shift_times(self) -> int:
        return self.taken_at.monotonic_ns + self.downtime_ns - self.now.monotonic_ns

    @property
    def downtime_ns(self) -> int:
        """Wall time that passed since the snapshot; zero if the wall clock went backwards."""
        return max(0, self.now.wall_ns - self.taken_at.wall_ns)

    def deadline(self, deadline_ns: int) -> int:
        """A deadline on the new monotonic clock (see the module docstring for the rule)."""
        remaining = deadline_ns - self.taken_at.monotonic_ns
        if remaining <= 0:
            return self.past_time(deadline_ns)
        # now + remaining - downtime: min(remaining, time to the wall deadline) left.
        moved = deadline_ns - self._shift
        if moved > self.now.monotonic_ns:
            return min(U64_MAX, moved)
        window = min(self.stagger_ns, remaining)  # never more time left than it had
        spread = self.rng.randrange(window) if window > 0 else 0
        return min(U64_MAX, self.now.monotonic_ns + spread)

    def expiry(self, deadline_ns: int) -> int | None:
        """An expiry on the new monotonic clock, or `None` if it has passed by now: the time it
        had left at the snapshot, minus the downtime (as `deadline`), never staggered."""
        moved = deadline_ns - self._shift
        if deadline_ns <= self.taken_at.monotonic_ns or moved <= self.now.monotonic_ns:
            return None
        return min(U64_MAX, moved)

    def past_time(self, time_ns: int) -> int:
        """An event time on the new clock, keeping its age (see the module docstring)."""
        return min(U64_MAX, max(0, time_ns - self._shift))
