"""`ExpiryWatch`: which keys reach their next expiry by a given time, in time proportional to
their number.

A snapshot leaves out addresses expired at its instant, so a peer's saved row changes when one
of its addresses expires even if nothing touches the peer. The address book arms each peer at
its next expiry; a delta asks for the peers due since the last one instead of looking at every
entry.
"""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

K = TypeVar("K")

_SLACK = 64
"""Stale heap items allowed beyond twice the armed keys before the heap is rebuilt."""


class ExpiryWatch(Generic[K]):
    """At most one armed time per key, in a heap. Rearming a key leaves its old item in the
    heap (it is skipped when it surfaces); the heap is rebuilt once such stale items outnumber
    the armed keys, so its size stays proportional to them."""

    __slots__ = ("_armed", "_heap")

    def __init__(self) -> None:
        self._armed: dict[K, int] = {}
        self._heap: list[tuple[int, K]] = []

    def rearm_all(self, times: list[tuple[int, K]]) -> None:
        """Forget every armed time; arm exactly these `(time, key)` pairs (keys unique). The
        list becomes the heap."""
        self._armed = {key: at for at, key in times}
        heapq.heapify(times)
        self._heap = times

    def arm(self, key: K, at: int | None) -> None:
        """Arm `key` at `at` in place of its previous time; `None` disarms it."""
        if at is None:
            self._armed.pop(key, None)
            return
        if self._armed.get(key) == at:
            return
        self._armed[key] = at
        heapq.heappush(self._heap, (at, key))
        if len(self._heap) > 2 * len(self._armed) + _SLACK:
            self.rearm_all([(at, key) for key, at in self._armed.items()])

    def due(self, now: int) -> list[K]:
        """The keys armed at or before `now`, each disarmed."""
        heap, armed = self._heap, self._armed
        due = []
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            if armed.get(key) == at:
                del armed[key]
                due.append(key)
        return due
