"""Monotonically increasing u64 ids (the node keeps one allocator per kind: commands, executions).

The state is the next id to mint, always a u64 so a snapshot can store it. That is why the
largest u64, 2**64-1, is never minted: it is the state of an exhausted allocator, which refuses
to mint (`IdExhaustedError`) rather than wrap and reuse an id.

Reservations. A process can die between two saves, and a node restored from the older save must
not mint again the ids minted since. So an allocator under autosave mints only ids *reserved* by a
save that is already durable: a snapshot records the end of the reservation (`saved_next_id`),
not the next id, and a restored node starts there. When less than half a block is left, the
allocator extends its reservation and asks its `ReservationKeeper` (the `Checkpointer`) for a save;
minting goes on meanwhile from the part already durable, so steady minting never waits. Only when
the durable part is used up does `mint` wait for the keeper, which raises `IdsNotDurableError`
if the save cannot be made in time: an id is never handed out that a restore could hand out again.
Without a keeper (no autosave attached) the allocator mints freely and records its next id.
"""

from __future__ import annotations

import threading
from typing import Protocol

from node_runtime._component_checks import check_int
from node_runtime.change_counter import ChangeCounter
from node_runtime.component_errors import IdExhaustedError
from snapshot_schema.checks import U64_MAX


class ReservationKeeper(Protocol):
    """What makes an allocator's reservations durable (the `Checkpointer` is one)."""

    def reservation_low(self, allocator: IdAllocator) -> None:
        """Less than half a block is left: extend with `allocator.extend_reservation` and have
        it saved soon. Must not block: durable ids remain to mint meanwhile."""
        ...

    def reservation_used_up(self, allocator: IdAllocator) -> None:
        """Every durable id is minted: return once `allocator.can_mint_durably()`, or raise
        `IdsNotDurableError`."""
        ...


class IdAllocator(ChangeCounter):
    """Mints `next_id`, `next_id + 1`, … up to 2**64-2; restore by passing the saved next id."""

    def __init__(self, next_id: int = 0) -> None:
        self._next_id = check_int(next_id, 0, U64_MAX, "next_id")
        self._reserved = self._next_id  # every id minted is below it
        self._durable = U64_MAX  # ids below it may be minted (no keeper: all of them)
        self._renew_at = U64_MAX  # reserved minus half a block: time to extend
        self._keeper: ReservationKeeper | None = None
        # `confirm_durable` may run on a writer thread: it must not raise `_durable` past a
        # reservation released meanwhile. `mint` reads `_durable` without it (one int read).
        self._reservation_lock = threading.Lock()

    @property
    def next_id(self) -> int:
        """The id `mint` would return, or 2**64-1 once exhausted."""
        return self._next_id

    @property
    def saved_next_id(self) -> int:
        """The state to snapshot: the end of the reservation (no id at or above it has been
        minted); `next_id` itself when no keeper reserves ahead."""
        return self._reserved

    def peek_next(self) -> int | None:
        """The id `mint` would return, or `None` when exhausted."""
        return None if self._next_id == U64_MAX else self._next_id

    def mint(self) -> int:
        """A fresh id, greater than every id minted before; `IdExhaustedError` when none is left,
        `IdsNotDurableError` when autosave cannot make a reservation durable in time."""
        minted = self._next_id
        if minted == U64_MAX:
            raise IdExhaustedError(f"every id up to {U64_MAX - 1} has been minted")
        if minted >= self._renew_at and self._keeper is not None:
            self._renew_at = U64_MAX  # asked once per reservation; extending resets it
            self._keeper.reservation_low(self)
        if minted >= self._durable and self._keeper is not None:
            self._keeper.reservation_used_up(self)
        self._next_id = minted + 1
        if self._keeper is None:
            self._changed()
            self._reserved = self._next_id
        return minted

    # The keeper's side.

    def reserve_with(self, keeper: ReservationKeeper, block: int) -> None:
        """From now on mint only what `keeper` has made durable; reserve `block` ids ahead."""
        self._keeper = keeper
        self._durable = self._next_id  # nothing beyond what is minted is known durable yet
        self.extend_reservation(block)

    def release_reservation(self) -> None:
        """Give back the ids reserved and not minted (the next snapshot records `next_id`), for a
        final save: every later mint asks the keeper again, which may refuse."""
        with self._reservation_lock:
            self._durable = self._renew_at = self._next_id
            self._set_reserved(self._next_id)

    def extend_reservation(self, block: int) -> None:
        """Reserve up to `next_id + block` (never less than already reserved): the next
        snapshot records it."""
        check_int(block, 1, U64_MAX, "block")
        with self._reservation_lock:
            self._set_reserved(max(self._reserved, min(self._next_id + block, U64_MAX)))
            self._renew_at = self._reserved - max(1, (self._reserved - self._next_id) // 2)

    def confirm_durable(self, saved_next_id: int) -> None:
        """A snapshot recording `saved_next_id` is durable: ids below it may be minted. Called
        by the keeper, possibly from its writer thread. Never beyond the current reservation:
        one released since that snapshot was taken stays released."""
        with self._reservation_lock:
            if self._keeper is not None:
                self._durable = max(self._durable, min(saved_next_id, self._reserved))

    def can_mint_durably(self) -> bool:
        """Whether `mint` can hand out an id without waiting for a save."""
        return self._next_id < self._durable

    def _set_reserved(self, reserved: int) -> None:
        if reserved != self._reserved:
            self._changed()
            self._reserved = reserved
