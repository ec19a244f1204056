"""Argument checks shared by the runtime components; each raises `ComponentValueError`, or for an
argument of the wrong type its subclass `ComponentTypeError` (also a `TypeError`).

A component refuses, where a value enters, anything a snapshot could not hold: `Node.snapshot()`
builds its records without checking them again, and `encode` would fail on them on the
checkpointer's writer thread, long after the call that let them in. So the checks below run the
snapshot schema's own field checks wherever one exists, and the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from node_runtime.component_errors import ComponentTypeError, ComponentValueError
from node_runtime.multiaddr import Multiaddr
from node_runtime.peer_id import PeerId
from snapshot_schema import checks, peer_record_checks
from snapshot_schema.checks import U64_MAX
from snapshot_schema.errors import PathElement, SnapshotValueError
from snapshot_schema.multihash import is_multihash


def _schema_check(
    check: Callable[[object, tuple[PathElement, ...]], None],
    value: object,
    path: tuple[PathElement, ...],
) -> None:
    """Run a `snapshot_schema.checks` function, its refusal as a `ComponentValueError`."""
    try:
        check(value, path)
    except SnapshotValueError as error:
        raise ComponentValueError(error.reason, error.path) from None


def _wrong_type(expected: str, value: object, path: tuple[PathElement, ...]) -> ComponentTypeError:
    return ComponentTypeError(f"expected {expected}, got `{type(value).__name__}`", path)


def check_int(value: int, low: int, high: int, *path: PathElement) -> int:
    """`value` itself when it is an `int` (not a `bool`, not a float) in `low..high`."""
    if type(value) is not int:
        raise _wrong_type("an integer", value, path)
    if not low <= value <= high:
        raise ComponentValueError(f"expected an integer in {low}..{high}, got {value!r}", path)
    return value


def check_ns(value: int, *path: PathElement) -> int:
    """A monotonic time or duration in nanoseconds: a u64, as snapshots store it."""
    return check_int(value, 0, U64_MAX, *path)


def check_name(value: str, *path: PathElement) -> str:
    """A counter, phase or event-kind name: a non-empty `str` that UTF-8 can encode."""
    if type(value) is not str:
        raise _wrong_type("`str`", value, path)
    _schema_check(checks.check_name, value, path)
    return value


def check_extension_name(value: str, *path: PathElement) -> str:
    """An extension namespace: 1-128 characters of `[a-z0-9._/-]`."""
    if type(value) is not str:
        raise _wrong_type("`str`", value, path)
    _schema_check(peer_record_checks.check_extension_name, value, path)
    return value


def check_nonempty_bytes(value: bytes, *path: PathElement) -> bytes:
    """Exactly `bytes` (a `bytearray` could still be changed by its owner), not empty."""
    if type(value) is not bytes:
        raise _wrong_type("`bytes`", value, path)
    _schema_check(checks.check_nonempty_bytes, value, path)
    return value


def check_peer_key(value: bytes | PeerId, *path: PathElement) -> bytes:
    """The key of a peer entering a table: a `PeerId`'s bytes, or canonical PeerId bytes (a
    well-formed multihash), checked so every table holds only what a snapshot can store and
    snapshotting need not check again."""
    if type(value) is not bytes:  # bytes first: restore checks every table's keys this way
        if type(value) is PeerId:
            return value.to_bytes()
        raise _wrong_type("a `PeerId` or its bytes", value, path)
    if not is_multihash(value):  # the fast path of the same structural test
        _schema_check(checks.check_multihash, value, path)
    return value


def peer_key_of(value: bytes | PeerId, *path: PathElement) -> bytes:
    """The key a query looks a peer up by (a `PeerId`'s bytes, or bytes as given: a query
    stores nothing, so malformed bytes are simply not found)."""
    if type(value) is bytes:
        return value
    if type(value) is PeerId:
        return value.to_bytes()
    raise _wrong_type("a `PeerId` or its bytes", value, path)


def check_peer_id(value: PeerId, *path: PathElement) -> bytes:
    """The key of a `PeerId` argument: its canonical bytes (valid, as a `PeerId` checks them)."""
    if type(value) is not PeerId:
        raise _wrong_type("`PeerId`", value, path)
    return value.to_bytes()


Peer = TypeVar("Peer")


def check_peer_list(peers: Iterable[Peer], *path: PathElement) -> Iterable[Peer]:
    """`peers` itself when it is an iterable of peers, not one peer: a `PeerId`, its bytes (which
    would iterate as integers) or a string."""
    if isinstance(peers, bytes | str | PeerId) or not isinstance(peers, Iterable):
        raise _wrong_type("an iterable of peers", peers, path)
    return peers


def check_multiaddr(value: Multiaddr, *path: PathElement) -> bytes:
    """The canonical bytes of a `Multiaddr` argument (valid and non-empty, as a `Multiaddr`
    checks them when built)."""
    if type(value) is not Multiaddr:
        raise _wrong_type("`Multiaddr`", value, path)
    return value.to_bytes()
