"""The exact way to build a body's structures: value by value, through the record constructors.

Slow (a Python call or two per value), but it names the path of the first value that is wrong.
`body_builder` tests each structure a column at a time first and walks it here only when a
column test refuses it, to say why; a structure that passes the walk anyway is built by it, so
a column test that is stricter than the constructors costs time, never a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import attrs

from snapshot_schema.checks import (
    Path,
    check_bytes,
    check_multihash,
    check_name,
    check_optional_bytes,
    check_u64,
)
from snapshot_schema.errors import SnapshotDecodeError, SnapshotValueError
from snapshot_schema.execution_records import (
    INGRESS_TYPES,
    ExecutionStateSnapshot,
    IngressEvent,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    check_subscriber_ids,
)
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.ip_network import IpNetwork
from snapshot_schema.record_table import RecordTable

T = TypeVar("T")

_WIRE_NAMES = {tuple: "array", bytes: "bin", str: "str", int: "int", bool: "bool", float: "float"}


def _wire_name(value: object) -> str:
    return "nil" if value is None else _WIRE_NAMES.get(type(value), type(value).__name__)


def array(raw: object, path: Path, length: int | None = None) -> tuple[Any, ...]:
    """`raw` as an array (of `length` elements, if given)."""
    if type(raw) is not tuple:
        raise SnapshotDecodeError(f"expected array, got {_wire_name(raw)}", path)
    if length is not None and len(raw) != length:
        raise SnapshotDecodeError(f"expected array of {length} elements, got {len(raw)}", path)
    return raw


def checked(check: Callable[[Any, Path], object], value: T, path: Path) -> T:
    """`value`, once `check` passes; its complaint as a decode error otherwise."""
    try:
        check(value, path)
    except SnapshotValueError as error:
        raise SnapshotDecodeError(error.reason, error.path) from None
    return value


def construct(cls: Callable[..., T], fields: tuple[Any, ...], path: Path) -> T:
    """`cls(*fields)`, its complaint relocated under `path` as a decode error."""
    try:
        return cls(*fields)
    except SnapshotValueError as error:
        raise SnapshotDecodeError(error.reason, (*path, *error.path)) from None


def u64(value: object, path: Path) -> int:
    return checked(check_u64, value, path)  # type: ignore[return-value]


def pairs(
    raw: object,
    path: Path,
    key_check: Callable[[Any, Path], object],
    build_value: Callable[[Any, Path], Any],
    start: int = 0,
) -> FrozenMap[Any, Any]:
    """A mapping written as `[key, value]` pairs in strictly ascending key order (`start`: the
    position of the first pair, when `raw` is a window of a longer mapping)."""
    items: list[tuple[Any, Any]] = []
    for index, pair in enumerate(array(raw, path), start):
        key, value = array(pair, (*path, index), 2)
        checked(key_check, key, (*path, index, "key"))
        if items and not items[-1][0] < key:
            raise SnapshotDecodeError(
                "keys must be unique and in ascending order", (*path, index, "key")
            )
        items.append((key, build_value(value, (*path, index, "value"))))
    return FrozenMap(items)


def table(
    raw: object, path: Path, build: Callable[[Any, Path], T], start: int = 0
) -> tuple[T, ...]:
    return tuple(build(row, (*path, index)) for index, row in enumerate(array(raw, path), start))


def sorted_peer_set(raw: object, path: Path, start: int = 0) -> frozenset[bytes]:
    """A set of peer ids written as an array in strictly ascending byte order."""
    peers = array(raw, path)
    for offset, peer in enumerate(peers):
        checked(check_multihash, peer, (*path, start + offset))
        if offset and not peers[offset - 1] < peer:
            raise SnapshotDecodeError(
                "peer ids must be unique and in ascending order", (*path, start + offset)
            )
    return frozenset(peers)


def ip_networks(raw: object, path: Path, start: int = 0) -> tuple[IpNetwork, ...]:
    """IP networks written as `[address, prefix_length]` arrays in strictly ascending order."""
    networks: list[IpNetwork] = []
    for index, row in enumerate(array(raw, path), start):
        where = (*path, index)
        network = construct(IpNetwork, array(row, where, 2), where)
        if networks and not networks[-1] < network:
            raise SnapshotDecodeError("networks must be unique and in ascending order", where)
        networks.append(network)
    return tuple(networks)


def record_table(
    rows: object, path: Path, cls: type[T], arity: int, start: int = 0
) -> RecordTable[T]:
    """A table of `cls` records, one per row; for a keyed table (records with a `peer_id`),
    no peer twice."""
    keyed = "peer_id" in attrs.fields_dict(cls)  # type: ignore[arg-type]
    seen: set[bytes] = set()
    records = []
    for index, row in enumerate(array(rows, path), start):
        where = (*path, index)
        record = construct(cls, array(row, where, arity), where)
        if keyed:
            peer: bytes = record.peer_id  # type: ignore[attr-defined]
            if peer in seen:
                raise duplicate_peer(peer, where)
            seen.add(peer)
        records.append(record)
    return RecordTable.of(cls, records)


def duplicate_peer(peer: bytes, row: Path) -> SnapshotDecodeError:
    """The error for a keyed table's row (at path `row`) whose peer an earlier row has."""
    return SnapshotDecodeError(f"duplicate peer {peer!r}", (*row, "peer_id"))


def names(raw: object, path: Path, start: int = 0) -> tuple[str, ...]:
    values = array(raw, path)
    for index, name in enumerate(values, start):
        checked(check_name, name, (*path, index))
    return values


def subscribers(raw: object, path: Path) -> tuple[int, ...]:
    """A kind's subscriber ids, checked as `TypedBusSnapshot` checks them."""
    return checked(check_subscriber_ids, array(raw, path), path)


def site_exec(raw: object, path: Path) -> tuple[int, int]:
    site, exec_id = array(raw, path, 2)
    return u64(site, (*path, "node_site_id")), u64(exec_id, (*path, "exec_id"))


def slot_value(raw: object, path: Path) -> bytes | None:
    return checked(check_optional_bytes, raw, path)  # type: ignore[return-value]


def wire_state(raw: object, path: Path) -> bytes:
    return checked(check_bytes, raw, path)  # type: ignore[return-value]


def ingress_event(raw: object, path: Path) -> IngressEvent:
    event = array(raw, path)
    tag = event[0] if event else None
    if type(tag) is not int or not 0 <= tag < len(INGRESS_TYPES):
        raise SnapshotDecodeError(f"unknown ingress event tag {tag!r}", (*path, "tag"))
    cls = INGRESS_TYPES[tag]
    arity = len(attrs.fields(cls))
    if len(event) != arity + 1:
        raise SnapshotDecodeError(
            f"expected {cls.__name__} as an array of {arity + 1} elements, got {len(event)}", path
        )
    return cast(IngressEvent, construct(cls, event[1:], path))


def pending_async(raw: object, path: Path) -> PendingAsyncSnapshot:
    return construct(PendingAsyncSnapshot, array(raw, path, 4), path)


def execution_state(raw: object, path: Path) -> ExecutionStateSnapshot:
    return construct(ExecutionStateSnapshot, array(raw, path, 1), path)


def completion(raw: object, path: Path) -> PendingCompletionSnapshot:
    return construct(PendingCompletionSnapshot, array(raw, path, 2), path)
