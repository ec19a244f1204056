"""The exceptions the sans-I/O runtime components raise: one base, each subclass also the builtin
a caller would catch. Every refused operation leaves its component unchanged."""

from __future__ import annotations

from collections.abc import Sequence

from snapshot_schema.delta_records import FullSnapshotNeeded
from snapshot_schema.errors import PathElement, SnapshotValueError, render_path


class ComponentError(Exception):
    """Base class of every error a runtime component raises."""


class ComponentValueError(ComponentError, ValueError):
    """An argument or a restored state value outside its domain.

    `path` locates the value: its first element names the argument (`("now_ns",)`), and for
    restored state it continues into the entries (`("entries", 3, "attempts")`), so a restore can
    prefix it with where those entries sit in a snapshot. `reason` says what was expected.
    """

    def __init__(self, reason: str, path: Sequence[PathElement] = ()) -> None:
        self.reason = reason
        self.path: tuple[PathElement, ...] = tuple(path)
        super().__init__(f"{reason} - at `{render_path(self.path)}`")

    def __reduce__(self) -> tuple[type[ComponentValueError], tuple[str, tuple[PathElement, ...]]]:
        return (type(self), (self.reason, self.path))


class ComponentTypeError(ComponentValueError, TypeError):
    """An argument of the wrong type (a `str` where a `PeerId` goes, a `bool` or a float where
    an integer goes): a `TypeError`, and a `ComponentValueError` with the argument's `path`."""

    def __reduce__(self) -> tuple[type[ComponentTypeError], tuple[str, tuple[PathElement, ...]]]:
        return (type(self), (self.reason, self.path))


class RestoreValueError(ComponentValueError, SnapshotValueError):
    """A snapshot holding state a component refuses, raised by `Node.restore`: an address that
    is not a valid multiaddr, more addresses per peer than the book keeps, more queued envelopes
    than `max_outbound`. Also a `SnapshotError`, so restoring untrusted bytes fails with the
    same family of errors as decoding them; `path` locates the value from the snapshot root."""

    def __init__(self, reason: str, path: Sequence[PathElement] = ()) -> None:
        # Both bases set `reason` and `path` the same way; chaining through both `__init__`s
        # would hand the second one the rendered message as its `reason`.
        SnapshotValueError.__init__(self, reason, path)

    def __reduce__(self) -> tuple[type[RestoreValueError], tuple[str, tuple[PathElement, ...]]]:
        return (type(self), (self.reason, self.path))


class IdExhaustedError(ComponentError, OverflowError):
    """An id allocator has handed out every id it can: minting another would wrap."""


class IdsNotDurableError(ComponentError, RuntimeError):
    """Autosave could not make an id reservation durable in time (the store fails or is too
    slow, or the checkpointer is closed): minting the id could let a restored node mint it
    again, so it is refused. The store's error, if any, is the `__cause__`; a later mint
    tries again."""


class SaveMarkError(ComponentError, FullSnapshotNeeded):
    """`Node.take_delta` cannot give the changes from the state its caller names: no state was
    marked saved, or the caller names another state than the one the node counts from; or
    `Node.mark_saved` came after the node changed since its latest snapshot. Save a full
    snapshot and mark it (`snapshot()`, then `mark_saved()`)."""


class QueueFullError(ComponentError, OverflowError):
    """A bounded queue is at its maximum length."""


class QueueEmptyError(ComponentError, IndexError):
    """Taking from an empty queue (an `IndexError`, as for `deque.popleft`)."""


class NoAllowlistError(ComponentError, RuntimeError):
    """Editing the allowlist while there is none (open policy): set one first."""


class RefCountUnderflowError(ComponentError, ValueError):
    """A reference released that was never retained: counts never go below zero."""


class RefCountOverflowError(ComponentError, OverflowError):
    """A reference count already at its maximum (2**64-1, a u64 as snapshots store it)."""


class AddressLimitError(ComponentError, OverflowError):
    """A peer already holds the maximum number of addresses."""


class ExtensionLimitError(ComponentError, OverflowError):
    """Extension values would hold more bytes together than their table allows."""


class PeerRecordLimitError(ComponentError, OverflowError):
    """A peer record would pass one of its book's limits (`PeerRecordLimits`): too many
    protocols or metadata entries, or a protocol ID, metadata key or value, or signed record
    too large."""
