"""Envelopes waiting to be sent, first in first out.

Sans-I/O: the node enqueues encoded envelopes and the host takes them to write to the wire. Each
entry says whether it was `redelivered`: an envelope restored from a snapshot may already have
reached its peer before the old process stopped, so it comes back flagged and the host decides
whether to send it again or drop it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice

import attrs

from node_runtime._component_checks import check_int, check_nonempty_bytes
from node_runtime.change_counter import ChangeCounter
from node_runtime.component_errors import ComponentValueError, QueueEmptyError, QueueFullError
from snapshot_schema.checks import U64_MAX


@attrs.frozen
class PendingEnvelope:
    """An encoded envelope and whether it may have been sent already (restored from a snapshot)."""

    envelope: bytes
    redelivered: bool = False


class OutboundQueue(ChangeCounter):
    """A FIFO of envelopes, optionally bounded to `max_len` (1..2**64-1) entries."""

    def __init__(self, max_len: int | None = None) -> None:
        self._max_len = None if max_len is None else check_int(max_len, 1, U64_MAX, "max_len")
        self._entries: deque[PendingEnvelope] = deque()
        self._taken = 0

    @classmethod
    def from_state(cls, entries: Iterable[bytes], max_len: int | None = None) -> OutboundQueue:
        """A queue of these envelopes, in order, each marked `redelivered`.

        Raises `ComponentValueError` for an empty envelope or more entries than `max_len`.
        """
        queue = cls(max_len)
        for index, envelope in enumerate(entries):
            _check_envelope(envelope, "entries", index)
            if index == queue._max_len:
                raise ComponentValueError(
                    f"more entries than the bound of {queue._max_len}", ("entries", index)
                )
            queue._entries.append(PendingEnvelope(envelope, redelivered=True))
        return queue

    @property
    def max_len(self) -> int | None:
        return self._max_len

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> Iterator[PendingEnvelope]:
        """The entries, oldest first."""
        return iter(self._entries)

    def newest(self, count: int) -> list[PendingEnvelope]:
        """The `count` newest entries (all of them if fewer), oldest first; in time
        proportional to `count`, however long the queue."""
        check_int(count, 0, U64_MAX, "count")
        taken = list(islice(reversed(self._entries), count))
        taken.reverse()
        return taken

    @property
    def taken(self) -> int:
        """How many entries `pop` and `drain` have taken from the front since the queue was
        made: with its length, what a delta of the queue needs (it only ever loses entries at
        the front and gains them at the back)."""
        return self._taken

    def enqueue(self, envelope: bytes) -> None:
        """Append `envelope`; refused with `QueueFullError` when the queue is at its bound."""
        _check_envelope(envelope, "envelope")
        if self._max_len is not None and len(self._entries) >= self._max_len:
            raise QueueFullError(f"the outbound queue holds its maximum of {self._max_len}")
        self._changed()
        self._entries.append(PendingEnvelope(envelope))

    def peek(self) -> PendingEnvelope | None:
        """The oldest entry, left in place; `None` when empty."""
        return self._entries[0] if self._entries else None

    def pop(self) -> PendingEnvelope:
        """Remove and return the oldest entry; `QueueEmptyError` when empty."""
        if not self._entries:
            raise QueueEmptyError("the outbound queue is empty")
        self._changed()
        self._taken += 1
        return self._entries.popleft()

    def drain(self, max_n: int | None = None) -> list[PendingEnvelope]:
        """Remove and return up to `max_n` oldest entries (all when `None`), oldest first."""
        count = len(self._entries) if max_n is None else check_int(max_n, 0, U64_MAX, "max_n")
        count = min(count, len(self._entries))
        self._changed()
        self._taken += count
        return [self._entries.popleft() for _ in range(count)]


def _check_envelope(envelope: bytes, *path: str | int) -> None:
    # Snapshots refuse empty envelopes, so one is refused here, where it comes from.
    check_nonempty_bytes(envelope, *path)
