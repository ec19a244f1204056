"""Build a `TransientSnapshot` from a decoded body (plain msgpack values), validating everything.

Small records are built through their constructors, whose checks name the field; errors are
relocated under the path of the value in the body. The per-peer tables can hold 100k rows, so
they are validated a column at a time and kept as their rows in a `RecordTable`, which builds a
record only when one is asked for (see `record_table.py`); a table that fails the fast test is
walked through the constructors only to explain exactly what is wrong.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection
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
from snapshot_schema.multihash import SINGLE_BYTE_CODES, is_multihash
from snapshot_schema.record_table import RecordTable
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


def _checked(check: Callable[[Any, Path], object], value: T, path: Path) -> T:
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
    key_check: Callable[[Any, Path], object],
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


_new_governor = unchecked_builder(PeerGovernorSnapshot)
_new_framework = unchecked_builder(FrameworkSnapshot)
_new_transient = unchecked_builder(TransientSnapshot)


def _addresses_valid(addresses: object) -> bool:
    if type(addresses) is not tuple:
        return False
    for address in addresses:
        if type(address) is not bytes or not address:
            return False
    count = len(addresses)
    if count == 2:
        return bool(addresses[0] != addresses[1])
    return count < 2 or len(set(addresses)) == count


# The per-peer tables are checked a column at a time with C-level builtins (`map`, `set`,
# `min`, `max`), which costs a fraction of a Python-level test per row. The column tests mirror
# the records' constructor checks; a property test holds the two equal. When a table fails,
# `_explain_table` walks it row by row through the constructors to say exactly where and why.

Column = tuple[Any, ...]
ColumnTest = Callable[[Column], bool]


class _PeerColumns:
    """Checks peer-id columns, each distinct peer once: the same peers recur across tables."""

    def __init__(self) -> None:
        self._valid: set[bytes] = set()

    def __call__(self, column: Column) -> bool:
        distinct = set(column)
        if len(distinct) != len(column):
            return False  # a peer appears twice
        if self._valid.issuperset(column):  # in column order, like `_all_multihashes` below
            return True
        unseen = distinct - self._valid
        # All new (the first table): test them in column order, which reads memory in order
        # and runs about twice as fast as walking the set in hash order.
        if not _all_multihashes(column if len(unseen) == len(column) else unseen):
            return False
        self._valid |= unseen
        return True


_first_byte = operator.itemgetter(0)
_second_byte = operator.itemgetter(1)


def _all_multihashes(peers: Collection[Any]) -> bool:
    """`is_multihash` for every peer, its fast path a column at a time for 100k PeerIds.

    That path holds for bytes whose first byte is a one-byte multihash code and whose second,
    the digest length, is one byte and the size minus two: a few passes of `map` test it for
    every peer at C speed instead of 100k Python calls.
    """
    if not peers:
        return True
    if set(map(type, peers)) == {bytes}:
        sizes = set(map(len, peers))
        if (
            min(sizes) >= 2
            and max(sizes) < 0x82  # the length byte, size - 2, is below 0x80: a one-byte varint
            and set(map(operator.sub, map(len, peers), map(_second_byte, peers))) == {2}
            and set(map(_first_byte, peers)) <= SINGLE_BYTE_CODES
        ):
            return True
    return all(map(is_multihash, peers))


def _uints(maximum: int) -> ColumnTest:
    def test(column: Column) -> bool:
        return bool(set(map(type, column)) == {int} and min(column) >= 0 and max(column) <= maximum)

    return test


def _nonempty_bytes(column: Column) -> bool:
    return set(map(type, column)) == {bytes} and all(column)


def _bools(column: Column) -> bool:
    return set(map(type, column)) == {bool}


def _address_lists(column: Column) -> bool:
    return all(map(_addresses_valid, column))


def _retry_after_attempt(columns: tuple[Column, ...]) -> bool:
    return all(map(operator.le, columns[2], columns[3]))


def _explain_table(rows: tuple[Any, ...], path: Path, cls: type[Any], arity: int) -> NoReturn:
    seen: set[bytes] = set()
    for index, row in enumerate(rows):
        where = (*path, index)
        record = _construct(cls, _array(row, where, arity), where)
        peer = getattr(record, "peer_id", None)
        if peer in seen:
            raise SnapshotDecodeError(f"duplicate peer {peer!r}", (*where, "peer_id"))
        seen.add(peer)  # type: ignore[arg-type]  # None only for tables without peers
    raise SnapshotDecodeError("invalid table", path)  # unreachable while the tests agree


def _fast_table(
    raw: object,
    path: Path,
    cls: type[T],
    column_tests: tuple[ColumnTest, ...],
    row_test: Callable[[tuple[Column, ...]], bool] | None = None,
) -> RecordTable[T]:
    rows = _array(raw, path)
    if not rows:
        return RecordTable.trusted(cls, ())
    arity = len(column_tests)
    if set(map(type, rows)) == {tuple} and set(map(len, rows)) == {arity}:
        # A pass per column reads the rows in memory order: faster than `zip(*rows)`.
        columns = tuple(tuple(map(operator.itemgetter(index), rows)) for index in range(arity))
        if all(test(column) for test, column in zip(column_tests, columns, strict=True)) and (
            row_test is None or row_test(columns)
        ):
            # The table keeps the validated rows; records are built only when asked for.
            return RecordTable.trusted(cls, rows)
    _explain_table(rows, path, cls, arity)


_U32S = _uints(U32_MAX)
_U64S = _uints(U64_MAX)


def _governor(raw: object, path: Path, peers: _PeerColumns) -> PeerGovernorSnapshot:
    blocklist, allowlist, health, threshold = _array(raw, path, 4)
    _checked(check_u32, threshold, (*path, "failure_threshold"))
    if threshold == 0:
        raise SnapshotDecodeError(
            "expected a failure threshold of at least 1", (*path, "failure_threshold")
        )
    return _new_governor(
        _sorted_peer_set(blocklist, (*path, "blocklist")),
        None if allowlist is None else _sorted_peer_set(allowlist, (*path, "allowlist")),
        _fast_table(health, (*path, "health"), PeerHealthSnapshot, (peers, _U32S, _U64S, _bools)),
        threshold,
    )


def _names(raw: object, path: Path) -> tuple[str, ...]:
    names = _array(raw, path)
    for index, name in enumerate(names):
        _checked(check_name, name, (*path, index))
    return names


def _u64(value: object, path: Path) -> int:
    return _checked(check_u64, value, path)  # type: ignore[return-value]


def _subscribers(raw: object, path: Path) -> tuple[int, ...]:
    sites = _array(raw, path)
    seen: set[int] = set()
    for index, site in enumerate(sites):
        if _u64(site, (*path, index)) in seen:
            raise SnapshotDecodeError(f"duplicate subscriber id {site}", (*path, index))
        seen.add(site)
    return sites


def _framework(*fields: object) -> FrameworkSnapshot:
    """The record from its fields in declared order, all valid, stamped the current version."""
    return _new_framework(*fields, CURRENT_SNAPSHOT_SPEC_VERSION)


def build_framework(raw: object, path: Path = ("framework",)) -> FrameworkSnapshot:
    """A `FrameworkSnapshot` from its plain layout (docs/FORMAT.md §3), fully validated.

    The fast way for a producer holding large tables to build the record: rows are checked a
    column at a time instead of through each record's constructor. Raises
    `SnapshotDecodeError` with the path of the first invalid value.

    The tables keep the given rows for `encode` to pack as they are. That is sound because
    passing every check below makes them canonical and immutable: exact tuples (which msgpack
    packs as arrays, like the encoder's lists) of exact `bytes`/`str`/`int`/`bool` leaves, in
    the order the records keep.
    """
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
    peers = _PeerColumns()
    return _framework(
        _pairs(counters, (*path, "counters"), check_name, _u64),
        _names(fired_phases, (*path, "fired_phases")),
        _fast_table(
            address_book,
            (*path, "address_book"),
            AddressBookEntrySnapshot,
            (peers, _address_lists, _U64S),
        ),
        _governor(governor, (*path, "peer_governor"), peers),
        _fast_table(
            backoff_table,
            (*path, "backoff_table"),
            BackoffEntry,
            (peers, _U32S, _U64S, _U64S),
            _retry_after_attempt,
        ),
        _fast_table(
            pending_outbound,
            (*path, "pending_outbound"),
            PendingOutboundEntry,
            (_nonempty_bytes, _bools),
        ),
        _checked(check_multihash, peer_id, (*path, "peer_id_bytes")),
        _u64(next_command_id, (*path, "next_command_id")),
        _u64(next_exec_id, (*path, "next_exec_id")),
    )


def build_framework_trusted(layout: tuple[Any, ...]) -> FrameworkSnapshot:
    """A `FrameworkSnapshot` from a plain layout that is valid *by construction*, unchecked.

    For producers whose own invariants already guarantee every rule `build_framework` checks:
    `node_runtime`'s components refuse invalid values where they enter and `Node.snapshot()`
    sorts its tables, so checking 100k rows again on every snapshot would only cost time (about
    half of `snapshot()` at 100k peers). The layout must be exactly what `build_framework`
    accepts: exact tuples, types and ranges, maps and sets strictly ascending. Given anything
    else, the record breaks its own type promises and `encode` writes bytes `decode` refuses;
    when in doubt, use `build_framework`.
    """
    (
        counters,
        fired_phases,
        address_book,
        (blocklist, allowlist, health, failure_threshold),
        backoff_table,
        pending_outbound,
        peer_id,
        next_command_id,
        next_exec_id,
    ) = layout
    return _framework(
        FrozenMap(counters),
        fired_phases,
        RecordTable.trusted(AddressBookEntrySnapshot, address_book),
        _new_governor(
            frozenset(blocklist),
            None if allowlist is None else frozenset(allowlist),
            RecordTable.trusted(PeerHealthSnapshot, health),
            failure_threshold,
        ),
        RecordTable.trusted(BackoffEntry, backoff_table),
        RecordTable.trusted(PendingOutboundEntry, pending_outbound),
        peer_id,
        next_command_id,
        next_exec_id,
    )


def _site_exec(raw: object, path: Path) -> tuple[int, int]:
    site, exec_id = _array(raw, path, 2)
    return _u64(site, (*path, "node_site_id")), _u64(exec_id, (*path, "exec_id"))


def _slot_value(raw: object, path: Path) -> bytes | None:
    return _checked(check_optional_bytes, raw, path)  # type: ignore[return-value]


def _wire_state(raw: object, path: Path) -> bytes:
    return _checked(check_bytes, raw, path)  # type: ignore[return-value]


def _ingress_event(raw: object, path: Path) -> IngressEvent:
    event = _array(raw, path)
    tag = event[0] if event else None
    if type(tag) is not int or not 0 <= tag < len(INGRESS_TYPES):
        raise SnapshotDecodeError(f"unknown ingress event tag {tag!r}", (*path, "tag"))
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
    return _new_transient(
        _construct(ClockReading, _array(taken_at, ("taken_at",), 2), ("taken_at",)),
        _table(frontier, ("frontier",), _site_exec),
        _pairs(slot_table, ("slot_table",), _site_exec, _slot_value),
        _pairs(pending_async, ("pending_async",), check_u64, _pending_async),
        _pairs(execution_state, ("execution_state",), check_u64, _execution_state),
        build_framework(framework),
        _bus(bus, ("bus",)),
        _table(ingress, ("ingress",), _ingress_event),
        _pairs(wire_states, ("wire_states",), check_u32, _wire_state),
        _table(pending_completions, ("pending_completions",), _completion),
    )
