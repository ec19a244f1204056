"""`Node`: the state a networked node keeps, composed, with exact snapshot and restore.

The node is sans-I/O: a host feeds it events (a dial failed, a peer connected, an envelope to
send) and asks it questions (may I dial this peer now?). Times come from an injected `Clock`.
`snapshot()` captures everything as a `TransientSnapshot`; `Node.restore()` rebuilds a node in
the same state in any process, rebasing every deadline with the rule in `rebase.py`. Once a
snapshot is saved and `mark_saved()`, `take_delta()` gives what changed since, in time
proportional to the change (`node_delta.py`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Any

from node_runtime._component_checks import check_peer_id, check_peer_list
from node_runtime.address_book import AddressBook
from node_runtime.backoff import BackoffPolicy, BackoffState, BackoffTable
from node_runtime.clock import Clock, SystemClock
from node_runtime.component_errors import (
    ComponentError,
    ComponentTypeError,
    ComponentValueError,
    RestoreValueError,
    SaveMarkError,
)
from node_runtime.counters import Counters
from node_runtime.errors import PeerIdMismatchError
from node_runtime.execution import InFlightExecution
from node_runtime.extensions import ExtensionTable
from node_runtime.id_allocator import IdAllocator
from node_runtime.identity import Identity
from node_runtime.ip_filter import network_sort_key
from node_runtime.lifecycle import LifecycleQueue
from node_runtime.multiaddr import Multiaddr
from node_runtime.node_delta import DeltaTracker
from node_runtime.outbound import OutboundQueue
from node_runtime.peer_governor import Decision, PeerGovernor, PeerHealth
from node_runtime.peer_id import PeerId
from node_runtime.peer_key import PeerKey
from node_runtime.peer_records import PeerRecordBook
from node_runtime.rebase import DEFAULT_RESTART_STAGGER_NS, Rebase
from node_runtime.typed_bus import TypedBus
from snapshot_schema import (
    ClockReading,
    MetadataValue,
    PathElement,
    SnapshotDelta,
    StateRef,
    TransientSnapshot,
    TypedBusSnapshot,
    build_framework_trusted,
    make_delta,
)
from snapshot_schema.gc_pause import gc_paused

LOG = logging.getLogger(__name__)

# A down peer may still be dialled: that dial is its probe (see `Node.may_dial`).
_DIALABLE = frozenset({Decision.OK, Decision.DOWN})

DEFAULT_FAILURE_THRESHOLD = 3
"""Consecutive failures that make a peer down, in a new node."""


class Node:
    """A node's identity and framework state: peers, policy, backoff, outbound queue, ids."""

    def __init__(
        self,
        identity: Identity,
        *,
        clock: Clock | None = None,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        backoff_policy: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        max_outbound: int | None = None,
    ) -> None:
        self.identity = identity
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.rng = rng if rng is not None else random.Random()  # noqa: S311  # jitter, not secrets
        self.address_book = AddressBook()
        self.governor = PeerGovernor(failure_threshold)
        self.backoff = BackoffTable(backoff_policy or BackoffPolicy(), self.rng)
        self.outbound = OutboundQueue(max_outbound)
        self.counters = Counters()
        self.lifecycle = LifecycleQueue()
        self.bus = TypedBus()
        self.command_ids = IdAllocator()
        self.exec_ids = IdAllocator()
        self.extension_table = ExtensionTable()
        self.peer_records = PeerRecordBook()
        self._execution = InFlightExecution()
        self._execution_revision = 0
        self._save_listeners: list[Callable[[], object]] = []
        # The latest snapshot's monotonic instant and the revision it captured.
        self._latest_snapshot: tuple[int, int] | None = None
        self._delta_tracker: DeltaTracker | None = None
        # The state the latest delta led to (None until one is taken after the mark).
        self._tracked_state: StateRef | None = None

    @property
    def peer_id(self) -> PeerId:
        return self.identity.peer_id

    @property
    def execution(self) -> InFlightExecution:
        """The engine's in-flight state, carried through snapshots as the engine hands it over."""
        return self._execution

    @execution.setter
    def execution(self, execution: InFlightExecution) -> None:
        if type(execution) is not InFlightExecution:
            raise ComponentTypeError(
                f"expected `InFlightExecution`, got `{type(execution).__name__}`", ("execution",)
            )
        self._execution = execution
        self._execution_revision += 1

    @property
    def revision(self) -> int:
        """Grows with every change to the node's state: equal revisions, no change to save."""
        return (
            self._execution_revision
            + self.address_book.revision
            + self.governor.revision
            + self.backoff.revision
            + self.outbound.revision
            + self.counters.revision
            + self.lifecycle.revision
            + self.bus.revision
            + self.command_ids.revision
            + self.exec_ids.revision
            + self.extension_table.revision
            + self.peer_records.revision
        )

    def add_save_listener(self, listener: Callable[[], object]) -> None:
        """Call `listener` on every `request_save()` (a `Checkpointer` registers itself)."""
        self._save_listeners.append(listener)

    def request_save(self) -> None:
        """Ask for a prompt save of a change that should not wait for the next periodic one
        (an envelope sent or delivered): the listeners are called, the node is left as it is.
        With no listener (no autosave attached), nothing happens."""
        for listener in self._save_listeners:
            listener()

    # What a host does with it. Peers are `PeerId`s here (a wrong type is a `ComponentTypeError`,
    # a `TypeError`); the components key by their bytes.

    def add_peer_address(self, peer: PeerId, address: Multiaddr, ttl_ns: int | None = None) -> bool:
        """Remember an address for `peer`, permanently or for `ttl_ns` from now; False if it was
        already known (an add only ever extends its expiry: docs/runtime.md, "Address expiry")."""
        key = self._other_peer_key(peer)
        return self.address_book.add_address(key, address, ttl_ns, now_ns=self.clock.monotonic_ns())

    def set_peer_address_ttl(self, peer: PeerId, address: Multiaddr, ttl_ns: int | None) -> None:
        """Make `peer`'s `address` expire exactly `ttl_ns` from now (`None`: never), adding it if
        it is not known; a TTL of 0 forgets it."""
        key = self._other_peer_key(peer)
        self.address_book.set_address_ttl(key, address, ttl_ns, now_ns=self.clock.monotonic_ns())

    def remove_peer_address(self, peer: PeerId, address: Multiaddr) -> bool:
        """Forget one address of `peer`; False if it was not known (or had expired)."""
        key = check_peer_id(peer, "peer")
        return self.address_book.remove_address(key, address, now_ns=self.clock.monotonic_ns())

    def clear_peer_addresses(self, peer: PeerId) -> None:
        """Forget every address of `peer`; its references stay."""
        self.address_book.clear_addresses(check_peer_id(peer, "peer"))

    def peer_addresses(self, peer: PeerId) -> tuple[Multiaddr, ...]:
        """`peer`'s addresses that have not expired, in preference order."""
        key = check_peer_id(peer, "peer")
        return self.address_book.addresses(key, self.clock.monotonic_ns())

    def expire_addresses(self) -> int:
        """Drop every address whose expiry has passed; how many. The host calls it at its own
        pace: lookups already leave expired addresses out, and snapshots leave them out too."""
        return self.address_book.expire(self.clock.monotonic_ns())

    def set_extension(self, namespace: str, data: bytes) -> None:
        """Keep `data` under `namespace` (1-128 characters of `[a-z0-9._/-]`) in every
        snapshot, replacing what was there."""
        self.extension_table.set(namespace, data)

    def extension(self, namespace: str) -> bytes | None:
        """The data kept under `namespace`, or `None`."""
        return self.extension_table.get(namespace)

    def remove_extension(self, namespace: str) -> bool:
        """Drop the data kept under `namespace`; False if there was none."""
        return self.extension_table.remove(namespace)

    def extensions(self) -> Mapping[str, bytes]:
        """Every namespace and its data, sorted by namespace (a copy)."""
        return dict(self.extension_table.items())

    def forget_peer(self, peer: PeerId) -> None:
        """Drop what the node observed of `peer`: its addresses, health, backoff and peer record.
        Its block and allow entries stay: they are policy, not observation."""
        key = check_peer_id(peer, "peer")
        self.address_book.forget(key)
        self.governor.forget(key)
        self.backoff.forget(key)
        self.peer_records.forget(key)

    # What the node knows of a peer besides its addresses (`peer_records`; query it there).

    def set_peer_public_key(self, peer: PeerId, key: bytes) -> bool:
        """Remember `peer`'s public key (libp2p `PublicKey` protobuf bytes, matching `peer`);
        False if already held."""
        return self.peer_records.set_public_key(self._other_peer_key(peer), key)

    def add_peer_protocols(self, peer: PeerId, protocols: Iterable[str]) -> bool:
        """Note protocols `peer` supports; False if it was known to support them all."""
        return self.peer_records.add_protocols(self._other_peer_key(peer), protocols)

    def remove_peer_protocols(self, peer: PeerId, protocols: Iterable[str]) -> bool:
        """Note protocols `peer` no longer supports; False if none of them was noted."""
        return self.peer_records.remove_protocols(self._other_peer_key(peer), protocols)

    def set_peer_protocols(self, peer: PeerId, protocols: Iterable[str]) -> bool:
        """Note exactly the protocols `peer` supports (as identify reports them)."""
        return self.peer_records.set_protocols(self._other_peer_key(peer), protocols)

    def put_peer_metadata(self, peer: PeerId, key: str, value: MetadataValue) -> None:
        """Store `value` (its type kept exactly) under `key` for `peer`."""
        self.peer_records.put_metadata(self._other_peer_key(peer), key, value)

    def delete_peer_metadata(self, peer: PeerId, key: str) -> bool:
        """Delete `key` from `peer`'s metadata; False if it was not there."""
        return self.peer_records.delete_metadata(self._other_peer_key(peer), key)

    def record_latency(self, peer: PeerId, sample_ns: int) -> int:
        """Fold a round-trip time to `peer` into its moving average; the new average."""
        return self.peer_records.record_latency(self._other_peer_key(peer), sample_ns)

    def consume_signed_record(self, peer: PeerId, envelope: bytes) -> bool:
        """Keep `envelope`, `peer`'s signed peer record, if it verifies and is newer than the
        one held; True if kept. Its addresses are not added to the address book: the host adds
        them, with the TTL it chooses."""
        return self.peer_records.consume_signed_record(self._other_peer_key(peer), envelope)

    def block(self, peer: PeerId) -> None:
        """Never contact `peer` again, nor accept it (saved at once under autosave)."""
        self.governor.block(check_peer_id(peer, "peer"))

    def unblock(self, peer: PeerId) -> None:
        """Lift a block; a peer that is not blocked stays so."""
        self.governor.unblock(check_peer_id(peer, "peer"))

    def set_allowlist(self, peers: Iterable[PeerId] | None) -> None:
        """Contact and accept only `peers` (an empty iterable: nobody), or `None`: anyone not
        blocked."""
        self.governor.set_allowlist(
            None
            if peers is None
            else [
                check_peer_id(peer, "peers", index)
                for index, peer in enumerate(check_peer_list(peers, "peers"))
            ]
        )

    def allow(self, peer: PeerId) -> None:
        """Add `peer` to the allowlist; `NoAllowlistError` when there is none (open policy)."""
        self.governor.allow(check_peer_id(peer, "peer"))

    def disallow(self, peer: PeerId) -> None:
        """Remove `peer` from the allowlist; `NoAllowlistError` when there is none."""
        self.governor.disallow(check_peer_id(peer, "peer"))

    def decision(self, peer: PeerId) -> Decision:
        """What policy and health say of `peer`: OK, BLOCKED, NOT_ALLOWED or DOWN."""
        return self.governor.decision(check_peer_id(peer, "peer"))

    def record_dial_failure(self, peer: PeerId) -> int:
        """A dial to `peer` failed: count it against its health, back off; the retry time.

        After a failed probe of a down peer it stays down and its next probe waits longer.
        """
        key = self._other_peer_key(peer)
        now = self.clock.monotonic_ns()
        self.governor.record_failure(key, now)
        self.counters.increment("dials_failed")
        return self.backoff.record_failure(key, now)

    def record_dial_success(self, peer: PeerId) -> None:
        """`peer` answered: its health and backoff clear (it is no longer down)."""
        key = self._other_peer_key(peer)
        self.governor.record_success(key)
        self.backoff.record_success(key)
        self.counters.increment("dials_succeeded")

    def may_dial(self, peer: PeerId) -> bool:
        """Whether the host may dial `peer` now: it is not this node, policy lets it be contacted
        (not blocked; on the allowlist if there is one) and its backoff has passed.

        A down peer is no exception: a dial once its backoff has passed is its probe. A failed
        probe keeps it down and backs off further; a successful one clears its health. This is
        a question, not a reservation: it stays true until the dial's outcome is recorded, so a
        host dials a peer once at a time.
        """
        key = check_peer_id(peer, "peer")
        return (
            key != self.peer_id.to_bytes()
            and self.governor.decision(key) in _DIALABLE
            and self.backoff.is_ready(key, self.clock.monotonic_ns())
        )

    def _other_peer_key(self, peer: PeerId) -> bytes:
        """`peer`'s key, refusing the node's own: a node never dials itself, so it keeps no
        address, health, backoff or peer record for itself (restore drops any it finds)."""
        key = check_peer_id(peer, "peer")
        if key == self.peer_id.to_bytes():
            raise ComponentValueError("a node never dials itself", ("peer",))
        return key

    # Snapshot and restore.

    @gc_paused()  # hundreds of thousands of acyclic tuples and records: scans would only cost
    def snapshot(self) -> TransientSnapshot:
        """Everything this node must not lose, as an immutable, valid record."""
        taken_at = ClockReading(self.clock.monotonic_ns(), self.clock.wall_ns())
        # The components refused every invalid value where it entered, and the rows come out
        # sorted: valid by construction, so the tables are not checked a second time.
        framework = build_framework_trusted(self._framework_layout(taken_at.monotonic_ns))
        execution = self.execution
        self._latest_snapshot = (taken_at.monotonic_ns, self.revision)
        return TransientSnapshot(
            taken_at=taken_at,
            frontier=execution.frontier,
            slot_table=execution.slot_table,
            pending_async=execution.pending_async,
            execution_state=execution.execution_state,
            framework=framework,
            bus=TypedBusSnapshot(dict(self.bus.items())),
            ingress=execution.ingress,
            wire_states=execution.wire_states,
            pending_completions=execution.pending_completions,
        )

    @gc_paused()  # the first mark arms every expiring address: as many tuples as peers
    def mark_saved(self) -> None:
        """Count changes from the state of the latest `snapshot()`, which the caller has saved
        (as a full snapshot): call it right after that snapshot, before anything changes the
        node. Raises `SaveMarkError` if no snapshot was taken or the node changed since."""
        latest = self._latest_snapshot
        if latest is None or latest[1] != self.revision:
            raise SaveMarkError(
                "mark_saved() marks the state of the latest snapshot(), and the node "
                + ("has taken none" if latest is None else "changed since it")
                + ": take the snapshot again"
            )
        self._delta_tracker = DeltaTracker(self, latest[0])
        self._tracked_state = None

    @gc_paused()  # as for snapshot(): the tables of a large change are acyclic rows
    def take_delta(self, base: StateRef) -> SnapshotDelta:
        """The delta from the state last marked (`mark_saved()`, or the previous
        `take_delta()`), which the caller names `base`, to the node's state now: `apply` to the
        marked state gives exactly `snapshot()` at this instant. The mark moves to now.

        Costs in proportion to what changed, not to the node (see docs/runtime.md, "Deltas").
        Raises `SaveMarkError` (a `FullSnapshotNeeded`) when nothing is marked, or when a delta
        was taken since the mark and `base` is not its target; nothing changes then.
        """
        if type(base) is not StateRef:
            raise ComponentTypeError(f"expected `StateRef`, got `{type(base).__name__}`", ("base",))
        tracker = self._delta_tracker
        if tracker is None:
            raise SaveMarkError(
                "no state is marked saved: save a full snapshot, then call mark_saved()"
            )
        if self._tracked_state is not None and base != self._tracked_state:
            raise SaveMarkError(
                f"this node counts its changes from {self._tracked_state}, not from {base}: "
                "save a full snapshot, then call mark_saved()"
            )
        taken_at = ClockReading(self.clock.monotonic_ns(), self.clock.wall_ns())
        now_ns = taken_at.monotonic_ns
        changes = tracker.take(
            self, now_ns, lambda: build_framework_trusted(self._framework_layout(now_ns))
        )
        delta = make_delta(base, taken_at, changes)
        self._tracked_state = delta.target
        return delta

    def _framework_layout(self, now_ns: int | None = None) -> tuple[Any, ...]:
        """The framework as plain rows (docs/FORMAT.md §3), tables sorted by peer, as of `now_ns`
        (the snapshot's instant; by default the clock's reading)."""
        governor = self.governor
        allowlist = governor.allowlist
        now_ns = self.clock.monotonic_ns() if now_ns is None else now_ns
        return (
            tuple(sorted(self.counters.items())),
            self.lifecycle.pending(),
            # Addresses expired by then are left out: a restore would drop them anyway.
            tuple(self.address_book.entries(now_ns)),
            (
                tuple(sorted(governor.blocklist)),
                None if allowlist is None else tuple(sorted(allowlist)),
                _by_peer(
                    [
                        (peer, h.consecutive_failures, h.last_event_ns, h.down)
                        for peer, h in governor.health_items()
                    ]
                ),
                governor.failure_threshold,
                tuple(map(network_sort_key, governor.ip_allow)),
                tuple(map(network_sort_key, governor.ip_deny)),
            ),
            _by_peer(
                [
                    (peer, b.attempts, b.last_attempt_ns, b.next_retry_ns)
                    for peer, b in self.backoff.items()
                ]
            ),
            tuple([(e.envelope, e.redelivered) for e in self.outbound.items()]),
            self.peer_id.to_bytes(),
            # The reservation's end, not the next id: ids up to it may be minted before the next
            # save, and a node restored from this snapshot must mint none of them again.
            self.command_ids.saved_next_id,
            self.exec_ids.saved_next_id,
            tuple(self.peer_records.entries()),
            self.extension_table.items(),
        )

    @classmethod
    @gc_paused()  # as for snapshot(): large tables of acyclic entries, nothing to collect
    def restore(
        cls,
        snapshot: TransientSnapshot,
        identity: Identity,
        *,
        clock: Clock | None = None,
        backoff_policy: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        max_outbound: int | None = None,
        restart_stagger_ns: int = DEFAULT_RESTART_STAGGER_NS,
        failure_threshold: int | None = None,
    ) -> Node:
        """A node in the state `snapshot` captured, owned by `identity`.

        Refuses a snapshot taken by another node (`PeerIdMismatchError`). Deadlines are rebased
        onto `clock` (see `rebase.py`); addresses whose expiry passed while the node was down are
        dropped, and counted in `restore:expired_addresses_dropped`; envelopes still queued come
        back flagged `redelivered`, because they may have been sent just before the snapshot:
        the host decides whether to resend them.
        `failure_threshold` replaces the saved one (health is then judged by the new threshold).

        Repairs, each counted in `counters` so the caller sees it: entries for the node's own
        PeerId are dropped from the address book, blocklist, health, backoff and peer records
        (`restore:own_peer_entries_dropped`); a signed peer record that fails verification is
        left out, the rest of its peer's record kept, and logged (`restore:signed_records_refused`).
        Health rows without failures, which older builds wrote for every success, are not kept
        (a peer without a row is healthy).
        """
        framework = snapshot.framework
        # No spec-version check: a `FrameworkSnapshot` refuses any version but the current one
        # when built, and `decode` migrates or refuses older bytes before building it.
        if framework.peer_id_bytes != identity.peer_id.to_bytes():
            raise PeerIdMismatchError(
                f"snapshot belongs to {PeerId.from_bytes(framework.peer_id_bytes)}, "
                f"not to {identity.peer_id}"
            )
        threshold = (
            framework.peer_governor.failure_threshold
            if failure_threshold is None
            else failure_threshold
        )
        node = cls(
            identity,
            clock=clock,
            failure_threshold=threshold,
            backoff_policy=backoff_policy,
            rng=rng,
            max_outbound=max_outbound,
        )
        now = ClockReading(node.clock.monotonic_ns(), node.clock.wall_ns())
        rebase = Rebase(snapshot.taken_at, now, node.rng, restart_stagger_ns)
        governor = framework.peer_governor
        where: tuple[PathElement, ...] = ("framework", "address_book")
        try:
            # The tables' rows, read directly: no record object is built for them.
            node.address_book = AddressBook.from_state(framework.address_book.rows)
            expired = node.address_book.rebase_expiries(rebase.expiry)
            where = ("framework", "peer_governor")
            node.governor = PeerGovernor.from_state(
                threshold,
                governor.blocklist,
                governor.allowlist,
                (
                    (peer, PeerHealth(failures, rebase.past_time(last_event_ns), down))
                    for peer, failures, last_event_ns, down in governor.health.rows
                ),
                ip_allow=(network.network for network in governor.ip_allow),
                ip_deny=(network.network for network in governor.ip_deny),
            )
            where = ("framework", "backoff_table")
            backoff_rows = framework.backoff_table.rows
            node.backoff = BackoffTable.from_state(
                node.backoff.policy,
                node.rng,
                (
                    (
                        peer,
                        BackoffState(
                            attempts,
                            rebase.past_time(last_attempt_ns),
                            rebase.deadline(next_retry_ns),
                        ),
                    )
                    for peer, attempts, last_attempt_ns, next_retry_ns in backoff_rows
                ),
            )
            where = ("framework", "pending_outbound")
            node.outbound = OutboundQueue.from_state(
                (envelope for envelope, _redelivered in framework.pending_outbound.rows),
                max_outbound,
            )
            where = ("framework", "counters")
            node.counters = Counters.from_state(framework.counters.items())
            where = ("framework", "fired_phases")
            node.lifecycle = LifecycleQueue.from_state(framework.fired_phases)
            where = ("bus", "event_subscriptions")
            node.bus = TypedBus.from_state(snapshot.bus.event_subscriptions.items())
            node.command_ids = IdAllocator(framework.next_command_id)
            node.exec_ids = IdAllocator(framework.next_exec_id)
            where = ("framework", "extensions")
            node.extension_table = ExtensionTable.from_state(framework.extensions.items())
            where = ("framework", "peer_records")
            refused: list[tuple[PeerKey, ComponentError]] = []
            node.peer_records = PeerRecordBook.from_state(
                framework.peer_records.rows,
                on_refused_signed_record=lambda peer, error: refused.append((peer, error)),
            )
        except ComponentValueError as error:
            # State `decode` accepts but a component refuses (an address that is no multiaddr,
            # too many queued envelopes): a refused snapshot, so a `SnapshotError` too.
            raise RestoreValueError(error.reason, _in_snapshot(where, error.path)) from error
        if expired:
            node.counters.increment(_EXPIRED_ADDRESSES_DROPPED, expired)
        for peer, refusal in refused:
            LOG.warning(
                "restore: the signed peer record of %s is not restored (%s); the rest of its "
                "peer record is",
                PeerId.from_bytes(peer),
                refusal,
            )
        if refused:
            node.counters.increment(_SIGNED_RECORDS_REFUSED, len(refused))
        repaired = _drop_own_peer(node)
        if repaired:
            node.counters.increment(_OWN_PEER_DROPPED, repaired)
        node.execution = InFlightExecution.of(snapshot, rebase)
        return node


def _by_peer(rows: list[tuple[Any, ...]]) -> tuple[tuple[Any, ...], ...]:
    """`rows`, made in the table's own (memory) order, sorted by their peer alone: visiting
    100k scattered entries in peer order, or comparing whole rows, misses the CPU caches at
    every step (docs/performance.md, "Node snapshot and restore")."""
    rows.sort(key=itemgetter(0))
    return tuple(rows)


# Restores report their repairs in counters: saved with the node, shown by `nodesnap inspect`.
_OWN_PEER_DROPPED = "restore:own_peer_entries_dropped"
_EXPIRED_ADDRESSES_DROPPED = "restore:expired_addresses_dropped"
_SIGNED_RECORDS_REFUSED = "restore:signed_records_refused"


def _drop_own_peer(node: Node) -> int:
    """Drop the node's own PeerId from its address book, blocklist, health, backoff and peer
    records; how many entries there were. A node never dials or blocks itself, so such entries
    can only come from a snapshot that contradicts itself (or from a component used directly),
    and would let a host that dials what its address book lists dial itself. The allowlist
    keeps it: a list of a cluster's members naturally includes the node, and means nothing
    more."""
    own = node.peer_id.to_bytes()
    drops = [
        (own in node.address_book, node.address_book.forget),
        (node.governor.is_blocked(own), node.governor.unblock),
        (node.governor.health(own) is not None, node.governor.forget),
        (node.backoff.entry(own) is not None, node.backoff.forget),
        (own in node.peer_records, node.peer_records.forget),
    ]
    dropped = 0
    for present, drop in drops:
        if present:
            drop(own)
            dropped += 1
    return dropped


# A component names its own fields; the snapshot names them as in `docs/FORMAT.md`.
_FIELD_NAMES = {
    "peer": "peer_id",
    "name": "key",
    "kind": "key",
    "site_ids": "value",
    "namespace": "key",
    "data": "value",
}
_ENTRY_LISTS = {"entries", "items", "pending"}


def _in_snapshot(
    where: tuple[PathElement, ...], path: tuple[PathElement, ...]
) -> tuple[PathElement, ...]:
    """The path of a value a component refused, from the snapshot root: `("entries", 3,
    "addresses", 1)` of the address book is `$.framework.address_book[3].addresses[1]`."""
    inner = path[1:] if path and path[0] in _ENTRY_LISTS else path
    return (
        *where,
        *(_FIELD_NAMES.get(step, step) if isinstance(step, str) else step for step in inner),
    )
