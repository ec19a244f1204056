"""`decode_delta`: bytes to a `SnapshotDelta`, treating every input as hostile like `decode`.

The steps are `decode`'s (size limit, the envelope's version read by hand and gated before the
body is parsed, the structure pass, unpacking into plain tuples), with the same bounds. Each
payload is then built by the very builder `decode` uses for that field of a snapshot body
(`body_builder`, `execution_builder`), so a value is valid in a delta exactly when it would
be valid at that field of a snapshot; its error path is moved from the snapshot's field to
the payload's place in the delta. What a change means beyond its values (a patch's keys, the
states' order) is checked by the `SnapshotDelta` record itself, its complaint likewise moved to
the bytes. Only `SnapshotError` subclasses escape (docs/FORMAT.md §12).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from snapshot_schema import body_builder as body
from snapshot_schema import body_walk as walk
from snapshot_schema import execution_builder as execution
from snapshot_schema.byte_view import byte_view
from snapshot_schema.checks import Path, check_multihash, check_u32
from snapshot_schema.column_checks import PeerColumns
from snapshot_schema.decoder import DEFAULT_MAX_SNAPSHOT_SIZE, input_size, read_version, unpack_body
from snapshot_schema.delta_encoder import OP_PATCH, OP_REPLACE, OP_SPLICE
from snapshot_schema.delta_records import (
    DELTA_SPEC_VERSION,
    FIELDS_BY_ID,
    Change,
    DeltaField,
    FieldKind,
    Patch,
    Replace,
    SnapshotDelta,
    Splice,
    StateRef,
)
from snapshot_schema.errors import (
    IncompatibleDeltaVersion,
    IncompatibleSnapshotVersion,
    SnapshotDecodeError,
    SnapshotValueError,
)
from snapshot_schema.framework_records import ClockReading, check_failure_threshold
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.gc_pause import gc_paused
from snapshot_schema.version import CURRENT_SNAPSHOT_SPEC_VERSION

Build = Callable[[Any, Path, PeerColumns], Any]
"""Builds a field's value from its plain msgpack form, as `decode` builds that field of a
snapshot body: `build(raw, path of the field in the body, the peer-column test)`."""

# `decode`'s builder of each field. The execution builders name their field's path themselves
# (it is the same), and those that own a list of the body's fields get a list of one.
_VALUE_BUILDERS: dict[str, Build] = {
    "frontier": lambda raw, _path, _peers: execution.frontier(raw),
    "slot_table": lambda raw, _path, _peers: execution.slot_table(raw),
    "pending_async": lambda raw, _path, _peers: execution.pending_async([raw], 0),
    "execution_state": lambda raw, _path, _peers: execution.execution_state([raw], 0),
    "counters": lambda raw, path, _peers: body.build_counters(raw, path),
    "fired_phases": lambda raw, path, _peers: body.build_fired_phases(raw, path),
    "address_book": body.build_address_book,
    "blocklist": lambda raw, path, _peers: body.build_peer_set(raw, path),
    "allowlist": lambda raw, path, _peers: None if raw is None else body.build_peer_set(raw, path),
    "health": body.build_health,
    "failure_threshold": lambda raw, path, _peers: walk.checked(check_failure_threshold, raw, path),
    "ip_allow": lambda raw, path, _peers: body.build_networks(raw, path),
    "ip_deny": lambda raw, path, _peers: body.build_networks(raw, path),
    "backoff_table": body.build_backoff_table,
    "pending_outbound": lambda raw, path, _peers: body.build_pending_outbound(raw, path),
    "peer_id_bytes": lambda raw, path, _peers: walk.checked(check_multihash, raw, path),
    "next_command_id": lambda raw, path, _peers: walk.u64(raw, path),
    "next_exec_id": lambda raw, path, _peers: walk.u64(raw, path),
    "peer_records": body.build_peer_records,
    "extensions": lambda raw, path, _peers: body.build_extensions(raw, path),
    "bus": lambda raw, _path, _peers: execution.bus(raw),
    "ingress": lambda raw, _path, _peers: execution.ingress([raw], 0),
    "wire_states": lambda raw, _path, _peers: execution.wire_states(raw),
    "pending_completions": lambda raw, _path, _peers: execution.pending_completions([raw], 0),
}


def _build(field: DeltaField, raw: object, where: Path, peers: PeerColumns) -> Any:  # noqa: ANN401 - the field's value
    """`raw` built as `decode` builds `field` in a snapshot body; an error is reported at
    `where` (the payload's place in the delta) instead of at the field's place in a body."""
    try:
        return _VALUE_BUILDERS[field.name](raw, field.path, peers)
    except SnapshotDecodeError as error:  # located from the body, at `field.path` and below
        raise SnapshotDecodeError(error.reason, (*where, *error.path[len(field.path) :])) from None


def _patch(field: DeltaField, raw: object, where: Path, peers: PeerColumns) -> Patch:
    removed, upserted = walk.array(raw, where, 2)
    # What a patch means beyond its values (keys valid and ascending, none also upserted, a
    # table's rows in peer order) the record checks when the delta is built (`_build_delta`).
    return Patch(
        walk.array(removed, (*where, "removed")),
        _build(field, upserted, (*where, "upserted"), peers),
    )


def _splice(field: DeltaField, raw: object, where: Path, peers: PeerColumns) -> Splice:
    drop_front, keep, appended = walk.array(raw, where, 3)
    return Splice(
        walk.u64(drop_front, (*where, "drop_front")),
        walk.u64(keep, (*where, "keep")),
        _build(field, appended, (*where, "appended"), peers),
    )


def _replace(field: DeltaField, raw: object, where: Path, peers: PeerColumns) -> Replace:
    return Replace(_build(field, raw, where, peers))


_OPS: dict[int, Callable[[DeltaField, object, Path, PeerColumns], Change]] = {
    OP_REPLACE: _replace,
    OP_PATCH: _patch,
    OP_SPLICE: _splice,
}
_OP_NAMES = {OP_REPLACE: "replaced", OP_PATCH: "patched", OP_SPLICE: "spliced"}
ALLOWED_OPS: dict[FieldKind, frozenset[int]] = {
    FieldKind.VALUE: frozenset({OP_REPLACE}),
    FieldKind.SEQUENCE: frozenset({OP_REPLACE, OP_SPLICE}),
    FieldKind.MAP: frozenset({OP_REPLACE, OP_PATCH}),
    FieldKind.SET: frozenset({OP_REPLACE, OP_PATCH}),
    FieldKind.OPTIONAL_SET: frozenset({OP_REPLACE, OP_PATCH}),
    FieldKind.TABLE: frozenset({OP_REPLACE, OP_PATCH}),
}
"""The ops each kind of field takes (the records allow the same change classes)."""


def _changes(raw: object) -> FrozenMap[str, Change]:
    entries = walk.array(raw, ("changes",))
    peers = PeerColumns()
    changes: dict[str, Change] = {}
    previous = 0
    for index, entry in enumerate(entries):
        where = ("changes", index)
        field_id, op, payload = walk.array(entry, where, 3)
        field = FIELDS_BY_ID.get(field_id) if type(field_id) is int else None
        if field is None:
            raise SnapshotDecodeError(f"unknown field id {field_id!r}", (*where, "field_id"))
        if field.id <= previous:
            raise SnapshotDecodeError(
                "field ids must be unique and in ascending order", (*where, "field_id")
            )
        previous = field.id
        if type(op) is not int or op not in _OPS:
            raise SnapshotDecodeError(f"unknown op {op!r}", (*where, "op"))
        if op not in ALLOWED_OPS[field.kind]:
            raise SnapshotDecodeError(
                f"`{field.name}` (a {field.kind.value} field) cannot be {_OP_NAMES[op]}",
                (*where, "op"),
            )
        changes[field.name] = _OPS[op](field, payload, (*where, "payload"), peers)
    return FrozenMap(changes)


def _state_ref(raw: object, path: Path) -> StateRef:
    return walk.construct(StateRef, walk.array(raw, path, 3), path)


def _snapshot_spec_version(raw: object) -> int:
    """The snapshot spec version the payloads are laid out for: this build reads its own."""
    version = cast(int, walk.checked(check_u32, raw, ("snapshot_spec_version",)))
    if version != CURRENT_SNAPSHOT_SPEC_VERSION:
        raise IncompatibleSnapshotVersion(
            version, CURRENT_SNAPSHOT_SPEC_VERSION, "a delta's payloads are laid out for it"
        )
    return version


def _wire_path(path: Path, changes: FrozenMap[str, Change]) -> Path:
    """Where a record's complaint about a change sits in the bytes: the record names a change
    by its field (`("changes", "counters", "removed", 1)`), the bytes by its position
    (`("changes", 4, "payload", "removed", 1)`); a replacement's value is the payload itself."""
    if len(path) < 2 or path[0] != "changes" or path[1] not in changes:
        return path
    index = list(changes).index(cast(str, path[1]))
    if len(path) == 2:
        return ("changes", index)
    inner = path[3:] if path[2] == "value" else path[2:]
    return ("changes", index, "payload", *inner)


def _build_delta(raw: object) -> SnapshotDelta:
    """The `SnapshotDelta` a decoded body (`[snapshot_spec_version, base, target, taken_at,
    changes]`, plain msgpack values) describes; `SnapshotDecodeError` if it is invalid."""
    version_raw, base_raw, target_raw, taken_at_raw, changes_raw = walk.array(raw, (), 5)
    version = _snapshot_spec_version(version_raw)
    base = _state_ref(base_raw, ("base",))
    target = _state_ref(target_raw, ("target",))
    taken_at = walk.construct(
        ClockReading, walk.array(taken_at_raw, ("taken_at",), 2), ("taken_at",)
    )
    changes = _changes(changes_raw)
    try:
        return SnapshotDelta(
            base=base,
            target=target,
            taken_at=taken_at,
            changes=changes,
            snapshot_spec_version=version,
        )
    except SnapshotValueError as error:  # states out of step, or a patch's keys (see `_patch`)
        raise SnapshotDecodeError(error.reason, _wire_path(error.path, changes)) from None


def decode_delta(
    data: bytes | bytearray | memoryview, *, max_size: int = DEFAULT_MAX_SNAPSHOT_SIZE
) -> SnapshotDelta:
    """The delta encoded in `data` (docs/FORMAT.md §12).

    Raises `IncompatibleDeltaVersion` for a delta spec version other than this build's (before
    any of the body is parsed), `IncompatibleSnapshotVersion` for payloads of another snapshot
    spec version, and `SnapshotDecodeError`, with the path to the offending value, for anything
    else that is not a valid delta.
    """
    size = input_size(data)
    if size > max_size:
        raise SnapshotDecodeError(f"input of {size} bytes exceeds the {max_size}-byte limit")
    view = byte_view(data)
    found, body_offset = read_version(view, "delta")
    if found != DELTA_SPEC_VERSION:
        raise IncompatibleDeltaVersion(found, DELTA_SPEC_VERSION)
    with gc_paused():
        return _build_delta(unpack_body(view[body_offset:], "delta"))


def delta_spec_version_of(data: bytes | bytearray | memoryview) -> int | None:
    """The delta spec version an encoded delta is stamped with (`None` for an unstamped one),
    read without parsing the body. Raises `SnapshotDecodeError` if `data` has no envelope or
    its version is no u32."""
    input_size(data)
    return read_version(byte_view(data), "delta")[0]
