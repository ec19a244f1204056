"""A delta's values checked by the snapshot records themselves, one field at a time.

A replacement, a patch's entries or a splice's appended elements are valid exactly when the
record that owns the field would hold them: `held_value` builds that record (everything else
left at its default) with the value at the field, so every rule, converter and error message
is the snapshot's own, and there is no second copy of them to drift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from snapshot_schema.checks import (
    Path,
    check_multihash,
    check_name,
    check_pair,
    check_u32,
    check_u64,
)
from snapshot_schema.errors import SnapshotValueError
from snapshot_schema.framework_records import ClockReading, FrameworkSnapshot, PeerGovernorSnapshot
from snapshot_schema.peer_record_checks import check_extension_name
from snapshot_schema.transient import TransientSnapshot

_STAND_IN_PEER = bytes.fromhex("1220") + bytes(32)
_STAND_IN_CLOCK = ClockReading(monotonic_ns=0, wall_ns=0)
_STAND_IN_FRAMEWORK = FrameworkSnapshot(peer_id_bytes=_STAND_IN_PEER)


def _transient(name: str, value: Any) -> object:  # noqa: ANN401 - checked by the record
    snapshot = TransientSnapshot(
        taken_at=_STAND_IN_CLOCK, framework=_STAND_IN_FRAMEWORK, **{name: value}
    )
    return getattr(snapshot, name)


def _framework(name: str, value: Any) -> object:  # noqa: ANN401 - checked by the record
    fields: dict[str, Any] = {"peer_id_bytes": _STAND_IN_PEER, name: value}
    return getattr(FrameworkSnapshot(**fields), name)


def _governor(name: str, value: Any) -> object:  # noqa: ANN401 - checked by the record
    return getattr(PeerGovernorSnapshot(**{name: value}), name)


_OWNERS: dict[tuple[str, ...], Callable[[str, Any], object]] = {
    (): _transient,
    ("framework",): _framework,
    ("framework", "peer_governor"): _governor,
}


def held_value(field_path: tuple[str, ...], value: object, path: Path) -> Any:  # noqa: ANN401 - the field's type
    """`value` as the snapshot holds the field at `field_path` (lists become tuples, records a
    `RecordTable`, a dict a `FrozenMap`...), checked as a snapshot's field is.

    Raises `SnapshotValueError` located at `path` (plus the place inside the value).
    """
    *owner, name = field_path
    try:
        return _OWNERS[tuple(owner)](name, value)
    except SnapshotValueError as error:
        raise SnapshotValueError(error.reason, (*path, *error.path[1:])) from None
    except TypeError as error:  # an unhashable member of a set or key of a map
        raise SnapshotValueError(str(error), path) from None


def _check_site_exec(value: object, path: Path) -> None:
    check_pair(value, ("node_site_id", check_u64), ("exec_id", check_u64), path)


_MAP_KEY_CHECKS: dict[str, Callable[[Any, Path], None]] = {
    "slot_table": _check_site_exec,
    "pending_async": check_u64,
    "execution_state": check_u64,
    "counters": check_name,
    "extensions": check_extension_name,
    "wire_states": check_u32,
}


def key_check(name: str) -> Callable[[Any, Path], None]:
    """The check of one key of the keyed field `name`: a map's key rule, else (sets and peer
    tables) a PeerId."""
    return _MAP_KEY_CHECKS.get(name, check_multihash)
