"""Lifecycle phases fired since the last poll ("started", "stopping", …).

A phase fired between two polls is delivered once at the next one, in firing order; firing the
same phase twice delivers it twice, because each firing is an event.
"""

from __future__ import annotations

from collections.abc import Iterable

from node_runtime._component_checks import check_name
from node_runtime.change_counter import ChangeCounter


class LifecycleQueue(ChangeCounter):
    """Phases fired and not yet drained, oldest first."""

    def __init__(self) -> None:
        self._pending: list[str] = []

    @classmethod
    def from_state(cls, pending: Iterable[str]) -> LifecycleQueue:
        """A queue holding these phases, as read back from `pending()`.

        Raises `ComponentValueError` for an empty or non-`str` phase.
        """
        queue = cls()
        queue._pending = [
            check_name(phase, "pending", index) for index, phase in enumerate(pending)
        ]
        return queue

    def fire(self, phase: str) -> None:
        """Queue `phase` (a non-empty name) for the next poll."""
        self._pending.append(check_name(phase, "phase"))
        self._changed()

    def pending(self) -> tuple[str, ...]:
        """The phases the next `drain` would return, left queued."""
        return tuple(self._pending)

    def drain(self) -> tuple[str, ...]:
        """Take every queued phase, oldest first."""
        drained = tuple(self._pending)
        self._pending.clear()
        self._changed()
        return drained
