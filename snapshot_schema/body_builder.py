"""Build a `TransientSnapshot` from a decoded body (plain msgpack values), validating everything.

Decoding must cost about the same per input byte whatever the body's shape: 1 MiB of 3-byte
frontier entries or timer events must not cost many times 1 MiB of peers. So every repeated
structure (the per-peer tables, the mappings, the arrays of names, ids and events) is tested a
column at a time with the C-speed tests of `column_checks.py`, and built with no Python code
per entry: the decoded tuples are kept as they are (frontier, mapping pairs, payload lists),
tables keep their rows in a `RecordTable` (records are built when asked for, see
`record_table.py`) and other records are built a column at a time (`unchecked_records`).
A structure whose column test fails is walked value by value (`body_walk.py`), which names the
exact path of what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress
from operator import itemgetter, le
from typing import Any, TypeVar

from snapshot_schema import body_walk as walk
from snapshot_schema.checks import check_multihash, check_name, check_u32, check_u64
from snapshot_schema.column_checks import (
    SITE_EXECS,
    U32S,
    U64S,
    Column,
    ColumnTest,
    PeerColumns,
    all_multihashes,
    all_of,
    any_bytes,
    arrays,
    bools,
    column,
    failing_window,
    first_repeat,
    mapping,
    names,
    nonempty_bytes,
    optional,
    optional_bytes,
    records,
    rows_of,
    strictly_ascending,
)
from snapshot_schema.errors import PathElement, SnapshotDecodeError
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
from snapshot_schema.record_table import RecordTable
from snapshot_schema.transient import TransientSnapshot
from snapshot_schema.unchecked import unchecked_builder, unchecked_records
from snapshot_schema.version import CURRENT_SNAPSHOT_SPEC_VERSION

Path = tuple[PathElement, ...]
T = TypeVar("T")

_new_governor = unchecked_builder(PeerGovernorSnapshot)
_new_framework = unchecked_builder(FrameworkSnapshot)
_new_transient = unchecked_builder(TransientSnapshot)
_new_bus = unchecked_builder(TypedBusSnapshot)


def _attempt(build: Callable[[], T | None]) -> T | None:
    """`build()`: a structure built from its columns, or `None` if a column test refused it.
    Every fast path goes through here (the tests force the walk by replacing it)."""
    return build()


Walk = Callable[[Any, Path, int], T]
"""Builds a structure value by value, naming the first wrong value: `walk(raw, path, start)`,
where `raw` may be a window of the structure's array that starts at position `start`."""


def _walked(
    raw: object,
    path: Path,
    test: ColumnTest,
    walked: Walk[T],
    across: Callable[[Column, Path], None] | None = None,
) -> T:
    """`raw` built value by value. A long array is first narrowed down with `test` to the
    window that fails it, and that window walked: the walk's cost stays that of one window,
    wherever the fault sits. When no window fails, `across` looks for the faults windows
    cannot show (a peer listed twice far apart). Walked whole if neither finds the fault."""
    if type(raw) is tuple:
        window = failing_window(raw, test)
        if window is not None:
            first, stop = window
            walked(raw[first:stop], path, first)
        elif across is not None:
            across(raw, path)
    return walked(raw, path, 0)


def _structure(
    raw: object,
    path: Path,
    fast: Callable[[Column], T | None],
    walked: Walk[T],
    across: Callable[[Column, Path], None] | None = None,
) -> T:
    """The structure `raw` holds: built by `fast` from its columns, or, when a column test
    refuses it, by `walked`, which names the first value that is wrong."""
    built = _attempt(lambda: fast(raw) if type(raw) is tuple else None)
    if built is not None:
        return built
    return _walked(raw, path, lambda window: fast(window) is not None, walked, across)


Fields = list[Any]
"""A body's fields, owned by the builder: a builder of records may take its field out (set it
to `None`) once it has read the columns it needs. When nothing else references the decoded
body, as in `decode`, its rows are then freed before the records that replace them exist, so a
body of tiny entries never holds both at once."""


def _owned_structure(
    fields: Fields,
    index: int,
    path: Path,
    fast: Callable[[Fields, int], T | None],
    walked: Walk[T],
) -> T:
    """As `_structure`, for `fields[index]`, which `fast` may take out of `fields`."""
    built = _attempt(lambda: fast(fields, index) if type(fields[index]) is tuple else None)
    if built is not None:
        return built
    return _walked(fields[index], path, lambda window: fast([window], 0) is not None, walked)


def _kept(test: ColumnTest) -> Callable[[Column], Column | None]:
    """A fast builder for an array kept as decoded: the array itself, if it passes `test`."""
    return lambda values: values if test(values) else None


def _plain_mapping(
    key_test: ColumnTest, value_test: ColumnTest
) -> Callable[[Column], FrozenMap[Any, Any] | None]:
    """A fast builder for a mapping whose decoded values are kept as they are."""
    test = mapping(key_test, value_test)
    return lambda rows: FrozenMap(rows) if test(rows) else None


def _tested(rows: Column, tests: tuple[ColumnTest, ...]) -> list[Column] | None:
    """The columns of `rows` (tuples of one element per test) if each passes its test, else
    `None`; read once, for the tests and then for building."""
    if not rows_of(rows, len(tests)):
        return None
    columns = []
    for index, test in enumerate(tests):
        values = column(rows, index)
        if not test(values):
            return None
        columns.append(values)
    return columns


def _any(_values: Column) -> bool:
    return True


def _record_mapping(
    key_test: ColumnTest, cls: type[T], field_tests: tuple[ColumnTest, ...]
) -> Callable[[Fields, int], FrozenMap[Any, T] | None]:
    """A fast builder for a mapping whose values are `cls` records."""

    def build(fields: Fields, index: int) -> FrozenMap[Any, T] | None:
        pair = _tested(fields[index], (key_test, _any))
        if pair is None or not strictly_ascending(pair[0]):
            return None
        keys, values = pair
        del pair
        columns = _tested(values, field_tests)
        if columns is None:
            return None
        fields[index] = None  # the rows and `values` are all that held the value tuples
        del values
        return FrozenMap(zip(keys, unchecked_records(cls, columns, len(keys)), strict=True))

    return build


# --- the framework ----------------------------------------------------------------------------


def _retry_after_attempt(rows: Column) -> bool:
    """No backoff row retries before its last attempt (`last_attempt_ns <= next_retry_ns`)."""
    return all(map(le, map(itemgetter(2), rows), map(itemgetter(3), rows)))


def _table(
    raw: object,
    path: Path,
    cls: type[T],
    column_tests: tuple[ColumnTest, ...],
    row_test: Callable[[Column], bool] | None = None,
) -> RecordTable[T]:
    """A table of `cls` records, kept as its validated rows (see `record_table.py`)."""
    test = records(*column_tests)

    def fast(rows: Column) -> RecordTable[T] | None:
        if test(rows) and (row_test is None or row_test(rows)):
            return RecordTable.trusted(cls, rows)
        return None

    keyed = isinstance(column_tests[0], PeerColumns)
    return _structure(
        raw,
        path,
        fast,
        lambda rows, where, start: walk.record_table(rows, where, cls, len(column_tests), start),
        _repeated_peer if keyed else None,
    )


def _repeated_peer(rows: Column, path: Path) -> None:
    """Refuses a keyed table whose rows are valid but for a peer listed twice."""
    repeat = first_repeat(column(rows, 0))
    if repeat is not None:
        raise walk.duplicate_peer(rows[repeat][0], (*path, repeat))


def _sorted_peers(peers: Column) -> frozenset[bytes] | None:
    return frozenset(peers) if all_multihashes(peers) and strictly_ascending(peers) else None


def _peer_set(raw: object, path: Path) -> frozenset[bytes]:
    """A set of PeerIds, written sorted."""
    return _structure(raw, path, _sorted_peers, walk.sorted_peer_set)


def _governor(raw: object, path: Path, peers: PeerColumns) -> PeerGovernorSnapshot:
    blocklist, allowlist, health, threshold = walk.array(raw, path, 4)
    walk.checked(check_u32, threshold, (*path, "failure_threshold"))
    if threshold == 0:
        raise SnapshotDecodeError(
            "expected a failure threshold of at least 1", (*path, "failure_threshold")
        )
    return _new_governor(
        _peer_set(blocklist, (*path, "blocklist")),
        None if allowlist is None else _peer_set(allowlist, (*path, "allowlist")),
        _table(health, (*path, "health"), PeerHealthSnapshot, (peers, U32S, U64S, bools)),
        threshold,
    )


def _framework(*fields: object) -> FrameworkSnapshot:
    """The record from its fields in declared order, all valid, stamped the current version."""
    return _new_framework(*fields, CURRENT_SNAPSHOT_SPEC_VERSION)


_ADDRESS_LISTS = arrays(nonempty_bytes, unique=True)
_counters = _plain_mapping(names, U64S)
_fired_phases = _kept(names)


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
    ) = walk.array(raw, path, 9)
    peers = PeerColumns()
    return _framework(
        _structure(
            counters,
            (*path, "counters"),
            _counters,
            lambda values, where, start: walk.pairs(values, where, check_name, walk.u64, start),
        ),
        _structure(fired_phases, (*path, "fired_phases"), _fired_phases, walk.names),
        _table(
            address_book,
            (*path, "address_book"),
            AddressBookEntrySnapshot,
            (peers, _ADDRESS_LISTS, U64S),
        ),
        _governor(governor, (*path, "peer_governor"), peers),
        _table(
            backoff_table,
            (*path, "backoff_table"),
            BackoffEntry,
            (peers, U32S, U64S, U64S),
            _retry_after_attempt,
        ),
        _table(
            pending_outbound,
            (*path, "pending_outbound"),
            PendingOutboundEntry,
            (nonempty_bytes, bools),
        ),
        walk.checked(check_multihash, peer_id, (*path, "peer_id_bytes")),
        walk.u64(next_command_id, (*path, "next_command_id")),
        walk.u64(next_exec_id, (*path, "next_exec_id")),
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


# --- the execution state -----------------------------------------------------------------------

_NAMED_PAYLOADS = arrays(records(names, any_bytes))
_frontier = _kept(SITE_EXECS)
_slot_table = _plain_mapping(SITE_EXECS, optional_bytes)
_pending_async = _record_mapping(
    U64S, PendingAsyncSnapshot, (U64S, U64S, arrays(U64S), optional(U64S))
)
_execution_state = _record_mapping(U64S, ExecutionStateSnapshot, (U32S,))
_subscriptions = _plain_mapping(names, arrays(U64S, unique=True))
_wire_states = _plain_mapping(U32S, any_bytes)


def _completions(fields: Fields, index: int) -> tuple[PendingCompletionSnapshot, ...] | None:
    columns = _tested(fields[index], (U64S, _NAMED_PAYLOADS))
    if columns is None:
        return None
    fields[index] = None
    return unchecked_records(PendingCompletionSnapshot, columns, len(columns[0]))


# Each ingress event's fields after its tag, by tag (docs/FORMAT.md §3).
_INGRESS_FIELDS: tuple[tuple[ColumnTest, ...], ...] = (
    (any_bytes,),  # envelope
    (names, names, any_bytes),  # app event
    (names, _NAMED_PAYLOADS),  # invoke
    (U64S,),  # timer matured
    (U64S, arrays(any_bytes)),  # completion
)
_TAGS = frozenset(range(len(INGRESS_TYPES)))
# The length of an event of each kind, as a `bytes.translate` table from its tag.
_EVENT_LENGTHS = bytes(len(fields) + 1 for fields in _INGRESS_FIELDS).ljust(256, b"\x00")
# Per tag, a `bytes.translate` table that maps that tag to 1 and every other byte to 0: the
# events of one kind are picked with `compress` over the translated tags, all in C.
_MASKS = tuple(bytes(byte == tag for byte in range(256)) for tag in range(len(INGRESS_TYPES)))


def _tags(events: Column) -> bytes | None:
    """The tag of every event, one byte each, if each event is a tuple that starts with a known
    tag and has the length of its kind (the tag, then the fields); else `None`."""
    if not all_of(events, tuple):
        return None
    try:
        lengths = bytes(map(len, events))
    except ValueError:  # a tuple of 256 elements or more: no event is that long
        return None
    if 0 in lengths:
        return None
    tags = column(events, 0)
    if not (all_of(tags, int) and set(tags) <= _TAGS):
        return None
    tag_bytes = bytes(tags)
    return tag_bytes if lengths == tag_bytes.translate(_EVENT_LENGTHS) else None


def _event_fields(events: Column, tag: int) -> list[Column] | None:
    """The fields after the tag of events of the kind `tag` (each of its length), a column
    each, if they pass their tests; else `None`."""
    columns = []
    for field, test in enumerate(_INGRESS_FIELDS[tag], start=1):
        values = column(events, field)
        if not test(values):
            return None
        columns.append(values)
    return columns


def _ingress(fields: Fields, index: int) -> tuple[IngressEvent, ...] | None:
    """The events as records, built a kind at a time and merged back in their order; `None`
    if one is not a valid event."""
    events = fields[index]
    if not events:
        return ()
    tags = _tags(events)
    if tags is None:
        return None
    kinds = set(tags)
    plan: dict[int, list[Column]] = {}  # kind -> the field columns of its events
    for tag in kinds:
        chosen = events if len(kinds) == 1 else tuple(compress(events, tags.translate(_MASKS[tag])))
        columns = _event_fields(chosen, tag)
        if columns is None:
            return None
        plan[tag] = columns
    fields[index] = None
    del events, chosen
    made = {
        tag: unchecked_records(INGRESS_TYPES[tag], columns, len(columns[0]))
        for tag, columns in plan.items()
    }
    if len(made) == 1:
        return made.popitem()[1]
    # Each event's record is the next one of its kind: the tags pick the kinds in order.
    kind_records = [iter(made.get(tag, ())) for tag in range(len(INGRESS_TYPES))]
    return tuple(map(next, map(kind_records.__getitem__, tags)))


def _bus(raw: object, path: Path) -> TypedBusSnapshot:
    (subscriptions,) = walk.array(raw, path, 1)
    return _new_bus(
        _structure(
            subscriptions,
            (*path, "event_subscriptions"),
            _subscriptions,
            lambda values, where, start: walk.pairs(
                values, where, check_name, walk.subscribers, start
            ),
        )
    )


def build_snapshot(body: object) -> TransientSnapshot:
    """The `TransientSnapshot` a decoded body describes; `SnapshotDecodeError` if it is invalid.

    `body` is the body as msgpack decodes it, or a *list* of its ten fields that nothing else
    references (`decode` passes one): the rows of each structure of records are then freed as
    soon as they are read (see `Fields`).
    """
    fields: Fields = (
        body if type(body) is list and len(body) == 10 else list(walk.array(body, (), 10))
    )
    # Not the record structures (3, 4, 7, 9): a name here would keep their rows alive.
    taken_at, frontier, slot_table = fields[:3]
    framework, bus, wire_states = fields[5], fields[6], fields[8]
    return _new_transient(
        walk.construct(ClockReading, walk.array(taken_at, ("taken_at",), 2), ("taken_at",)),
        _structure(
            frontier,
            ("frontier",),
            _frontier,
            lambda raw, path, start: walk.table(raw, path, walk.site_exec, start),
        ),
        _structure(
            slot_table,
            ("slot_table",),
            _slot_table,
            lambda raw, path, start: walk.pairs(raw, path, walk.site_exec, walk.slot_value, start),
        ),
        _owned_structure(
            fields,
            3,
            ("pending_async",),
            _pending_async,
            lambda raw, path, start: walk.pairs(raw, path, check_u64, walk.pending_async, start),
        ),
        _owned_structure(
            fields,
            4,
            ("execution_state",),
            _execution_state,
            lambda raw, path, start: walk.pairs(raw, path, check_u64, walk.execution_state, start),
        ),
        build_framework(framework),
        _bus(bus, ("bus",)),
        _owned_structure(
            fields,
            7,
            ("ingress",),
            _ingress,
            lambda raw, path, start: walk.table(raw, path, walk.ingress_event, start),
        ),
        _structure(
            wire_states,
            ("wire_states",),
            _wire_states,
            lambda raw, path, start: walk.pairs(raw, path, check_u32, walk.wire_state, start),
        ),
        _owned_structure(
            fields,
            9,
            ("pending_completions",),
            _completions,
            lambda raw, path, start: walk.table(raw, path, walk.completion, start),
        ),
    )
