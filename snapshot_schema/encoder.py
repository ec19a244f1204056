"""`encode`: a `TransientSnapshot` to canonical msgpack bytes (layout in docs/FORMAT.md).

Every record is an array of its fields in declared order; every mapping and set is an array
sorted by key, so equal snapshots always give identical bytes.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import msgpack

from snapshot_schema.execution_records import (
    AppEventIngress,
    CompletionIngress,
    EnvelopeIngress,
    IngressEvent,
    InvokeIngress,
    TimerMaturedIngress,
)
from snapshot_schema.framework_records import FrameworkSnapshot, PeerGovernorSnapshot
from snapshot_schema.gc_pause import gc_paused
from snapshot_schema.ip_network import network_rows
from snapshot_schema.transient import TransientSnapshot

_pending_async_row = attrgetter("op_ref", "exec_id", "output_sites", "deadline_ns")


def _governor(governor: PeerGovernorSnapshot) -> list[Any]:
    allowlist = governor.allowlist
    return [
        sorted(governor.blocklist),
        None if allowlist is None else sorted(allowlist),
        governor.health.rows,
        governor.failure_threshold,
        network_rows(governor.ip_allow),
        network_rows(governor.ip_deny),
    ]


def _framework(framework: FrameworkSnapshot) -> list[Any]:
    return [
        sorted(framework.counters.items()),
        framework.fired_phases,
        framework.address_book.rows,
        _governor(framework.peer_governor),
        framework.backoff_table.rows,
        framework.pending_outbound.rows,
        framework.peer_id_bytes,
        framework.next_command_id,
        framework.next_exec_id,
        framework.peer_records.rows,
        sorted(framework.extensions.items()),
    ]


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


def encode_body(snapshot: TransientSnapshot) -> list[Any]:
    """The snapshot's body as plain msgpack-ready values (everything after the spec version)."""
    taken_at = snapshot.taken_at
    return [
        [taken_at.monotonic_ns, taken_at.wall_ns],
        snapshot.frontier,
        sorted(snapshot.slot_table.items()),
        [
            [command_id, _pending_async_row(pending)]
            for command_id, pending in sorted(snapshot.pending_async.items())
        ],
        [
            [exec_id, [state.outputs_written]]
            for exec_id, state in sorted(snapshot.execution_state.items())
        ],
        _framework(snapshot.framework),
        [sorted(snapshot.bus.event_subscriptions.items())],
        [_ingress(event) for event in snapshot.ingress],
        sorted(snapshot.wire_states.items()),
        [[done.command_id, done.results] for done in snapshot.pending_completions],
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
