"""Records for the framework state a node keeps across restarts: peers, policy, backoff, ids.

Every record is a frozen, slotted attrs class, compared by value and hashable. Construction
checks what the types promise and raises `SnapshotValueError` naming the field.
"""

from __future__ import annotations

from typing import Any

import attrs

from snapshot_schema.checks import (
    Path,
    as_frozen_map,
    as_frozenset,
    as_optional_frozenset,
    as_tuple,
    check_bool,
    check_bytes,
    check_frozenset,
    check_instance,
    check_map,
    check_multihash,
    check_name,
    check_nonempty_bytes,
    check_optional_u64,
    check_tuple,
    check_u32,
    check_u64,
    check_unique,
)
from snapshot_schema.errors import SnapshotValueError
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.ip_network import IpNetwork, as_networks, check_networks
from snapshot_schema.peer_record_checks import (
    MetadataValue,
    as_metadata,
    as_protocols,
    check_extension_name,
    check_public_key,
)
from snapshot_schema.peer_record_columns import check_metadata_tuple, check_protocol_tuple
from snapshot_schema.record_table import RecordTable
from snapshot_schema.reprs import bytes_repr, seq_repr, set_repr
from snapshot_schema.version import CURRENT_SNAPSHOT_SPEC_VERSION


@attrs.frozen(weakref_slot=False)
class ClockReading:
    """Both clocks read at one instant, in nanoseconds.

    A snapshot records when it was taken so restore can rebase monotonic deadlines into a new
    process (whose monotonic clock has another origin) using the wall clock.
    """

    monotonic_ns: int
    wall_ns: int

    def __attrs_post_init__(self) -> None:
        check_u64(self.monotonic_ns, ("monotonic_ns",))
        check_u64(self.wall_ns, ("wall_ns",))


def _permanent(entry: AddressBookEntrySnapshot) -> tuple[None, ...]:
    addresses = entry.addresses
    return (None,) * len(addresses) if type(addresses) is tuple else ()


@attrs.frozen(weakref_slot=False)
class AddressBookEntrySnapshot:
    """One peer's address book entry: its ordered, duplicate-free addresses, reference count and
    each address's expiry.

    `expires_ns[i]` is when `addresses[i]` expires, on the snapshot's monotonic clock, or `None`
    for an address that never does; it defaults to every address permanent.
    """

    peer_id: bytes = attrs.field(repr=bytes_repr)
    addresses: tuple[bytes, ...] = attrs.field(default=(), converter=as_tuple, repr=seq_repr)
    ref_count: int = 0
    expires_ns: tuple[int | None, ...] = attrs.field(
        default=attrs.Factory(_permanent, takes_self=True), converter=as_tuple, repr=seq_repr
    )

    def __attrs_post_init__(self) -> None:
        check_multihash(self.peer_id, ("peer_id",))
        check_tuple(self.addresses, check_nonempty_bytes, ("addresses",), unique=True)
        check_u64(self.ref_count, ("ref_count",))
        check_tuple(self.expires_ns, check_optional_u64, ("expires_ns",))
        if len(self.expires_ns) != len(self.addresses):
            raise SnapshotValueError(
                f"expected one expiry per address ({len(self.addresses)}), "
                f"got {len(self.expires_ns)}",
                ("expires_ns",),
            )


@attrs.frozen(weakref_slot=False)
class PeerHealthSnapshot:
    """One peer's health as the governor sees it."""

    peer_id: bytes = attrs.field(repr=bytes_repr)
    consecutive_failures: int = 0
    last_event_ns: int = 0
    down: bool = False

    def __attrs_post_init__(self) -> None:
        check_multihash(self.peer_id, ("peer_id",))
        check_u32(self.consecutive_failures, ("consecutive_failures",))
        check_u64(self.last_event_ns, ("last_event_ns",))
        check_bool(self.down, ("down",))


def _set_table(record: object, name: str, cls: type[Any], *, keyed: bool) -> None:
    """Check the table field `name` of `record` and store it as a `RecordTable`.

    A tuple must hold records of exactly `cls` (and, when `keyed`, no peer twice); a
    `RecordTable` of `cls` holds valid rows already, so only its keys are checked.
    """
    value = getattr(record, name)
    if type(value) is RecordTable:
        if value.record_class is not cls:
            raise SnapshotValueError(
                f"expected a table of `{cls.__name__}`, got one of `{value.record_class.__name__}`",
                (name,),
            )
        if keyed:
            rows = value.rows
            if len(set(map(_first, rows))) != len(rows):
                check_unique(rows, _first, (name,), "peer")
        return
    check_tuple(value, lambda item, path: check_instance(item, cls, path), (name,))
    if keyed:
        check_unique(value, _peer_of, (name,), "peer")
    object.__setattr__(record, name, RecordTable.of(cls, value))


def _first(row: tuple[bytes, ...]) -> bytes:
    return row[0]


def check_failure_threshold(value: object, path: Path) -> None:
    """A u32 of at least 1: the consecutive failures after which a peer is down."""
    check_u32(value, path)
    if value == 0:
        raise SnapshotValueError("expected a failure threshold of at least 1", path)


@attrs.frozen(weakref_slot=False)
class PeerGovernorSnapshot:
    """Peer policy and health: blocklist, allowlist (`None` = open policy), failure threshold,
    and the connection gate's IP networks.

    A remote address in any `ip_deny` network is refused; otherwise, when `ip_allow` is not
    empty, it must be in one of its networks. Both are given as any collection of `IpNetwork`s,
    `ipaddress` networks or text (`"10.0.0.0/8"`) and held sorted.
    """

    blocklist: frozenset[bytes] = attrs.field(
        default=frozenset(), converter=as_frozenset, repr=set_repr
    )
    allowlist: frozenset[bytes] | None = attrs.field(
        default=None, converter=as_optional_frozenset, repr=set_repr
    )
    health: RecordTable[PeerHealthSnapshot] = attrs.field(
        default=(), converter=as_tuple, repr=seq_repr
    )
    failure_threshold: int = 3
    ip_allow: tuple[IpNetwork, ...] = attrs.field(default=(), converter=as_networks)
    ip_deny: tuple[IpNetwork, ...] = attrs.field(default=(), converter=as_networks)

    def __attrs_post_init__(self) -> None:
        check_frozenset(self.blocklist, check_multihash, ("blocklist",))
        if self.allowlist is not None:
            check_frozenset(self.allowlist, check_multihash, ("allowlist",))
        _set_table(self, "health", PeerHealthSnapshot, keyed=True)
        check_failure_threshold(self.failure_threshold, ("failure_threshold",))
        check_networks(self.ip_allow, ("ip_allow",))
        check_networks(self.ip_deny, ("ip_deny",))


@attrs.frozen(weakref_slot=False)
class BackoffEntry:
    """One peer's backoff: consecutive failures and when (monotonic ns) a retry is allowed."""

    peer_id: bytes = attrs.field(repr=bytes_repr)
    attempts: int = 0
    last_attempt_ns: int = 0
    next_retry_ns: int = 0

    def __attrs_post_init__(self) -> None:
        check_multihash(self.peer_id, ("peer_id",))
        check_u32(self.attempts, ("attempts",))
        check_u64(self.last_attempt_ns, ("last_attempt_ns",))
        check_u64(self.next_retry_ns, ("next_retry_ns",))
        if self.next_retry_ns < self.last_attempt_ns:
            raise SnapshotValueError(
                f"next retry ({self.next_retry_ns}) precedes the last attempt "
                f"({self.last_attempt_ns})",
                ("next_retry_ns",),
            )


@attrs.frozen(weakref_slot=False)
class PendingOutboundEntry:
    """An envelope not yet sent; `redelivered` once a restore has surfaced it before."""

    envelope_bytes: bytes = attrs.field(repr=bytes_repr)
    redelivered: bool = False

    def __attrs_post_init__(self) -> None:
        check_nonempty_bytes(self.envelope_bytes, ("envelope_bytes",))
        check_bool(self.redelivered, ("redelivered",))


def _typed_pairs(pairs: object) -> object:
    """Metadata compared with its types: `1`, `1.0` and `True` are equal in Python but are
    different values (and bytes) in a snapshot."""
    if type(pairs) is not tuple:
        return pairs
    return tuple((key, type(value), value) for key, value in pairs)


@attrs.frozen(weakref_slot=False)
class PeerRecordSnapshot:
    """What the node knows about one peer beyond its addresses (docs/FORMAT.md §3).

    - `public_key`: the libp2p `PublicKey` protobuf; it must match the PeerId where the PeerId
      embeds (identity) or hashes (sha2-256) it.
    - `protocols`: the protocol ids the peer supports, held sorted (any collection is accepted).
    - `metadata`: `(key, value)` pairs sorted by key (any mapping is accepted); values keep
      their type exactly: `str`, `int`, `float`, `bool`, `bytes` or `None`.
    - `latency_ns`: a moving average of round-trip times, in nanoseconds.
    - `signed_record`: the peer's latest signed peer record (a libp2p signed envelope), kept as
      received; the runtime verifies it on restore.
    """

    peer_id: bytes = attrs.field(repr=bytes_repr)
    public_key: bytes | None = attrs.field(default=None, repr=bytes_repr)
    protocols: tuple[str, ...] = attrs.field(default=(), converter=as_protocols)
    metadata: tuple[tuple[str, MetadataValue], ...] = attrs.field(
        default=(), converter=as_metadata, eq=_typed_pairs
    )
    latency_ns: int | None = None
    signed_record: bytes | None = attrs.field(default=None, repr=bytes_repr)

    def __attrs_post_init__(self) -> None:
        check_multihash(self.peer_id, ("peer_id",))
        check_public_key(self.peer_id, self.public_key, ("public_key",))
        check_protocol_tuple(self.protocols, ("protocols",))
        check_metadata_tuple(self.metadata, ("metadata",))
        check_optional_u64(self.latency_ns, ("latency_ns",))
        if self.signed_record is not None:
            check_nonempty_bytes(self.signed_record, ("signed_record",))


def _peer_of(
    entry: AddressBookEntrySnapshot | PeerHealthSnapshot | BackoffEntry | PeerRecordSnapshot,
) -> bytes:
    return entry.peer_id


@attrs.frozen(kw_only=True, weakref_slot=False)
class FrameworkSnapshot:
    """The framework state a restored node must not lose.

    Keyed tables (`address_book`, `peer_governor.health`, `backoff_table`, `peer_records`) hold
    at most one row per peer; their order is kept as given (`Node.snapshot()` sorts them by
    peer id). The tables are given as tuples (or lists) of records, or as `RecordTable`s, and
    are always held as `RecordTable`s: sequences that keep the rows and build records on
    demand. `extensions` holds host-specific state by namespace (`"libp2p/pubsub"`): opaque
    bytes that the namespace's owner encodes.
    """

    counters: FrozenMap[str, int] = attrs.field(factory=FrozenMap, converter=as_frozen_map)
    fired_phases: tuple[str, ...] = attrs.field(default=(), converter=as_tuple)
    address_book: RecordTable[AddressBookEntrySnapshot] = attrs.field(
        default=(), converter=as_tuple, repr=seq_repr
    )
    peer_governor: PeerGovernorSnapshot = attrs.field(factory=PeerGovernorSnapshot)
    backoff_table: RecordTable[BackoffEntry] = attrs.field(
        default=(), converter=as_tuple, repr=seq_repr
    )
    pending_outbound: RecordTable[PendingOutboundEntry] = attrs.field(
        default=(), converter=as_tuple, repr=seq_repr
    )
    peer_id_bytes: bytes = attrs.field(repr=bytes_repr)
    next_command_id: int = 0
    next_exec_id: int = 0
    peer_records: RecordTable[PeerRecordSnapshot] = attrs.field(
        default=(), converter=as_tuple, repr=seq_repr
    )
    extensions: FrozenMap[str, bytes] = attrs.field(factory=FrozenMap, converter=as_frozen_map)
    spec_version: int = CURRENT_SNAPSHOT_SPEC_VERSION

    def __attrs_post_init__(self) -> None:
        check_map(self.counters, check_name, check_u64, ("counters",))
        check_tuple(self.fired_phases, check_name, ("fired_phases",))
        _set_table(self, "address_book", AddressBookEntrySnapshot, keyed=True)
        check_instance(self.peer_governor, PeerGovernorSnapshot, ("peer_governor",))
        _set_table(self, "backoff_table", BackoffEntry, keyed=True)
        _set_table(self, "pending_outbound", PendingOutboundEntry, keyed=False)
        check_multihash(self.peer_id_bytes, ("peer_id_bytes",))
        check_u64(self.next_command_id, ("next_command_id",))
        check_u64(self.next_exec_id, ("next_exec_id",))
        _set_table(self, "peer_records", PeerRecordSnapshot, keyed=True)
        check_map(self.extensions, check_extension_name, check_bytes, ("extensions",))
        # Records in memory always have the current shape: older versions exist only as bytes,
        # upgraded by registered migrations before any record is built.
        if self.spec_version != CURRENT_SNAPSHOT_SPEC_VERSION:
            raise SnapshotValueError(
                f"expected spec version {CURRENT_SNAPSHOT_SPEC_VERSION}, got {self.spec_version!r}",
                ("spec_version",),
            )
