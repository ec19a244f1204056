"""`nodesnap inspect FILE`: the header and a readable summary of the state, or all of it as JSON."""

from __future__ import annotations

import argparse

from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.files import (
    SnapshotFile,
    add_reading_options,
    read_snapshot_file,
    reading_options,
)
from node_runtime.cli.render import (
    JsonValue,
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
from snapshot_schema import TransientSnapshot

_LOCKED = "encrypted: pass --key-file to show it"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "inspect",
        help="show a snapshot file's header and state",
        description="Show a snapshot file's header (version, PeerId, generation, time, flags, "
        "sizes) and a summary of its state. The file is verified first; an encrypted file "
        "read without --key-file shows its header only.",
    )
    parser.add_argument("file", metavar="FILE", help="a sealed .nsnap file or a raw snapshot")
    parser.add_argument("--json", action="store_true", help="the full content as JSON")
    add_reading_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    loaded = read_snapshot_file(args.file, reading_options(args), need_state=False)
    if args.json:
        print(dump_json(_as_json(loaded)))
    else:
        say(*_describe(loaded))
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


def _as_json(loaded: SnapshotFile) -> JsonValue:
    return {
        "file": loaded.path,
        "size": u64(loaded.size),
        "format": "raw" if loaded.header is None else "sealed",
        "header": None if loaded.header is None else header_json(loaded.header),
        "verified": list[JsonValue](_verified(loaded)),
        "snapshot": None if loaded.snapshot is None else to_json(loaded.snapshot),
    }


def _describe(loaded: SnapshotFile) -> list[str]:
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
    if loaded.snapshot is None:
        lines.append(f"state         {_LOCKED}")
    else:
        lines.append("state")
        lines += [f"  {line}" for line in summary(loaded.snapshot)]
    return lines


def summary(snapshot: TransientSnapshot) -> list[str]:
    """One line per component: sizes and the few values an operator looks for first."""
    framework = snapshot.framework
    governor = framework.peer_governor
    taken = snapshot.taken_at
    counters = ", ".join(f"{name}={value}" for name, value in framework.counters.items())
    addresses = sum(len(entry.addresses) for entry in framework.address_book)
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
        f"address book  {len(framework.address_book)} peers, {addresses} addresses",
        f"governor      failure threshold {governor.failure_threshold}, "
        f"blocklist {len(governor.blocklist)} peers, allowlist {allowlist}",
        f"health        {len(governor.health)} peers tracked, {down} down",
        f"backoff       {len(framework.backoff_table)} peers, {waiting} still waiting",
        f"outbound      {len(outbound)} envelopes "
        f"({sum(len(entry.envelope_bytes) for entry in outbound)} bytes, "
        f"{redelivered} redelivered)",
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
