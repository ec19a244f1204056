"""`nodesnap inspect FILE`: the header and a readable summary of the state, or all of it as JSON."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import TypeVar

from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.files import (
    SnapshotFile,
    add_reading_options,
    int_at_least,
    read_snapshot_file,
    reading_options,
)
from node_runtime.cli.journal import (
    JournalView,
    journal_json,
    journal_text,
    read_journal,
    snapshot_named,
)
from node_runtime.cli.peer_state import (
    expiry_text,
    key_text,
    latency_text,
    metadata_text,
    size_text,
)
from node_runtime.cli.render import (
    JsonValue,
    address_text,
    dump_json,
    flags_text,
    header_json,
    iso_utc,
    peer_text,
    say,
    seconds,
    to_json,
    u64,
)
from node_runtime.sealed_file import Flags
from snapshot_schema import IpNetwork, PeerRecordSnapshot, TransientSnapshot

_LOCKED = "encrypted: pass --key-file to show it"
_LABEL = 15  # the width of a peer record's field labels

Item = TypeVar("Item")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "inspect",
        help="show a snapshot file's header and state",
        description="Show a snapshot file's header (version, PeerId, generation, time, flags, "
        "sizes), a summary of its state, and its peers' addresses (with their expiry), IP "
        "filters, peer records and extensions. The file is verified first; an encrypted file "
        "read without --key-file shows its header only. A store's journal beside the file "
        "(NAME.journal) is verified and applied: the state shown is the one after its deltas.",
    )
    parser.add_argument(
        "file",
        metavar="FILE",
        help="a sealed .nsnap file, a raw snapshot, or a store's .journal (with its snapshot)",
    )
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="show the snapshot file alone, without the journal beside it",
    )
    parser.add_argument("--json", action="store_true", help="the full content as JSON")
    parser.add_argument(
        "--limit",
        type=int_at_least(0),
        default=10,
        metavar="N",
        help="list at most N items per list: peers, their addresses, protocols and metadata, "
        "networks, extensions (0: all; default 10; --json lists all)",
    )
    add_reading_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    options = reading_options(args)
    loaded = read_snapshot_file(snapshot_named(args.file), options, need_state=False)
    journal = None
    if not args.no_journal:
        loaded, journal = read_journal(loaded, options)
    if args.json:
        print(dump_json(_as_json(loaded, journal)))
    else:
        say(*_describe(loaded, journal, args.limit))
    return ExitCode.OK


def _verified(loaded: SnapshotFile) -> list[str]:
    if loaded.header is None:
        return ["decodes"]
    checks = ["integrity"]
    if Flags.SIGNED in loaded.header.flags:
        checks.append("signature")
    if loaded.snapshot is not None:
        checks.append("decrypted" if Flags.ENCRYPTED in loaded.header.flags else "decodes")
    return checks


def _as_json(loaded: SnapshotFile, journal: JournalView | None) -> JsonValue:
    return {
        "file": loaded.path,
        "size": u64(loaded.size),
        "format": "raw" if loaded.header is None else "sealed",
        "header": None if loaded.header is None else header_json(loaded.header),
        "verified": list[JsonValue](_verified(loaded)),
        "journal": journal_json(journal),
        "snapshot": None if loaded.snapshot is None else to_json(loaded.snapshot),
    }


def _describe(loaded: SnapshotFile, journal: JournalView | None, limit: int) -> list[str]:
    lines = [f"file          {loaded.path} ({loaded.size} bytes)"]
    header = loaded.header
    if header is None:
        lines += [
            "format        raw encoded snapshot (no container: unsigned, no generation)",
            f"spec version  {loaded.stored_version}",
        ]
    else:
        lines += [
            f"format        sealed, container version {header.container_version}",
            f"spec version  {header.spec_version}",
            f"peer          {header.peer_id}",
            f"generation    {header.generation}",
            f"created       {iso_utc(header.created_wall_ns)}",
            f"flags         {flags_text(header.flags)}",
            f"sizes         header {header.header_length}, body {header.body_length}, "
            f"encoded {header.encoded_length} bytes",
        ]
    lines.append(f"verified      {', '.join(_verified(loaded))}")
    if journal is not None:
        lines.append(f"journal       {journal_text(journal)}")
    if loaded.snapshot is None:
        lines.append(f"state         {_LOCKED}")
    else:
        lines.append("state")
        lines += [f"  {line}" for line in summary(loaded.snapshot)]
        lines += details(loaded.snapshot, limit)
    return lines


def summary(snapshot: TransientSnapshot) -> list[str]:
    """One line per component: sizes and the few values an operator looks for first."""
    framework = snapshot.framework
    governor = framework.peer_governor
    taken = snapshot.taken_at
    counters = ", ".join(f"{name}={value}" for name, value in framework.counters.items())
    addresses = sum(len(entry.addresses) for entry in framework.address_book)
    expiring = sum(
        expiry is not None for entry in framework.address_book for expiry in entry.expires_ns
    )
    records = framework.peer_records
    keys = sum(record.public_key is not None for record in records)
    signed = sum(record.signed_record is not None for record in records)
    extensions = framework.extensions
    down = sum(health.down for health in governor.health)
    waiting = sum(entry.next_retry_ns > taken.monotonic_ns for entry in framework.backoff_table)
    outbound = framework.pending_outbound
    redelivered = sum(entry.redelivered for entry in outbound)
    allowlist = "open" if governor.allowlist is None else f"{len(governor.allowlist)} peers"
    subscriptions = snapshot.bus.event_subscriptions
    return [
        f"taken at      {iso_utc(taken.wall_ns)} (monotonic {seconds(taken.monotonic_ns)})",
        f"peer          {peer_text(framework.peer_id_bytes)}",
        f"counters      {counters or 'none'}",
        f"address book  {len(framework.address_book)} peers, {addresses} addresses "
        f"({f'{expiring} expiring' if expiring else 'all permanent'})",
        f"governor      failure threshold {governor.failure_threshold}, "
        f"blocklist {len(governor.blocklist)} peers, allowlist {allowlist}",
        f"ip filter     allow {len(governor.ip_allow)} networks, "
        f"deny {len(governor.ip_deny)} networks",
        f"health        {len(governor.health)} peers tracked, {down} down",
        f"backoff       {len(framework.backoff_table)} peers, {waiting} still waiting",
        f"outbound      {len(outbound)} envelopes "
        f"({sum(len(entry.envelope_bytes) for entry in outbound)} bytes, "
        f"{redelivered} redelivered)",
        f"peer records  {len(records)} peers, {keys} with a public key, "
        f"{signed} with a signed record",
        f"extensions    {len(extensions)} namespaces ({sum(map(len, extensions.values()))} bytes)",
        f"ids           next command {framework.next_command_id}, "
        f"next exec {framework.next_exec_id}",
        f"lifecycle     pending phases: {', '.join(framework.fired_phases) or 'none'}",
        f"bus           {len(subscriptions)} event kinds, "
        f"{sum(len(ids) for ids in subscriptions.values())} subscriptions",
        f"execution     frontier {len(snapshot.frontier)}, slots {len(snapshot.slot_table)}, "
        f"pending async {len(snapshot.pending_async)}, "
        f"executions {len(snapshot.execution_state)}, ingress {len(snapshot.ingress)}, "
        f"completions {len(snapshot.pending_completions)}, "
        f"wire states {len(snapshot.wire_states)}",
    ]


def details(snapshot: TransientSnapshot, limit: int) -> list[str]:
    """The peer state item by item: each peer's addresses with their expiry, the IP filters,
    the peer records, the extensions; empty ones left out. Every list stops after `limit` items
    (0: none does), so a snapshot of 100,000 peers still prints a screenful."""
    framework = snapshot.framework
    governor = framework.peer_governor
    taken = snapshot.taken_at.monotonic_ns
    extensions = framework.extensions

    def entry(row: tuple[bytes, tuple[bytes, ...], int, tuple[int | None, ...]]) -> list[str]:
        peer, addresses, ref_count, expiries = row
        shown = [
            f"{address_text(address)}  {expiry_text(expiry, taken)}"
            for address, expiry in _first(zip(addresses, expiries, strict=True), limit)
        ]
        more = _more(len(shown), len(addresses), "addresses")
        return [f"{peer_text(peer)} refs {ref_count}", *_indent([*shown, *more])]

    def record(record: PeerRecordSnapshot) -> list[str]:
        return [peer_text(record.peer_id), *_indent(_record_fields(record, limit))]

    def network(network: IpNetwork) -> list[str]:
        return [str(network)]

    def extension(namespace: str) -> list[str]:
        return [f"{namespace}  {len(extensions[namespace])} bytes"]

    return [
        *_section("address book", framework.address_book.rows, "peers", limit, entry),
        *_section("ip allow", governor.ip_allow, "networks", limit, network),
        *_section("ip deny", governor.ip_deny, "networks", limit, network),
        *_section("peer records", framework.peer_records, "peers", limit, record),
        *_section("extensions", tuple(extensions), "namespaces", limit, extension),
    ]


def _record_fields(record: PeerRecordSnapshot, limit: int) -> list[str]:
    """A peer record's fields, labelled, a line per value; each list cut after `limit`."""
    protocols = _first(record.protocols, limit)
    metadata = [f"{key} = {metadata_text(value)}" for key, value in _first(record.metadata, limit)]
    fields = [
        ("public key", [key_text(record.public_key)]),
        ("protocols", [*protocols, *_more(len(protocols), len(record.protocols), "protocols")]),
        ("metadata", [*metadata, *_more(len(metadata), len(record.metadata), "entries")]),
        ("latency", [latency_text(record.latency_ns)]),
        ("signed record", [size_text(record.signed_record)]),
    ]
    return [
        f"{label if index == 0 else '':<{_LABEL}}{value}"
        for label, values in fields
        for index, value in enumerate(values or ["none"])
    ]


def _section(
    title: str, items: Sequence[Item], noun: str, limit: int, show: Callable[[Item], list[str]]
) -> list[str]:
    """A listing: its title, then the first `limit` items, each in the lines `show` gives."""
    if not items:
        return []
    shown = _first(items, limit)
    lines = [line for item in shown for line in show(item)]
    return [
        f"{title} ({len(items)} {noun})",
        *_indent(lines),
        *_indent(_more(len(shown), len(items), noun)),
    ]


def _first(items: Iterable[Item], limit: int) -> list[Item]:
    """The first `limit` items (all for 0), reading no further."""
    return list(islice(items, limit or None))


def _more(shown: int, total: int, noun: str) -> list[str]:
    """A line saying how many items were left out, if any were."""
    return [f"… and {total - shown} more {noun} (--limit 0 lists all)"] if total > shown else []


def _indent(lines: list[str]) -> list[str]:
    return [f"  {line}" for line in lines]
