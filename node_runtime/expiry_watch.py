"""`ExpiryWatch`: which entries reach their next expiry by a given time, in time proportional to
their number.

A snapshot leaves out addresses expired at its instant, so a peer's saved row changes when one
of its addresses expires even if nothing touches the peer. The address book arms each entry at
its next expiry; a delta asks for the entries due since the last one instead of looking at every
entry.

An entry keeps the time it is armed at in its own `armed` slot, so the watch holds no map of its
own: arming every entry of a large book is one pass over it plus a `heapify`. Rearming an entry
leaves its previous heap item behind, skipped when it surfaces (its time is no longer the
entry's); the owner rebuilds the heap once such items outnumber its entries.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Generic, Protocol, TypeVar

K = TypeVar("K")


class Armable(Protocol):
    armed: int | None
    """The time of the entry's live heap item; `None` when it has none."""


E = TypeVar("E", bound=Armable)


class ExpiryWatch(Generic[K, E]):
    """A heap of `(time, key)` items, one live per armed entry of a map the owner keeps."""

    __slots__ = ("_heap",)

    def __init__(self) -> None:
        self._heap: list[tuple[int, K]] = []

    def __len__(self) -> int:
        """Heap items, stale ones included."""
        return len(self._heap)

    def replace(self, items: list[tuple[int, K]]) -> None:
        """Hold exactly `items` (the list becomes the heap): the owner has set each entry's
        `armed` to its item's time, and every other entry's to `None`."""
        heapq.heapify(items)
        self._heap = items

    def arm(self, key: K, entry: E, at: int | None) -> None:
        """Arm `entry` (held under `key`) at `at` in place of its previous time; `None`
        disarms it."""
        if entry.armed == at:
            return
        entry.armed = at
        if at is not None:
            heapq.heappush(self._heap, (at, key))

    def due(self, now: int, entries: Mapping[K, E]) -> list[K]:
        """The keys of `entries` armed at or before `now`, each disarmed."""
        heap = self._heap
        due = []
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            entry = entries.get(key)
            if entry is not None and entry.armed == at:
                entry.armed = None
                due.append(key)
        return due
