"""Named u64 counters (messages sent, dials failed, …).

Counters saturate at 2**64-1 instead of raising: counting is bookkeeping, and must never make
the operation being counted fail. At one event a nanosecond a counter takes 584 years to get
there, so in practice only a runaway `by` saturates one, and a saturated value still reads as
"at least this many".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from node_runtime._component_checks import check_int, check_name
from node_runtime.change_counter import ChangeCounter
from node_runtime.changed_keys import ChangedKeys
from node_runtime.component_errors import ComponentValueError
from snapshot_schema.checks import U64_MAX


class Counters(ChangeCounter):
    """Counters by name; a name never incremented reads as 0."""

    def __init__(self) -> None:
        self._values: dict[str, int] = {}
        self._changed_names: ChangedKeys[str] = ChangedKeys()

    @classmethod
    def from_state(cls, items: Iterable[tuple[str, int]]) -> Counters:
        """Counters holding exactly these values, as read back from `items()`.

        Raises `ComponentValueError` for an empty name, a value outside u64 or a name listed twice.
        """
        counters = cls()
        for index, (name, value) in enumerate(items):
            check_name(name, "items", index, "name")
            if name in counters._values:
                raise ComponentValueError(f"counter {name!r} listed twice", ("items", index))
            counters._values[name] = check_int(value, 0, U64_MAX, "items", index, "value")
        return counters

    def items(self) -> Iterator[tuple[str, int]]:
        """Every counter incremented at least once (even by 0), in the order first incremented."""
        return iter(self._values.items())

    def get(self, name: str) -> int:
        return self._values.get(name, 0)

    def take_changed_names(self) -> set[str] | None:
        """The counters incremented since the previous call; `None` on the first call."""
        return self._changed_names.take()

    def increment(self, name: str, by: int = 1) -> int:
        """Add `by` (a u64) to the counter `name`, saturating at 2**64-1; returns the new value."""
        check_name(name, "name")
        check_int(by, 0, U64_MAX, "by")
        value = min(self._values.get(name, 0) + by, U64_MAX)
        self._changed()
        self._changed_names.add(name)
        self._values[name] = value
        return value
