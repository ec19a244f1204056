"""A stand-in execution engine: the moves an engine built on a `Node` makes on `node.execution`,
so that operations fill every execution field a snapshot carries, times included.

The node has no engine of its own; these are just enough of one to give each field a value that
changes, as a real engine's would (each move replaces `node.execution`, as an engine does).
"""

from __future__ import annotations

import attrs

from node_runtime.node import Node
from snapshot_schema import (
    ExecutionStateSnapshot,
    FrozenMap,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    TimerMaturedIngress,
)
from snapshot_schema.checks import U32_MAX, U64_MAX

__all__ = [
    "await_command",
    "complete_command",
    "mature_timer",
    "set_wire_state",
    "take_ingress",
    "write_slot",
]


def await_command(node: Node, command_id: int, timeout_ns: int | None) -> None:
    """Suspend an op until `command_id` completes, giving up `timeout_ns` from now (a deadline,
    saturating at 2**64-1), or never when `None`."""
    now = node.clock.monotonic_ns()
    deadline = None if timeout_ns is None else min(U64_MAX, now + timeout_ns)
    pending = PendingAsyncSnapshot(op_ref=command_id, exec_id=0, deadline_ns=deadline)
    execution = node.execution
    node.execution = attrs.evolve(
        execution, pending_async=FrozenMap({**execution.pending_async, command_id: pending})
    )


def complete_command(node: Node, command_id: int, result: bytes) -> bool:
    """`command_id` completed: the op waiting on it resumes and `result` waits to be written;
    False (and no change) when no op waits on it."""
    execution = node.execution
    if command_id not in execution.pending_async:
        return False
    waiting = {key: op for key, op in execution.pending_async.items() if key != command_id}
    completion = PendingCompletionSnapshot(command_id, (("result", result),))
    node.execution = attrs.evolve(
        execution,
        pending_async=FrozenMap(waiting),
        pending_completions=(*execution.pending_completions, completion),
    )
    return True


def mature_timer(node: Node) -> None:
    """A timer matured now: an ingress event (a past time) for the engine to handle."""
    execution = node.execution
    event = TimerMaturedIngress(node.clock.monotonic_ns())
    node.execution = attrs.evolve(execution, ingress=(*execution.ingress, event))


def take_ingress(node: Node) -> int:
    """The engine handles every ingress event; how many there were."""
    execution = node.execution
    node.execution = attrs.evolve(execution, ingress=())
    return len(execution.ingress)


def write_slot(node: Node, site_id: int, exec_id: int, value: bytes | None) -> None:
    """Execution `exec_id` writes `value` to its slot at `site_id` and moves its frontier there;
    its count of outputs written grows (saturating at 2**32-1)."""
    execution = node.execution
    slot = (site_id, exec_id)
    state = execution.execution_state.get(exec_id, ExecutionStateSnapshot())
    written = ExecutionStateSnapshot(min(U32_MAX, state.outputs_written + 1))
    node.execution = attrs.evolve(
        execution,
        frontier=(slot,),
        slot_table=FrozenMap({**execution.slot_table, slot: value}),
        execution_state=FrozenMap({**execution.execution_state, exec_id: written}),
    )


def set_wire_state(node: Node, wire: int, state: bytes) -> None:
    """The engine's state for wire `wire` becomes `state`."""
    execution = node.execution
    node.execution = attrs.evolve(
        execution, wire_states=FrozenMap({**execution.wire_states, wire: state})
    )
