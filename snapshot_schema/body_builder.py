"""Build a `TransientSnapshot` from a decoded body (plain msgpack values), validating everything.

Decoding must cost about the same per input byte whatever the body's shape: 1 MiB of 3-byte
frontier entries or timer events must not cost many times 1 MiB of peers. So every repeated
structure is tested a column at a time and built with no Python code per entry
(`structure_builder.py`): the decoded tuples are kept as they are where the records hold tuples
(frontier, mapping pairs, payload lists), the framework's per-peer tables keep their rows in a
`RecordTable` (records are built when asked for, see `record_table.py`), and other records are
built a column at a time (`execution_builder.py`). A structure that fails a test is walked
value by value (`body_walk.py`) to name the exact path of what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import eq, itemgetter, le
from typing import Any, TypeVar

from snapshot_schema import body_walk as walk
from snapshot_schema import execution_builder as execution
from snapshot_schema.checks import Path, check_multihash, check_name
from snapshot_schema.column_checks import (
    U32S,
    U64S,
    Column,
    ColumnTest,
    PeerColumns,
    all_multihashes,
    any_bytes,
    arrays,
    bools,
    column,
    first_repeat,
    mapping,
    names,
    nonempty_bytes,
    records,
    strictly_ascending,
)
from snapshot_schema.framework_records import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    ClockReading,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingOutboundEntry,
    check_failure_threshold,
)
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.ip_network import IpNetwork
from snapshot_schema.peer_record_checks import check_extension_name, extension_names
from snapshot_schema.peer_record_columns import (
    expiry_lists,
    ip_networks,
    keys_match_peers,
    metadata_lists,
    optional_nonempty_bytes,
    optional_public_keys,
    optional_u64s,
    protocol_lists,
)
from snapshot_schema.record_table import RecordTable
from snapshot_schema.structure_builder import Fields, kept, plain_mapping, structure
from snapshot_schema.transient import TransientSnapshot
from snapshot_schema.unchecked import unchecked_builder, unchecked_records
from snapshot_schema.version import CURRENT_SNAPSHOT_SPEC_VERSION

T = TypeVar("T")

_new_governor = unchecked_builder(PeerGovernorSnapshot)
_new_framework = unchecked_builder(FrameworkSnapshot)
_new_transient = unchecked_builder(TransientSnapshot)


def _retry_after_attempt(rows: Column) -> bool:
    """No backoff row retries before its last attempt (`last_attempt_ns <= next_retry_ns`)."""
    return all(map(le, map(itemgetter(2), rows), map(itemgetter(3), rows)))


def _table(
    raw: object,
    path: Path,
    cls: type[T],
    column_tests: tuple[ColumnTest, ...],
    row_test: Callable[[Column], bool] | None = None,
) -> RecordTable[T]:
    """A table of `cls` records, kept as its validated rows (see `record_table.py`)."""
    test = records(*column_tests)

    def fast(rows: Column) -> RecordTable[T] | None:
        if test(rows) and (row_test is None or row_test(rows)):
            return RecordTable.trusted(cls, rows)
        return None

    keyed = isinstance(column_tests[0], PeerColumns)
    return structure(
        raw,
        path,
        fast,
        lambda rows, where, start: walk.record_table(rows, where, cls, len(column_tests), start),
        across=_repeated_peer if keyed else None,
    )


def _repeated_peer(rows: Column, path: Path) -> None:
    """Refuses a keyed table whose rows are valid but for a peer listed twice."""
    repeat = first_repeat(column(rows, 0))
    if repeat is not None:
        raise walk.duplicate_peer(rows[repeat][0], (*path, repeat))


def _sorted_peers(peers: Column) -> frozenset[bytes] | None:
    return frozenset(peers) if all_multihashes(peers) and strictly_ascending(peers) else None


def build_peer_set(raw: object, path: Path) -> frozenset[bytes]:
    """A set of PeerIds, written sorted (`blocklist`, `allowlist`)."""
    return structure(raw, path, _sorted_peers, walk.sorted_peer_set)


def _fast_networks(rows: Column) -> tuple[IpNetwork, ...] | None:
    if not ip_networks(rows):
        return None
    return unchecked_records(IpNetwork, (column(rows, 0), column(rows, 1)), len(rows))


def build_networks(raw: object, path: Path) -> tuple[IpNetwork, ...]:
    """An IP filter's networks, written sorted (`ip_allow`, `ip_deny`)."""
    return structure(raw, path, _fast_networks, walk.ip_networks)


def _governor(raw: object, path: Path, peers: PeerColumns) -> PeerGovernorSnapshot:
    blocklist, allowlist, health, threshold, ip_allow, ip_deny = walk.array(raw, path, 6)
    walk.checked(check_failure_threshold, threshold, (*path, "failure_threshold"))
    return _new_governor(
        build_peer_set(blocklist, (*path, "blocklist")),
        None if allowlist is None else build_peer_set(allowlist, (*path, "allowlist")),
        build_health(health, (*path, "health"), peers),
        threshold,
        build_networks(ip_allow, (*path, "ip_allow")),
        build_networks(ip_deny, (*path, "ip_deny")),
    )


def build_health(raw: object, path: Path, peers: PeerColumns) -> RecordTable[PeerHealthSnapshot]:
    return _table(raw, path, PeerHealthSnapshot, (peers, U32S, U64S, bools))


def _expiry_per_address(rows: Column) -> bool:
    """Every address book row has one expiry per address."""
    return all(map(eq, map(len, column(rows, 1)), map(len, column(rows, 3))))


def _keys_match_peers(rows: Column) -> bool:
    return keys_match_peers(column(rows, 0), column(rows, 1))


def _framework(*fields: object) -> FrameworkSnapshot:
    """The record from its fields in declared order, all valid, stamped the current version."""
    return _new_framework(*fields, CURRENT_SNAPSHOT_SPEC_VERSION)


_ADDRESS_LISTS = arrays(nonempty_bytes, unique=True)
_COUNTERS = mapping(names, U64S)
_counters = plain_mapping(_COUNTERS)
_EXTENSIONS = mapping(extension_names, any_bytes)
_extensions = plain_mapping(_EXTENSIONS)
_fired_phases = kept(names)


def build_framework(raw: object, path: Path = ("framework",)) -> FrameworkSnapshot:
    """A `FrameworkSnapshot` from its plain layout (docs/FORMAT.md §3), fully validated.

    The fast way for a producer holding large tables to build the record: rows are checked a
    column at a time instead of through each record's constructor. Raises
    `SnapshotDecodeError` with the path of the first invalid value.

    The tables keep the given rows for `encode` to pack as they are. That is sound because
    passing every check below makes them canonical and immutable: exact tuples (which msgpack
    packs as arrays, like the encoder's lists) of exact `bytes`/`str`/`int`/`bool` leaves, in
    the order the records keep.
    """
    (
        counters,
        fired_phases,
        address_book,
        governor,
        backoff_table,
        pending_outbound,
        peer_id,
        next_command_id,
        next_exec_id,
        peer_records,
        extensions,
    ) = walk.array(raw, path, 11)
    peers = PeerColumns()
    return _framework(
        build_counters(counters, (*path, "counters")),
        build_fired_phases(fired_phases, (*path, "fired_phases")),
        build_address_book(address_book, (*path, "address_book"), peers),
        _governor(governor, (*path, "peer_governor"), peers),
        build_backoff_table(backoff_table, (*path, "backoff_table"), peers),
        build_pending_outbound(pending_outbound, (*path, "pending_outbound")),
        walk.checked(check_multihash, peer_id, (*path, "peer_id_bytes")),
        walk.u64(next_command_id, (*path, "next_command_id")),
        walk.u64(next_exec_id, (*path, "next_exec_id")),
        build_peer_records(peer_records, (*path, "peer_records"), peers),
        build_extensions(extensions, (*path, "extensions")),
    )


# One builder per framework structure (the governor's are above): `build_framework` builds
# each field with these, and so does a delta's decoder for a field's value (`delta_decoder.py`).
# `peers` tests the peer columns of one snapshot's tables (see `PeerColumns`).


def build_counters(raw: object, path: Path) -> FrozenMap[str, int]:
    return structure(
        raw,
        path,
        _counters,
        lambda values, where, start: walk.pairs(values, where, check_name, walk.u64, start),
        test=_COUNTERS,
    )


def build_fired_phases(raw: object, path: Path) -> tuple[str, ...]:
    return structure(raw, path, _fired_phases, walk.names)


def build_address_book(
    raw: object, path: Path, peers: PeerColumns
) -> RecordTable[AddressBookEntrySnapshot]:
    return _table(
        raw,
        path,
        AddressBookEntrySnapshot,
        (peers, _ADDRESS_LISTS, U64S, expiry_lists),
        _expiry_per_address,
    )


def build_backoff_table(raw: object, path: Path, peers: PeerColumns) -> RecordTable[BackoffEntry]:
    return _table(raw, path, BackoffEntry, (peers, U32S, U64S, U64S), _retry_after_attempt)


def build_pending_outbound(raw: object, path: Path) -> RecordTable[PendingOutboundEntry]:
    return _table(raw, path, PendingOutboundEntry, (nonempty_bytes, bools))


def build_peer_records(
    raw: object, path: Path, peers: PeerColumns
) -> RecordTable[PeerRecordSnapshot]:
    return _table(
        raw,
        path,
        PeerRecordSnapshot,
        (
            peers,
            optional_public_keys,
            protocol_lists,
            metadata_lists,
            optional_u64s,
            optional_nonempty_bytes,
        ),
        _keys_match_peers,
    )


def build_extensions(raw: object, path: Path) -> FrozenMap[str, bytes]:
    return structure(
        raw,
        path,
        _extensions,
        lambda values, where, start: walk.pairs(
            values, where, check_extension_name, walk.wire_state, start
        ),
        test=_EXTENSIONS,
    )


def build_framework_trusted(layout: tuple[Any, ...]) -> FrameworkSnapshot:
    """A `FrameworkSnapshot` from a plain layout that is valid *by construction*, unchecked.

    For producers whose own invariants already guarantee every rule `build_framework` checks:
    `node_runtime`'s components refuse invalid values where they enter and `Node.snapshot()`
    sorts its tables, so checking 100k rows again on every snapshot would only cost time (about
    half of `snapshot()` at 100k peers). The layout must be exactly what `build_framework`
    accepts: exact tuples, types and ranges, maps and sets strictly ascending. Given anything
    else, the record breaks its own type promises and `encode` writes bytes `decode` refuses;
    when in doubt, use `build_framework`.
    """
    (
        counters,
        fired_phases,
        address_book,
        (blocklist, allowlist, health, failure_threshold, ip_allow, ip_deny),
        backoff_table,
        pending_outbound,
        peer_id,
        next_command_id,
        next_exec_id,
        peer_records,
        extensions,
    ) = layout
    return _framework(
        FrozenMap(counters),
        fired_phases,
        RecordTable.trusted(AddressBookEntrySnapshot, address_book),
        _new_governor(
            frozenset(blocklist),
            None if allowlist is None else frozenset(allowlist),
            RecordTable.trusted(PeerHealthSnapshot, health),
            failure_threshold,
            _trusted_networks(ip_allow),
            _trusted_networks(ip_deny),
        ),
        RecordTable.trusted(BackoffEntry, backoff_table),
        RecordTable.trusted(PendingOutboundEntry, pending_outbound),
        peer_id,
        next_command_id,
        next_exec_id,
        RecordTable.trusted(PeerRecordSnapshot, peer_records),
        FrozenMap(extensions),
    )


def _trusted_networks(rows: tuple[tuple[bytes, int], ...]) -> tuple[IpNetwork, ...]:
    return unchecked_records(IpNetwork, (column(rows, 0), column(rows, 1)), len(rows))


def build_snapshot(body: object) -> TransientSnapshot:
    """The `TransientSnapshot` a decoded body describes; `SnapshotDecodeError` if it is invalid.

    `body` is the body as msgpack decodes it, or a *list* of its ten fields that nothing else
    references (`decode` passes one): the rows of each structure of records are then freed as
    soon as they are read (see `structure_builder.Fields`).
    """
    fields: Fields = (
        body if type(body) is list and len(body) == 10 else list(walk.array(body, (), 10))
    )
    # Not the record structures (3, 4, 7, 9): a name here would keep their rows alive.
    taken_at, frontier, slot_table = fields[:3]
    framework, bus, wire_states = fields[5], fields[6], fields[8]
    return _new_transient(
        walk.construct(ClockReading, walk.array(taken_at, ("taken_at",), 2), ("taken_at",)),
        execution.frontier(frontier),
        execution.slot_table(slot_table),
        execution.pending_async(fields, 3),
        execution.execution_state(fields, 4),
        build_framework(framework),
        execution.bus(bus),
        execution.ingress(fields, 7),
        execution.wire_states(wire_states),
        execution.pending_completions(fields, 9),
    )
