"""Build the execution state of a decoded body: frontier, slots, suspended ops, execution
states, bus subscriptions, ingress events, wire states and pending completions.

Each structure is built from its columns (see `structure_builder.py`). Ingress events, pending
completions and the values of `pending_async` and `execution_state` are records: they are built
a column at a time (`unchecked_records`), after the decoded rows they come from are taken out
of the body, so that a body of tiny entries never holds both at once (see `Fields`).
"""

from __future__ import annotations

from itertools import compress

from snapshot_schema import body_walk as walk
from snapshot_schema.checks import check_name, check_u32, check_u64
from snapshot_schema.column_checks import (
    NAMED_PAYLOADS,
    SITE_EXECS,
    U32S,
    U64S,
    Column,
    ColumnTest,
    all_of,
    any_bytes,
    arrays,
    column,
    mapping,
    names,
    optional,
    optional_bytes,
    records,
)
from snapshot_schema.execution_records import (
    INGRESS_TYPES,
    ExecutionStateSnapshot,
    IngressEvent,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    TypedBusSnapshot,
)
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.structure_builder import (
    Fields,
    kept,
    owned_structure,
    plain_mapping,
    record_mapping,
    structure,
    tested,
)
from snapshot_schema.unchecked import unchecked_builder, unchecked_records

_new_bus = unchecked_builder(TypedBusSnapshot)

_NAMED_PAYLOAD_LISTS = arrays(NAMED_PAYLOADS)
_SLOT_TABLE = mapping(SITE_EXECS, optional_bytes)
_PENDING_ASYNC_FIELDS = (U64S, U64S, arrays(U64S), optional(U64S))
_PENDING_ASYNC = mapping(U64S, records(*_PENDING_ASYNC_FIELDS))
_EXECUTION_STATE = mapping(U64S, records(U32S))
_SUBSCRIPTIONS = mapping(names, arrays(U64S, unique=True))
_WIRE_STATES = mapping(U32S, any_bytes)
_COMPLETIONS_FIELDS = (U64S, _NAMED_PAYLOAD_LISTS)
_COMPLETIONS = records(*_COMPLETIONS_FIELDS)

_frontier = kept(SITE_EXECS)
_slot_table = plain_mapping(_SLOT_TABLE)
_pending_async = record_mapping(U64S, PendingAsyncSnapshot, _PENDING_ASYNC_FIELDS)
_execution_state = record_mapping(U64S, ExecutionStateSnapshot, (U32S,))
_subscriptions = plain_mapping(_SUBSCRIPTIONS)
_wire_states = plain_mapping(_WIRE_STATES)


def _completions(fields: Fields, index: int) -> tuple[PendingCompletionSnapshot, ...] | None:
    columns = tested(fields[index], _COMPLETIONS_FIELDS)
    if columns is None:
        return None
    fields[index] = None
    return unchecked_records(PendingCompletionSnapshot, columns, len(columns[0]))


# Each ingress event's fields after its tag, by tag (docs/FORMAT.md §3).
_INGRESS_FIELDS: tuple[tuple[ColumnTest, ...], ...] = (
    (any_bytes,),  # envelope
    (names, names, any_bytes),  # app event
    (names, _NAMED_PAYLOAD_LISTS),  # invoke
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


IngressPlan = tuple[bytes, dict[int, list[Column]]]
"""Every event's tag, and per kind the field columns of its events (in order)."""


def _ingress_plan(events: Column) -> IngressPlan | None:
    """What it takes to build the events as records, if every one is a valid event; else
    `None`."""
    tags = _tags(events)
    if tags is None:
        return None
    kinds = set(tags)
    plan: dict[int, list[Column]] = {}
    for tag in kinds:
        chosen = events if len(kinds) == 1 else tuple(compress(events, tags.translate(_MASKS[tag])))
        columns = _event_fields(chosen, tag)
        if columns is None:
            return None
        plan[tag] = columns
    return tags, plan


def _valid_events(events: Column) -> bool:
    return _ingress_plan(events) is not None


def _ingress(fields: Fields, index: int) -> tuple[IngressEvent, ...] | None:
    """The events as records, built a kind at a time and merged back in their order; `None`
    if one is not a valid event."""
    events = fields[index]
    if not events:
        return ()
    found = _ingress_plan(events)
    if found is None:
        return None
    tags, plan = found
    fields[index] = None
    del events, found
    made = {
        tag: unchecked_records(INGRESS_TYPES[tag], columns, len(columns[0]))
        for tag, columns in plan.items()
    }
    if len(made) == 1:
        return made.popitem()[1]
    # Each event's record is the next one of its kind: the tags pick the kinds in order.
    kind_records = [iter(made.get(tag, ())) for tag in range(len(INGRESS_TYPES))]
    return tuple(map(next, map(kind_records.__getitem__, tags)))


def frontier(raw: object) -> tuple[tuple[int, int], ...]:
    return structure(
        raw,
        ("frontier",),
        _frontier,
        lambda rows, path, start: walk.table(rows, path, walk.site_exec, start),
    )


def slot_table(raw: object) -> FrozenMap[tuple[int, int], bytes | None]:
    return structure(
        raw,
        ("slot_table",),
        _slot_table,
        lambda rows, path, start: walk.pairs(rows, path, walk.site_exec, walk.slot_value, start),
        test=_SLOT_TABLE,
    )


def pending_async(fields: Fields, index: int) -> FrozenMap[int, PendingAsyncSnapshot]:
    return owned_structure(
        fields,
        index,
        ("pending_async",),
        _pending_async,
        lambda rows, path, start: walk.pairs(rows, path, check_u64, walk.pending_async, start),
        test=_PENDING_ASYNC,
    )


def execution_state(fields: Fields, index: int) -> FrozenMap[int, ExecutionStateSnapshot]:
    return owned_structure(
        fields,
        index,
        ("execution_state",),
        _execution_state,
        lambda rows, path, start: walk.pairs(rows, path, check_u64, walk.execution_state, start),
        test=_EXECUTION_STATE,
    )


def bus(raw: object) -> TypedBusSnapshot:
    (subscriptions,) = walk.array(raw, ("bus",), 1)
    return _new_bus(
        structure(
            subscriptions,
            ("bus", "event_subscriptions"),
            _subscriptions,
            lambda rows, path, start: walk.pairs(rows, path, check_name, walk.subscribers, start),
            test=_SUBSCRIPTIONS,
        )
    )


def ingress(fields: Fields, index: int) -> tuple[IngressEvent, ...]:
    return owned_structure(
        fields,
        index,
        ("ingress",),
        _ingress,
        lambda rows, path, start: walk.table(rows, path, walk.ingress_event, start),
        test=_valid_events,
    )


def wire_states(raw: object) -> FrozenMap[int, bytes]:
    return structure(
        raw,
        ("wire_states",),
        _wire_states,
        lambda rows, path, start: walk.pairs(rows, path, check_u32, walk.wire_state, start),
        test=_WIRE_STATES,
    )


def pending_completions(fields: Fields, index: int) -> tuple[PendingCompletionSnapshot, ...]:
    return owned_structure(
        fields,
        index,
        ("pending_completions",),
        _completions,
        lambda rows, path, start: walk.table(rows, path, walk.completion, start),
        test=_COMPLETIONS,
    )
