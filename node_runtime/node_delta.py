"""The changes a node made since its last save, gathered from what its components recorded.

`Node.take_delta` turns them into a `SnapshotDelta` with `make_delta`, in time proportional to
the changes: the keyed tables name the keys their calls touched (`ChangedKeys`), and only those
rows are read; the address book adds the peers with an address expiring in between (a snapshot
leaves expired addresses out); the outbound queue, which only loses entries at its front and
gains them at its back, becomes a splice; small fields are replaced when their component's
revision moved (or the node's execution state was replaced).

A field is replaced whole, from the full framework at that instant, when its keys are not known:
its component was replaced on the node (`node.counters = ...`) since the mark, or the monotonic
clock went back. Those cost what a snapshot costs, and only then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from node_runtime.address_book import AddressBook
from node_runtime.backoff import BackoffTable
from node_runtime.counters import Counters
from node_runtime.execution import InFlightExecution
from node_runtime.extensions import ExtensionTable
from node_runtime.lifecycle import LifecycleQueue
from node_runtime.outbound import OutboundQueue
from node_runtime.peer_governor import IpList, PeerGovernor
from node_runtime.peer_key import PeerKey
from node_runtime.peer_records import PeerRecordBook
from node_runtime.typed_bus import TypedBus
from snapshot_schema import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    FrameworkSnapshot,
    FrozenMap,
    IpNetwork,
    Patch,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingOutboundEntry,
    RecordTable,
    Replace,
    Splice,
    TypedBusSnapshot,
)
from snapshot_schema.delta_records import Change

if TYPE_CHECKING:
    from node_runtime.node import Node

Row = tuple[Any, ...]

_EXECUTION_FIELDS = tuple(field.name for field in attrs.fields(InFlightExecution))


@attrs.frozen
class _Marks:
    """What the marked state held, as far as a delta needs to know: each component object (a
    component replaced since is saved whole), the revisions of the small ones, the outbound
    queue's length and count of entries taken, and the small values themselves."""

    address_book: AddressBook
    governor: PeerGovernor
    backoff: BackoffTable
    peer_records: PeerRecordBook
    counters: Counters
    extensions: ExtensionTable
    lifecycle: tuple[LifecycleQueue, int]
    bus: tuple[TypedBus, int]
    outbound: tuple[OutboundQueue, int, int]  # queue, its length, entries taken from it
    execution: InFlightExecution
    peer_id_bytes: bytes
    next_ids: tuple[int, int]

    @classmethod
    def of(cls, node: Node) -> _Marks:
        outbound = node.outbound
        return cls(
            node.address_book,
            node.governor,
            node.backoff,
            node.peer_records,
            node.counters,
            node.extension_table,
            (node.lifecycle, node.lifecycle.revision),
            (node.bus, node.bus.revision),
            (outbound, len(outbound), outbound.taken),
            node.execution,
            node.peer_id.to_bytes(),
            (node.command_ids.saved_next_id, node.exec_ids.saved_next_id),
        )


class _Framework:
    """The node's full framework at the delta's instant, built once and only if a field must be
    replaced whole."""

    def __init__(self, build: Callable[[], FrameworkSnapshot]) -> None:
        self._build = build
        self._framework: FrameworkSnapshot | None = None

    def get(self) -> FrameworkSnapshot:
        if self._framework is None:
            self._framework = self._build()
        return self._framework


class DeltaTracker:
    """Counts a node's changes from a marked state: `take` gives the changes since the mark
    (or since the previous `take`) and moves the mark to that instant."""

    def __init__(self, node: Node, since_ns: int) -> None:
        """Mark `node`'s state at the monotonic instant `since_ns` (its latest snapshot's)."""
        # The components record from their first take on; what they report now is dropped.
        node.address_book.take_changed_peers(since_ns)
        node.governor.take_changes()
        node.backoff.take_changed_peers()
        node.peer_records.take_changed_peers()
        node.counters.take_changed_names()
        node.extension_table.take_changed_namespaces()
        self._marks = _Marks.of(node)

    def take(
        self, node: Node, now_ns: int, framework: Callable[[], FrameworkSnapshot]
    ) -> dict[str, Change]:
        """The changes from the marked state to `node`'s state at the monotonic instant
        `now_ns`, by field name; `framework()` builds the full framework at that instant (for
        a field that must be replaced whole). The mark moves to `now_ns`."""
        marks, whole = self._marks, _Framework(framework)
        changes: dict[str, Change | None] = {
            "address_book": _table_change(
                AddressBookEntrySnapshot,
                _known(
                    node.address_book,
                    marks.address_book,
                    node.address_book.take_changed_peers(now_ns),
                ),
                lambda peer: node.address_book.entry_row(peer, now_ns),
                lambda: whole.get().address_book,
            ),
            **_governor_changes(node.governor, marks.governor, whole),
            "backoff_table": _table_change(
                BackoffEntry,
                _known(node.backoff, marks.backoff, node.backoff.take_changed_peers()),
                lambda peer: _backoff_row(node.backoff, peer),
                lambda: whole.get().backoff_table,
            ),
            "peer_records": _table_change(
                PeerRecordSnapshot,
                _known(
                    node.peer_records, marks.peer_records, node.peer_records.take_changed_peers()
                ),
                node.peer_records.entry_row,
                lambda: whole.get().peer_records,
            ),
            "counters": _map_change(
                _known(node.counters, marks.counters, node.counters.take_changed_names()),
                node.counters.get,
                lambda: whole.get().counters,
            ),
            "extensions": _map_change(
                _known(
                    node.extension_table,
                    marks.extensions,
                    node.extension_table.take_changed_namespaces(),
                ),
                node.extension_table.get,
                lambda: whole.get().extensions,
            ),
            "fired_phases": _replaced_if_moved(
                node.lifecycle, marks.lifecycle, node.lifecycle.pending
            ),
            "bus": _replaced_if_moved(
                node.bus, marks.bus, lambda: TypedBusSnapshot(dict(node.bus.items()))
            ),
            "pending_outbound": _outbound_change(node.outbound, marks.outbound, whole),
            "peer_id_bytes": _replaced_if_unequal(node.peer_id.to_bytes(), marks.peer_id_bytes),
            "next_command_id": _replaced_if_unequal(
                node.command_ids.saved_next_id, marks.next_ids[0]
            ),
            "next_exec_id": _replaced_if_unequal(node.exec_ids.saved_next_id, marks.next_ids[1]),
            **_execution_changes(node.execution, marks.execution),
        }
        self._marks = _Marks.of(node)
        return {name: change for name, change in changes.items() if change is not None}


def _known(component: object, marked: object, keys: set[Any] | None) -> set[Any] | None:
    """`keys` changed in `component`, or `None` (replace whole) when it is not the component
    that was marked."""
    return keys if component is marked else None


def _table_change(
    record_class: type[Any],
    peers: set[PeerKey] | None,
    row_of: Callable[[PeerKey], Row | None],
    whole: Callable[[], object],
) -> Change | None:
    """A patch of the rows of `peers` (a peer without a row is removed), sorted by peer."""
    if peers is None:
        return Replace(whole())
    if not peers:
        return None
    removed: list[PeerKey] = []
    upserted: list[Row] = []
    for peer in sorted(peers):
        row = row_of(peer)
        if row is None:
            removed.append(peer)
        else:
            upserted.append(row)
    return Patch(tuple(removed), RecordTable.trusted(record_class, tuple(upserted)))


def _map_change(
    keys: set[str] | None, value_of: Callable[[str], Any], whole: Callable[[], object]
) -> Change | None:
    """A patch of the entries of `keys` (a key without a value, `None`, is removed)."""
    if keys is None:
        return Replace(whole())
    if not keys:
        return None
    removed: list[str] = []
    upserted: dict[str, Any] = {}
    for key in sorted(keys):
        value = value_of(key)
        if value is None:
            removed.append(key)
        else:
            upserted[key] = value
    return Patch(tuple(removed), FrozenMap(upserted))


def _set_change(
    members: set[PeerKey] | None, holds: Callable[[PeerKey], bool], whole: Callable[[], object]
) -> Change | None:
    """A patch adding the `members` held now and removing the others."""
    if members is None:
        return Replace(whole())
    if not members:
        return None
    ordered = sorted(members)
    return Patch(
        tuple(member for member in ordered if not holds(member)),
        frozenset(filter(holds, ordered)),
    )


def _governor_changes(
    governor: PeerGovernor, marked: PeerGovernor, whole: _Framework
) -> dict[str, Change | None]:
    changes = governor.take_changes()
    same = governor is marked

    def saved(name: str) -> Callable[[], object]:
        return lambda: getattr(whole.get().peer_governor, name)

    allowlist = changes.allowlist if same else None
    ip_lists = changes.ip_lists if same else None
    return {
        "blocklist": _set_change(
            changes.blocklist if same else None, governor.is_blocked, saved("blocklist")
        ),
        # A list replaced whole (`set_allowlist`) may be `None`: it is replaced, not patched.
        "allowlist": _set_change(allowlist, governor.is_listed, lambda: governor.allowlist),
        "health": _table_change(
            PeerHealthSnapshot,
            changes.health if same else None,
            lambda peer: _health_row(governor, peer),
            saved("health"),
        ),
        "failure_threshold": None if same else Replace(governor.failure_threshold),
        **{
            which.value: Replace(_networks(governor, which))
            for which in IpList
            if ip_lists is None or which in ip_lists
        },
    }


def _networks(governor: PeerGovernor, which: IpList) -> tuple[IpNetwork, ...]:
    networks = governor.ip_allow if which is IpList.ALLOW else governor.ip_deny
    return tuple(map(IpNetwork.of, networks))


def _health_row(governor: PeerGovernor, peer: PeerKey) -> Row | None:
    health = governor.health(peer)
    if health is None:
        return None
    return (peer, health.consecutive_failures, health.last_event_ns, health.down)


def _backoff_row(backoff: BackoffTable, peer: PeerKey) -> Row | None:
    state = backoff.entry(peer)
    if state is None:
        return None
    return (peer, state.attempts, state.last_attempt_ns, state.next_retry_ns)


def _outbound_change(
    queue: OutboundQueue, marked: tuple[OutboundQueue, int, int], whole: _Framework
) -> Change | None:
    """A splice: the marked entries not taken since, then every entry queued since."""
    marked_queue, marked_length, marked_taken = marked
    if queue is not marked_queue:
        return Replace(whole.get().pending_outbound)
    taken = queue.taken - marked_taken
    if taken == 0 and len(queue) == marked_length:
        return None
    drop_front = min(taken, marked_length)
    keep = marked_length - drop_front
    appended = tuple(
        (entry.envelope, entry.redelivered) for entry in queue.newest(len(queue) - keep)
    )
    return Splice(drop_front, keep, RecordTable.trusted(PendingOutboundEntry, appended))


def _replaced_if_moved(
    component: LifecycleQueue | TypedBus,
    marked: tuple[LifecycleQueue | TypedBus, int],
    value: Callable[[], object],
) -> Change | None:
    if component is marked[0] and component.revision == marked[1]:
        return None
    return Replace(value())


def _replaced_if_unequal(value: object, marked: object) -> Change | None:
    return None if value == marked else Replace(value)


def _execution_changes(
    execution: InFlightExecution, marked: InFlightExecution
) -> dict[str, Change | None]:
    """Each execution field the engine changed since the mark, replaced (they are the engine's
    own small state; a field it did not touch is the very same object)."""
    if execution is marked:
        return {}
    changes: dict[str, Change | None] = {}
    for name in _EXECUTION_FIELDS:
        value = getattr(execution, name)
        old = getattr(marked, name)
        if value is not old and value != old:
            changes[name] = Replace(value)
    return changes
