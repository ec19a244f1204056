"""`ChangedKeys`: which keys of a component's collection changed since the node's last save.

A node that saves a delta instead of a full snapshot must know what changed without comparing
its tables with the saved ones. Each keyed collection of a component (the address book's peers,
the counters' names, ...) records the keys its mutating calls touch, one set add each. It records
nothing until its first `take()`, so a node that never saves incrementally keeps no set.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")


class ChangedKeys(Generic[K]):
    """The keys changed since the last `take()`, or "unknown": the collection must be saved
    whole (before the first `take()`, and after `replaced()`)."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: set[K] | None = None  # None: not known key by key

    def add(self, key: K) -> None:
        """`key` changed (was set, changed or removed)."""
        keys = self._keys
        if keys is not None:
            keys.add(key)

    def replaced(self) -> None:
        """The whole collection was replaced: its next `take()` says so."""
        self._keys = None

    def take(self) -> set[K] | None:
        """The keys changed since the previous `take()`, or `None` when they are not known
        (this is the first `take()`, or the collection was replaced whole); recording starts
        afresh."""
        keys = self._keys
        self._keys = set()
        return keys
