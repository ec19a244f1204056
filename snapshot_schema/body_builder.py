"""Build a `TransientSnapshot` from a decoded body (plain msgpack values), validating everything.

Small records are built through their constructors, whose checks name the field; errors are
relocated under the path of the value in the body. The per-peer tables can hold 100k rows, so
they are validated inline in one loop each and built unchecked (see `unchecked.py`); a row that
fails the fast test is rebuilt through the constructor only to explain exactly what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, cast

import attrs

from snapshot_schema.checks import (
    U32_MAX,
    U64_MAX,
    check_bytes,
    check_multihash,
    check_name,
    check_optional_bytes,
    check_u32,
    check_u64,
)
from snapshot_schema.errors import PathElement, SnapshotDecodeError, SnapshotValueError
from snapshot_schema.execution_records import (
    INGRESS_TYPES,
    ExecutionStateSnapshot,
    IngressEvent,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    TypedBusSnapshot,
)
from snapshot_schema.framework_records import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    ClockReading,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PendingOutboundEntry,
)
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.multihash import is_multihash
from snapshot_schema.transient import TransientSnapshot
from snapshot_schema.unchecked import unchecked_builder
from snapshot_schema.version import CURRENT_SNAPSHOT_SPEC_VERSION

Path = tuple[PathElement, ...]
T = TypeVar("T")

_WIRE_NAMES = {tuple: "array", bytes: "bin", str: "str", int: "int", bool: "bool", float: "float"}


def _wire_name(value: object) -> str:
    return "nil" if value is None else _WIRE_NAMES.get(type(value), type(value).__name__)


def _relocated(error: SnapshotValueError, path: Path) -> SnapshotDecodeError:
    return SnapshotDecodeError(error.reason, (*path, *error.path))


def _array(raw: object, path: Path, length: int | None = None) -> tuple[Any, ...]:
    if type(raw) is not tuple:
        raise SnapshotDecodeError(f"expected array, got {_wire_name(raw)}", path)
    if length is not None and len(raw) != length:
        raise SnapshotDecodeError(f"expected array of {length} elements, got {len(raw)}", path)
    return raw


def _checked(check: Callable[[Any, Path], None], value: T, path: Path) -> T:
    """`value`, once `check` passes; its complaint as a decode error otherwise."""
    try:
        check(value, path)
    except SnapshotValueError as error:
        raise _relocated(error, ()) from None
    return value


def _construct(cls: Callable[..., T], fields: tuple[Any, ...], path: Path) -> T:
    try:
        return cls(*fields)
    except SnapshotValueError as error:
        raise _relocated(error, path) from None


def _pairs(
    raw: object,
    path: Path,
    key_check: Callable[[Any, Path], None],
    build_value: Callable[[Any, Path], Any],
) -> FrozenMap[Any, Any]:
    """A mapping written as `[key, value]` pairs in strictly ascending key order."""
    items: list[tuple[Any, Any]] = []
    for index, pair in enumerate(_array(raw, path)):
        key, value = _array(pair, (*path, index), 2)
        _checked(key_check, key, (*path, index, "key"))
        if items and not items[-1][0] < key:
            raise SnapshotDecodeError(
                "keys must be unique and in ascending order", (*path, index, "key")
            )
        items.append((key, build_value(value, (*path, index, "value"))))
    return FrozenMap(items)


def _sorted_peer_set(raw: object, path: Path) -> frozenset[bytes]:
    """A set of peer ids written as an array in strictly ascending byte order."""
    peers = _array(raw, path)
    for index, peer in enumerate(peers):
        if not is_multihash(peer):
            _checked(check_multihash, peer, (*path, index))
        if index and not peers[index - 1] < peer:
            raise SnapshotDecodeError(
                "peer ids must be unique and in ascending order", (*path, index)
            )
    return frozenset(peers)


def _explain_row(cls: Callable[..., Any], row: object, arity: int, path: Path) -> NoReturn:
    """Raise the precise error for a table row that failed the fast check."""
    _array(row, path, arity)
    record = _construct(cls, row, path)  # type: ignore[arg-type]  # `_array` proved a tuple
    raise SnapshotDecodeError(f"duplicate peer {record.peer_id!r}", (*path, 0))


_AddressTwin, _Address = unchecked_builder(AddressBookEntrySnapshot)
_HealthTwin, _Health = unchecked_builder(PeerHealthSnapshot)
_BackoffTwin, _Backoff = unchecked_builder(BackoffEntry)
_OutboundTwin, _Outbound = unchecked_builder(PendingOutboundEntry)
_GovernorTwin, _Governor = unchecked_builder(PeerGovernorSnapshot)
_FrameworkTwin, _Framework = unchecked_builder(FrameworkSnapshot)
_TransientTwin, _Transient = unchecked_builder(TransientSnapshot)


def _addresses_valid(addresses: object) -> bool:
    if type(addresses) is not tuple:
        return False
    for address in addresses:
        if type(address) is not bytes or not address:
            return False
    return len(addresses) < 2 or len(set(addresses)) == len(addresses)


# The four peer tables below share one shape: a fast boolean test per row, mirroring the
# record's constructor checks (a property test holds them equal), plus one-row-per-peer.


def _address_book(raw: object, path: Path) -> tuple[AddressBookEntrySnapshot, ...]:
    rows = _array(raw, path)
    out = []
    seen: set[bytes] = set()
    for index, row in enumerate(rows):
        if type(row) is tuple and len(row) == 3:
            peer, addresses, ref_count = row
            if (
                type(peer) is bytes
                and is_multihash(peer)
                and peer not in seen
                and type(ref_count) is int
                and 0 <= ref_count <= U64_MAX
                and _addresses_valid(addresses)
            ):
                entry = _AddressTwin(peer, addresses, ref_count)
                entry.__class__ = _Address
                out.append(entry)
                seen.add(peer)
                continue
        _explain_row(AddressBookEntrySnapshot, row, 3, (*path, index))
    return tuple(out)


def _health(raw: object, path: Path) -> tuple[PeerHealthSnapshot, ...]:
    rows = _array(raw, path)
    out = []
    seen: set[bytes] = set()
    for index, row in enumerate(rows):
        if type(row) is tuple and len(row) == 4:
            peer, failures, last_event, down = row
            if (
                type(peer) is bytes
                and is_multihash(peer)
                and peer not in seen
                and type(failures) is int
                and 0 <= failures <= U32_MAX
                and type(last_event) is int
                and 0 <= last_event <= U64_MAX
                and type(down) is bool
            ):
                entry = _HealthTwin(peer, failures, last_event, down)
                entry.__class__ = _Health
                out.append(entry)
                seen.add(peer)
                continue
        _explain_row(PeerHealthSnapshot, row, 4, (*path, index))
    return tuple(out)


def _backoff_table(raw: object, path: Path) -> tuple[BackoffEntry, ...]:
    rows = _array(raw, path)
    out = []
    seen: set[bytes] = set()
    for index, row in enumerate(rows):
        if type(row) is tuple and len(row) == 4:
            peer, attempts, last_attempt, next_retry = row
            if (
                type(peer) is bytes
                and is_multihash(peer)
                and peer not in seen
                and type(attempts) is int
                and 0 <= attempts <= U32_MAX
                and type(last_attempt) is int
                and type(next_retry) is int
                and 0 <= last_attempt <= next_retry <= U64_MAX
            ):
                entry = _BackoffTwin(peer, attempts, last_attempt, next_retry)
                entry.__class__ = _Backoff
                out.append(entry)
                seen.add(peer)
                continue
        _explain_row(BackoffEntry, row, 4, (*path, index))
    return tuple(out)


def _pending_outbound(raw: object, path: Path) -> tuple[PendingOutboundEntry, ...]:
    rows = _array(raw, path)
    out = []
    for index, row in enumerate(rows):
        if type(row) is tuple and len(row) == 2:
            envelope, redelivered = row
            if type(envelope) is bytes and envelope and type(redelivered) is bool:
                entry = _OutboundTwin(envelope, redelivered)
                entry.__class__ = _Outbound
                out.append(entry)
                continue
        _explain_row(PendingOutboundEntry, row, 2, (*path, index))
    return tuple(out)


def _governor(raw: object, path: Path) -> PeerGovernorSnapshot:
    blocklist, allowlist, health, threshold = _array(raw, path, 4)
    _checked(check_u32, threshold, (*path, "failure_threshold"))
    if threshold == 0:
        raise SnapshotDecodeError(
            "expected a failure threshold of at least 1", (*path, "failure_threshold")
        )
    governor = _GovernorTwin(
        _sorted_peer_set(blocklist, (*path, "blocklist")),
        None if allowlist is None else _sorted_peer_set(allowlist, (*path, "allowlist")),
        _health(health, (*path, "health")),
        threshold,
    )
    governor.__class__ = _Governor
    return governor  # type: ignore[no-any-return]


def _names(raw: object, path: Path) -> tuple[str, ...]:
    names = _array(raw, path)
    for index, name in enumerate(names):
        _checked(check_name, name, (*path, index))
    return names


def _u64(value: object, path: Path) -> int:
    return _checked(check_u64, value, path)  # type: ignore[return-value]


def _u64_key(value: object, path: Path) -> None:
    check_u64(value, path)


def _subscribers(raw: object, path: Path) -> tuple[int, ...]:
    sites = _array(raw, path)
    for index, site in enumerate(sites):
        _u64(site, (*path, index))
    if len(set(sites)) != len(sites):
        raise SnapshotDecodeError("duplicate subscriber id", path)
    return sites


def _framework(raw: object, path: Path) -> FrameworkSnapshot:
    (
        counters,
        fired_phases,
        address_book,
        governor,
        backoff_table,
        pending_outbound,
        peer_id,
        next_command_id,
        next_exec_id,
    ) = _array(raw, path, 9)
    framework = _FrameworkTwin(
        _pairs(counters, (*path, "counters"), check_name, _u64),
        _names(fired_phases, (*path, "fired_phases")),
        _address_book(address_book, (*path, "address_book")),
        _governor(governor, (*path, "peer_governor")),
        _backoff_table(backoff_table, (*path, "backoff_table")),
        _pending_outbound(pending_outbound, (*path, "pending_outbound")),
        _checked(check_multihash, peer_id, (*path, "peer_id_bytes")),
        _u64(next_command_id, (*path, "next_command_id")),
        _u64(next_exec_id, (*path, "next_exec_id")),
        CURRENT_SNAPSHOT_SPEC_VERSION,
    )
    framework.__class__ = _Framework
    return framework  # type: ignore[no-any-return]


def _site_exec(raw: object, path: Path) -> tuple[int, int]:
    site, exec_id = _array(raw, path, 2)
    return _u64(site, (*path, 0)), _u64(exec_id, (*path, 1))


def _site_exec_key(raw: object, path: Path) -> None:
    _site_exec(raw, path)


def _slot_value(raw: object, path: Path) -> bytes | None:
    return _checked(check_optional_bytes, raw, path)  # type: ignore[return-value]


def _wire_state(raw: object, path: Path) -> bytes:
    return _checked(check_bytes, raw, path)  # type: ignore[return-value]


def _ingress_event(raw: object, path: Path) -> IngressEvent:
    event = _array(raw, path)
    tag = event[0] if event else None
    if type(tag) is not int or not 0 <= tag < len(INGRESS_TYPES):
        raise SnapshotDecodeError(f"unknown ingress event tag {tag!r}", (*path, 0))
    cls = INGRESS_TYPES[tag]
    arity = len(attrs.fields(cls))
    if len(event) != arity + 1:
        raise SnapshotDecodeError(
            f"expected {cls.__name__} as an array of {arity + 1} elements, got {len(event)}", path
        )
    return cast(IngressEvent, _construct(cls, event[1:], path))


def _pending_async(raw: object, path: Path) -> PendingAsyncSnapshot:
    return _construct(PendingAsyncSnapshot, _array(raw, path, 4), path)


def _execution_state(raw: object, path: Path) -> ExecutionStateSnapshot:
    return _construct(ExecutionStateSnapshot, _array(raw, path, 1), path)


def _bus(raw: object, path: Path) -> TypedBusSnapshot:
    (subscriptions,) = _array(raw, path, 1)
    return TypedBusSnapshot(
        _pairs(subscriptions, (*path, "event_subscriptions"), check_name, _subscribers)
    )


def _completion(raw: object, path: Path) -> PendingCompletionSnapshot:
    return _construct(PendingCompletionSnapshot, _array(raw, path, 2), path)


def _u32_key(value: object, path: Path) -> None:
    check_u32(value, path)


def _table(raw: object, path: Path, build: Callable[[Any, Path], T]) -> tuple[T, ...]:
    return tuple(build(row, (*path, index)) for index, row in enumerate(_array(raw, path)))


def build_snapshot(body: object) -> TransientSnapshot:
    """The `TransientSnapshot` a decoded body describes; `SnapshotDecodeError` if it is invalid."""
    (
        taken_at,
        frontier,
        slot_table,
        pending_async,
        execution_state,
        framework,
        bus,
        ingress,
        wire_states,
        pending_completions,
    ) = _array(body, (), 10)
    snapshot = _TransientTwin(
        _construct(ClockReading, _array(taken_at, ("taken_at",), 2), ("taken_at",)),
        _table(frontier, ("frontier",), _site_exec),
        _pairs(slot_table, ("slot_table",), _site_exec_key, _slot_value),
        _pairs(pending_async, ("pending_async",), _u64_key, _pending_async),
        _pairs(execution_state, ("execution_state",), _u64_key, _execution_state),
        _framework(framework, ("framework",)),
        _bus(bus, ("bus",)),
        _table(ingress, ("ingress",), _ingress_event),
        _pairs(wire_states, ("wire_states",), _u32_key, _wire_state),
        _table(pending_completions, ("pending_completions",), _completion),
    )
    snapshot.__class__ = _Transient
    return snapshot  # type: ignore[no-any-return]
