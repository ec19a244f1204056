"""Monotonically increasing u64 ids (the node keeps one allocator per kind: commands, executions).

The state is the next id to mint, always a u64 so a snapshot can store it. That is why the
largest u64, 2**64-1, is never minted: it is the state of an exhausted allocator, which refuses
to mint (`IdExhaustedError`) rather than wrap and reuse an id.
"""

from __future__ import annotations

from node_runtime._component_checks import check_int
from node_runtime.change_counter import ChangeCounter
from node_runtime.component_errors import IdExhaustedError
from snapshot_schema.checks import U64_MAX


class IdAllocator(ChangeCounter):
    """Mints `next_id`, `next_id + 1`, … up to 2**64-2; restore by passing the saved `next_id`."""

    def __init__(self, next_id: int = 0) -> None:
        self._next_id = check_int(next_id, 0, U64_MAX, "next_id")

    @property
    def next_id(self) -> int:
        """The state to snapshot: the id `mint` would return, or 2**64-1 once exhausted."""
        return self._next_id

    def peek_next(self) -> int | None:
        """The id `mint` would return, or `None` when exhausted."""
        return None if self._next_id == U64_MAX else self._next_id

    def mint(self) -> int:
        """A fresh id, greater than every id minted before; `IdExhaustedError` when none is left."""
        minted = self._next_id
        if minted == U64_MAX:
            raise IdExhaustedError(f"every id up to {U64_MAX - 1} has been minted")
        self._changed()
        self._next_id = minted + 1
        return minted
