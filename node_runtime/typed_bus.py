"""Who listens to which event kind: event kind → ordered, duplicate-free subscriber site ids.

Subscribers are delivered to in the order they subscribed; subscribing again keeps the original
place, and a subscriber that left and came back goes last. A kind with no subscribers is dropped,
so the table holds only kinds someone listens to.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from node_runtime._component_checks import check_int, check_name
from node_runtime.change_counter import ChangeCounter
from node_runtime.component_errors import ComponentValueError
from snapshot_schema.checks import U64_MAX


class TypedBus(ChangeCounter):
    """The subscription table of the node's typed event bus; site ids are u64."""

    def __init__(self) -> None:
        # A dict per kind is an ordered set: insertion order plus O(1) membership and removal.
        self._subscriptions: dict[str, dict[int, None]] = {}

    @classmethod
    def from_state(cls, items: Iterable[tuple[str, Iterable[int]]]) -> TypedBus:
        """A table holding these subscriptions, as read back from `items()`.

        A kind listed with no subscribers is dropped. Raises `ComponentValueError` for an empty
        kind, a kind listed twice, or a site id that is not a u64 or is listed twice for a kind.
        """
        bus = cls()
        for index, (kind, site_ids) in enumerate(items):
            check_name(kind, "items", index, "kind")
            if kind in bus._subscriptions:
                raise ComponentValueError(f"event kind {kind!r} listed twice", ("items", index))
            sites: dict[int, None] = {}
            for position, site_id in enumerate(site_ids):
                path = ("items", index, "site_ids", position)
                if check_int(site_id, 0, U64_MAX, *path) in sites:
                    raise ComponentValueError(f"site id {site_id} listed twice", path)
                sites[site_id] = None
            if sites:
                bus._subscriptions[kind] = sites
        return bus

    def items(self) -> Iterator[tuple[str, tuple[int, ...]]]:
        """Every kind with subscribers and its subscribers in order, kinds in first-subscribed
        order."""
        return ((kind, tuple(sites)) for kind, sites in self._subscriptions.items())

    def subscribers(self, kind: str) -> tuple[int, ...]:
        """The site ids subscribed to `kind`, in subscription order (empty if none)."""
        return tuple(self._subscriptions.get(kind, ()))

    def subscribe(self, kind: str, site_id: int) -> None:
        """Subscribe `site_id` to `kind`; already subscribed, it keeps its place."""
        check_name(kind, "kind")
        check_int(site_id, 0, U64_MAX, "site_id")
        self._changed()
        self._subscriptions.setdefault(kind, {})[site_id] = None

    def unsubscribe(self, kind: str, site_id: int) -> None:
        """Remove `site_id` from `kind`; a site not subscribed stays so."""
        check_name(kind, "kind")
        check_int(site_id, 0, U64_MAX, "site_id")
        sites = self._subscriptions.get(kind)
        if sites is None:
            return
        self._changed()
        sites.pop(site_id, None)
        if not sites:
            del self._subscriptions[kind]
