"""In-flight execution state a node carries through snapshot and restore unchanged.

The node has no execution engine of its own; an engine built on it owns these fields. The node
keeps them so a snapshot loses nothing, and restore rebases the times among them.
"""

from __future__ import annotations

import attrs

from node_runtime.rebase import Rebase
from snapshot_schema import (
    FrozenMap,
    IngressEvent,
    PendingAsyncSnapshot,
    TimerMaturedIngress,
    TransientSnapshot,
)
from snapshot_schema.execution_records import ExecutionStateSnapshot, PendingCompletionSnapshot
from snapshot_schema.transient import SiteExec


@attrs.frozen
class InFlightExecution:
    """The execution fields of a `TransientSnapshot`, as the engine left them."""

    frontier: tuple[SiteExec, ...] = ()
    slot_table: FrozenMap[SiteExec, bytes | None] = attrs.field(factory=FrozenMap)
    pending_async: FrozenMap[int, PendingAsyncSnapshot] = attrs.field(factory=FrozenMap)
    execution_state: FrozenMap[int, ExecutionStateSnapshot] = attrs.field(factory=FrozenMap)
    ingress: tuple[IngressEvent, ...] = ()
    wire_states: FrozenMap[int, bytes] = attrs.field(factory=FrozenMap)
    pending_completions: tuple[PendingCompletionSnapshot, ...] = ()

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
