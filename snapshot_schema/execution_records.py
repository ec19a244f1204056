"""Records for in-flight execution state: typed bus, suspended ops, completions, ingress events."""

from __future__ import annotations

from typing import ClassVar

import attrs

from snapshot_schema.checks import (
    Path,
    as_frozen_map,
    as_tuple,
    check_bytes,
    check_map,
    check_name,
    check_optional_u64,
    check_pair,
    check_tuple,
    check_u32,
    check_u64,
)
from snapshot_schema.column_checks import NAMED_PAYLOADS
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.reprs import bytes_repr, seq_repr


def check_subscriber_ids(value: object, path: Path) -> None:
    """An event kind's subscribers: a tuple of u64 ids, none twice."""
    check_tuple(value, check_u64, path, unique=True, what="subscriber id")


def _check_named_payload(value: object, path: Path) -> None:
    check_pair(value, ("name", check_name), ("payload", check_bytes), path)


def _freeze_pairs(value: object) -> object:
    """Lists of `[name, payload]` pairs become tuples of pairs."""
    if isinstance(value, list | tuple):
        return tuple(tuple(pair) if isinstance(pair, list) else pair for pair in value)
    return value


@attrs.frozen(weakref_slot=False)
class TypedBusSnapshot:
    """The typed bus's subscription table: event kind → ordered, duplicate-free subscriber ids."""

    event_subscriptions: FrozenMap[str, tuple[int, ...]] = attrs.field(
        factory=FrozenMap, converter=as_frozen_map
    )

    def __attrs_post_init__(self) -> None:
        check_map(
            self.event_subscriptions, check_name, check_subscriber_ids, ("event_subscriptions",)
        )


@attrs.frozen(weakref_slot=False)
class PendingCompletionSnapshot:
    """A command's results waiting to be written to the suspended op's output slots."""

    command_id: int
    results: tuple[tuple[str, bytes], ...] = attrs.field(default=(), converter=_freeze_pairs)

    def __attrs_post_init__(self) -> None:
        check_u64(self.command_id, ("command_id",))
        check_tuple(self.results, _check_named_payload, ("results",), column_test=NAMED_PAYLOADS)


@attrs.frozen(weakref_slot=False)
class PendingAsyncSnapshot:
    """An op suspended until a command completes, with an optional monotonic deadline."""

    op_ref: int
    exec_id: int
    output_sites: tuple[int, ...] = attrs.field(default=(), converter=as_tuple)
    deadline_ns: int | None = None

    def __attrs_post_init__(self) -> None:
        check_u64(self.op_ref, ("op_ref",))
        check_u64(self.exec_id, ("exec_id",))
        check_tuple(self.output_sites, check_u64, ("output_sites",))
        check_optional_u64(self.deadline_ns, ("deadline_ns",))


@attrs.frozen(weakref_slot=False)
class ExecutionStateSnapshot:
    """Per-execution liveness: how many outputs have been written so far."""

    outputs_written: int = 0

    def __attrs_post_init__(self) -> None:
        check_u32(self.outputs_written, ("outputs_written",))


# Ingress events: a closed set of record types. `TAG` is each one's wire discriminator.


@attrs.frozen(weakref_slot=False)
class EnvelopeIngress:
    """An inbound envelope, re-routed on restore."""

    TAG: ClassVar[int] = 0
    envelope_bytes: bytes = attrs.field(repr=bytes_repr)

    def __attrs_post_init__(self) -> None:
        check_bytes(self.envelope_bytes, ("envelope_bytes",))


@attrs.frozen(weakref_slot=False)
class AppEventIngress:
    """An application event for a module's input port."""

    TAG: ClassVar[int] = 1
    module_name: str
    input_name: str
    value_bytes: bytes = attrs.field(repr=bytes_repr)

    def __attrs_post_init__(self) -> None:
        check_name(self.module_name, ("module_name",))
        check_name(self.input_name, ("input_name",))
        check_bytes(self.value_bytes, ("value_bytes",))


@attrs.frozen(weakref_slot=False)
class InvokeIngress:
    """A module invocation with `(input port, value bytes)` pairs."""

    TAG: ClassVar[int] = 2
    module_name: str
    inputs: tuple[tuple[str, bytes], ...] = attrs.field(default=(), converter=_freeze_pairs)

    def __attrs_post_init__(self) -> None:
        check_name(self.module_name, ("module_name",))
        check_tuple(self.inputs, _check_named_payload, ("inputs",), column_test=NAMED_PAYLOADS)


@attrs.frozen(weakref_slot=False)
class TimerMaturedIngress:
    """A timer that matured at `at_ns` (monotonic) and has not been handled yet."""

    TAG: ClassVar[int] = 3
    at_ns: int

    def __attrs_post_init__(self) -> None:
        check_u64(self.at_ns, ("at_ns",))


@attrs.frozen(weakref_slot=False)
class CompletionIngress:
    """An async completion landing back at the engine."""

    TAG: ClassVar[int] = 4
    command_id: int
    results: tuple[bytes, ...] = attrs.field(default=(), converter=as_tuple, repr=seq_repr)

    def __attrs_post_init__(self) -> None:
        check_u64(self.command_id, ("command_id",))
        check_tuple(self.results, check_bytes, ("results",))


IngressEvent = (
    EnvelopeIngress | AppEventIngress | InvokeIngress | TimerMaturedIngress | CompletionIngress
)
INGRESS_TYPES: tuple[type[IngressEvent], ...] = (
    EnvelopeIngress,
    AppEventIngress,
    InvokeIngress,
    TimerMaturedIngress,
    CompletionIngress,
)
"""Every ingress event type, indexed by its `TAG`."""
