"""`TransientSnapshot`: the whole runtime state of a node at one instant."""

from __future__ import annotations

from typing import Protocol

import attrs

from snapshot_schema.checks import (
    Path,
    as_frozen_map,
    as_tuple,
    check_bytes,
    check_instance,
    check_map,
    check_optional_bytes,
    check_pair,
    check_tuple,
    check_u32,
    check_u64,
)
from snapshot_schema.column_checks import SITE_EXECS
from snapshot_schema.errors import SnapshotValueError
from snapshot_schema.execution_records import (
    INGRESS_TYPES,
    ExecutionStateSnapshot,
    IngressEvent,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    TypedBusSnapshot,
)
from snapshot_schema.framework_records import ClockReading, FrameworkSnapshot
from snapshot_schema.frozen_map import FrozenMap

SiteExec = tuple[int, int]
"""`(node site id, exec id)`: a slot's address in the execution DAG."""


def _check_site_exec(value: object, path: Path) -> None:
    check_pair(value, ("node_site_id", check_u64), ("exec_id", check_u64), path)


def _check_ingress(value: object, path: Path) -> None:
    if type(value) not in INGRESS_TYPES:
        raise SnapshotValueError(
            f"expected an ingress event record, got `{type(value).__name__}`", path
        )


def _check_completion(value: object, path: Path) -> None:
    check_instance(value, PendingCompletionSnapshot, path)


def _check_pending_async(value: object, path: Path) -> None:
    check_instance(value, PendingAsyncSnapshot, path)


def _check_execution_state(value: object, path: Path) -> None:
    check_instance(value, ExecutionStateSnapshot, path)


class ExecutionFields(Protocol):
    """The in-flight execution fields, wherever they are held (a snapshot, a node)."""

    @property
    def frontier(self) -> tuple[SiteExec, ...]: ...
    @property
    def slot_table(self) -> FrozenMap[SiteExec, bytes | None]: ...
    @property
    def pending_async(self) -> FrozenMap[int, PendingAsyncSnapshot]: ...
    @property
    def execution_state(self) -> FrozenMap[int, ExecutionStateSnapshot]: ...
    @property
    def ingress(self) -> tuple[IngressEvent, ...]: ...
    @property
    def wire_states(self) -> FrozenMap[int, bytes]: ...
    @property
    def pending_completions(self) -> tuple[PendingCompletionSnapshot, ...]: ...


def check_execution_fields(fields: ExecutionFields) -> None:
    """Raise `SnapshotValueError`, with the field's path, for an execution field a snapshot
    cannot hold."""
    check_tuple(fields.frontier, _check_site_exec, ("frontier",), column_test=SITE_EXECS)
    check_map(fields.slot_table, _check_site_exec, check_optional_bytes, ("slot_table",))
    check_map(fields.pending_async, check_u64, _check_pending_async, ("pending_async",))
    check_map(fields.execution_state, check_u64, _check_execution_state, ("execution_state",))
    check_tuple(fields.ingress, _check_ingress, ("ingress",))
    check_map(fields.wire_states, check_u32, check_bytes, ("wire_states",))
    check_tuple(fields.pending_completions, _check_completion, ("pending_completions",))


@attrs.frozen(kw_only=True, weakref_slot=False)
class TransientSnapshot:
    """A node's runtime state: framework state, typed bus, and in-flight execution.

    `taken_at` records both clocks at the instant of the snapshot; restore uses it to rebase
    every monotonic deadline into the new process.
    """

    taken_at: ClockReading
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
    framework: FrameworkSnapshot
    bus: TypedBusSnapshot = attrs.field(factory=TypedBusSnapshot)
    ingress: tuple[IngressEvent, ...] = attrs.field(default=(), converter=as_tuple)
    wire_states: FrozenMap[int, bytes] = attrs.field(factory=FrozenMap, converter=as_frozen_map)
    pending_completions: tuple[PendingCompletionSnapshot, ...] = attrs.field(
        default=(), converter=as_tuple
    )

    def __attrs_post_init__(self) -> None:
        check_instance(self.taken_at, ClockReading, ("taken_at",))
        check_instance(self.framework, FrameworkSnapshot, ("framework",))
        check_instance(self.bus, TypedBusSnapshot, ("bus",))
        check_execution_fields(self)

    @property
    def spec_version(self) -> int:
        """The spec version of this snapshot (always the current one in memory)."""
        return self.framework.spec_version
