"""In-flight execution state a node carries through snapshot and restore unchanged.

The node has no execution engine of its own; an engine built on it owns these fields. The node
keeps them so a snapshot loses nothing, and restore rebases the times among them.
"""

from __future__ import annotations

import attrs

from node_runtime.component_errors import ComponentValueError
from node_runtime.rebase import Rebase
from snapshot_schema import (
    FrozenMap,
    IngressEvent,
    PendingAsyncSnapshot,
    TimerMaturedIngress,
    TransientSnapshot,
)
from snapshot_schema.checks import as_frozen_map, as_tuple
from snapshot_schema.errors import SnapshotValueError
from snapshot_schema.execution_records import ExecutionStateSnapshot, PendingCompletionSnapshot
from snapshot_schema.transient import SiteExec, check_execution_fields


@attrs.frozen
class InFlightExecution:
    """The execution fields of a `TransientSnapshot`, as the engine left them. Checked when
    built, as a snapshot checks them (`ComponentValueError` with the field's path), so that
    `Node.snapshot()` never fails on them later."""

    frontier: tuple[SiteExec, ...] = attrs.field(default=(), converter=as_tuple)
    slot_table: FrozenMap[SiteExec, bytes | None] = attrs.field(
        factory=FrozenMap, converter=as_frozen_map
    )
    pending_async: FrozenMap[int, PendingAsyncSnapshot] = attrs.field(
        factory=FrozenMap, converter=as_frozen_map
    )
    execution_state: FrozenMap[int, ExecutionStateSnapshot] = attrs.field(
        factory=FrozenMap, converter=as_frozen_map
    )
    ingress: tuple[IngressEvent, ...] = attrs.field(default=(), converter=as_tuple)
    wire_states: FrozenMap[int, bytes] = attrs.field(factory=FrozenMap, converter=as_frozen_map)
    pending_completions: tuple[PendingCompletionSnapshot, ...] = attrs.field(
        default=(), converter=as_tuple
    )

    def __attrs_post_init__(self) -> None:
        try:
            check_execution_fields(self)
        except SnapshotValueError as error:
            raise ComponentValueError(error.reason, error.path) from None

    @classmethod
    def of(cls, snapshot: TransientSnapshot, rebase: Rebase) -> InFlightExecution:
        """The execution state of `snapshot`, with its deadlines and timer times rebased."""
        return cls(
            frontier=snapshot.frontier,
            slot_table=snapshot.slot_table,
            pending_async=FrozenMap(
                (command_id, _rebased_pending(pending, rebase))
                for command_id, pending in snapshot.pending_async.items()
            ),
            execution_state=snapshot.execution_state,
            ingress=tuple(_rebased_ingress(event, rebase) for event in snapshot.ingress),
            wire_states=snapshot.wire_states,
            pending_completions=snapshot.pending_completions,
        )


def _rebased_pending(pending: PendingAsyncSnapshot, rebase: Rebase) -> PendingAsyncSnapshot:
    if pending.deadline_ns is None:
        return pending
    return attrs.evolve(pending, deadline_ns=rebase.deadline(pending.deadline_ns))


def _rebased_ingress(event: IngressEvent, rebase: Rebase) -> IngressEvent:
    if isinstance(event, TimerMaturedIngress):
        return TimerMaturedIngress(rebase.past_time(event.at_ns))
    return event
