"""Argument checks shared by the runtime components; each raises `ComponentValueError`."""

from __future__ import annotations

from node_runtime.component_errors import ComponentValueError
from snapshot_schema.checks import U64_MAX
from snapshot_schema.errors import PathElement
from snapshot_schema.multihash import is_multihash, multihash_problem


def check_int(value: int, low: int, high: int, *path: PathElement) -> int:
    """`value` itself when it is an `int` (not a `bool`, not a float) in `low..high`."""
    if type(value) is not int or not low <= value <= high:
        raise ComponentValueError(f"expected an integer in {low}..{high}, got {value!r}", path)
    return value


def check_ns(value: int, *path: PathElement) -> int:
    """A monotonic time or duration in nanoseconds: a u64, as snapshots store it."""
    return check_int(value, 0, U64_MAX, *path)


def check_name(value: str, *path: PathElement) -> str:
    """A non-empty `str`: snapshots refuse empty counter, phase and event-kind names."""
    if type(value) is not str or not value:
        raise ComponentValueError(f"expected a non-empty `str`, got {value!r}", path)
    return value


def check_peer_key(value: bytes, *path: PathElement) -> bytes:
    """Canonical PeerId bytes (a well-formed multihash), checked where a peer enters a table, so
    every table holds only what a snapshot can store and snapshotting need not check again."""
    if not is_multihash(value):
        raise ComponentValueError(multihash_problem(value) or "not a multihash", path)
    return value
