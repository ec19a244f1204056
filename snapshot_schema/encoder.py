"""`encode`: a `TransientSnapshot` to canonical msgpack bytes (layout in docs/FORMAT.md).

Every record is an array of its fields in declared order; every mapping and set is an array
sorted by key, so equal snapshots always give identical bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import msgpack

from snapshot_schema.execution_records import (
    AppEventIngress,
    CompletionIngress,
    EnvelopeIngress,
    ExecutionStateSnapshot,
    IngressEvent,
    InvokeIngress,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    TimerMaturedIngress,
    TypedBusSnapshot,
)
from snapshot_schema.framework_records import FrameworkSnapshot, PeerGovernorSnapshot
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.gc_pause import gc_paused
from snapshot_schema.ip_network import network_rows
from snapshot_schema.record_table import RecordTable
from snapshot_schema.transient import TransientSnapshot

_pending_async_row = attrgetter("op_ref", "exec_id", "output_sites", "deadline_ns")


def _as_is(value: Any) -> Any:  # noqa: ANN401 - any field already in its msgpack form
    return value


def _sorted_pairs(mapping: FrozenMap[Any, Any]) -> list[tuple[Any, Any]]:
    return sorted(mapping.items())


def _sorted_members(members: frozenset[Any]) -> list[Any]:
    return sorted(members)


def _optional_sorted_members(members: frozenset[Any] | None) -> list[Any] | None:
    return None if members is None else sorted(members)


def _rows(table: RecordTable[Any]) -> tuple[tuple[Any, ...], ...]:
    return table.rows


def _pending_async(pending: FrozenMap[int, PendingAsyncSnapshot]) -> list[Any]:
    return [
        [command_id, _pending_async_row(entry)] for command_id, entry in sorted(pending.items())
    ]


def _execution_state(states: FrozenMap[int, ExecutionStateSnapshot]) -> list[Any]:
    return [[exec_id, [state.outputs_written]] for exec_id, state in sorted(states.items())]


def _bus(bus: TypedBusSnapshot) -> list[Any]:
    return [sorted(bus.event_subscriptions.items())]


def _ingress(event: IngressEvent) -> list[Any]:
    match event:
        case EnvelopeIngress():
            return [event.TAG, event.envelope_bytes]
        case AppEventIngress():
            return [event.TAG, event.module_name, event.input_name, event.value_bytes]
        case InvokeIngress():
            return [event.TAG, event.module_name, event.inputs]
        case TimerMaturedIngress():
            return [event.TAG, event.at_ns]
        case CompletionIngress():
            return [event.TAG, event.command_id, event.results]


def _ingress_events(events: tuple[IngressEvent, ...]) -> list[Any]:
    return [_ingress(event) for event in events]


def _pending_completions(completions: tuple[PendingCompletionSnapshot, ...]) -> list[Any]:
    return [[done.command_id, done.results] for done in completions]


FIELD_ENCODERS: FrozenMap[str, Callable[[Any], Any]] = FrozenMap(
    {
        "frontier": _as_is,
        "slot_table": _sorted_pairs,
        "pending_async": _pending_async,
        "execution_state": _execution_state,
        "counters": _sorted_pairs,
        "fired_phases": _as_is,
        "address_book": _rows,
        "blocklist": _sorted_members,
        "allowlist": _optional_sorted_members,
        "health": _rows,
        "failure_threshold": _as_is,
        "ip_allow": network_rows,
        "ip_deny": network_rows,
        "backoff_table": _rows,
        "pending_outbound": _rows,
        "peer_id_bytes": _as_is,
        "next_command_id": _as_is,
        "next_exec_id": _as_is,
        "peer_records": _rows,
        "extensions": _sorted_pairs,
        "bus": _bus,
        "ingress": _ingress_events,
        "wire_states": _sorted_pairs,
        "pending_completions": _pending_completions,
    }
)
"""How the body writes each field, by its last name (`"address_book"`), as plain msgpack-ready
values. A delta writes a field's replacement, patch entries or appended elements with the same
function, so its payloads are laid out exactly as the snapshot body lays out that field."""


def _governor(governor: PeerGovernorSnapshot) -> list[Any]:
    return [
        _sorted_members(governor.blocklist),
        _optional_sorted_members(governor.allowlist),
        governor.health.rows,
        governor.failure_threshold,
        network_rows(governor.ip_allow),
        network_rows(governor.ip_deny),
    ]


def _framework(framework: FrameworkSnapshot) -> list[Any]:
    return [
        _sorted_pairs(framework.counters),
        framework.fired_phases,
        framework.address_book.rows,
        _governor(framework.peer_governor),
        framework.backoff_table.rows,
        framework.pending_outbound.rows,
        framework.peer_id_bytes,
        framework.next_command_id,
        framework.next_exec_id,
        framework.peer_records.rows,
        _sorted_pairs(framework.extensions),
    ]


def encode_body(snapshot: TransientSnapshot) -> list[Any]:
    """The snapshot's body as plain msgpack-ready values (everything after the spec version)."""
    taken_at = snapshot.taken_at
    return [
        [taken_at.monotonic_ns, taken_at.wall_ns],
        snapshot.frontier,
        _sorted_pairs(snapshot.slot_table),
        _pending_async(snapshot.pending_async),
        _execution_state(snapshot.execution_state),
        _framework(snapshot.framework),
        _bus(snapshot.bus),
        _ingress_events(snapshot.ingress),
        _sorted_pairs(snapshot.wire_states),
        _pending_completions(snapshot.pending_completions),
    ]


def pack(value: object) -> bytes:
    """msgpack with `bin` for bytes and `str` for text: the only packing the format uses."""
    return msgpack.packb(value, use_bin_type=True)


def encode(snapshot: TransientSnapshot) -> bytes:
    """The canonical bytes of `snapshot`: `[spec_version, body]` as msgpack."""
    if type(snapshot) is not TransientSnapshot:
        raise TypeError(f"encode() takes a TransientSnapshot, not {type(snapshot).__name__}")
    # Large tables pack as the rows their `RecordTable`s hold; what is rebuilt here (sorted
    # maps and sets) is acyclic, so collector passes would only rescan it (see `gc_pause.py`).
    with gc_paused():
        return pack([snapshot.framework.spec_version, encode_body(snapshot)])
