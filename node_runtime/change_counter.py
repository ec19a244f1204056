"""`ChangeCounter`: how a component tells a checkpointer that it changed since the last save."""

from __future__ import annotations


class ChangeCounter:
    """A revision number that grows with every mutating call.

    A checkpointer compares revisions instead of snapshots, so an idle node costs nothing and
    writes nothing. A call that turns out to change nothing may still count: at worst that costs
    one unneeded save, never a missed one.
    """

    _revision = 0

    @property
    def revision(self) -> int:
        return self._revision

    def _changed(self) -> None:
        self._revision += 1
