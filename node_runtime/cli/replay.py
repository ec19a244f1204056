"""`nodesnap replay FILE`: restore the snapshot into a `Node` and say what it would do next."""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping

from node_runtime.cli.exit_codes import ExitCode, file_error
from node_runtime.cli.files import (
    add_reading_options,
    int_at_least,
    read_identity,
    read_snapshot_file,
    reading_options,
)
from node_runtime.cli.journal import journal_text, read_journal, snapshot_named
from node_runtime.cli.render import iso_utc, peer_text, say, seconds
from node_runtime.clock import ManualClock
from node_runtime.node import Node
from node_runtime.peer_governor import Decision
from node_runtime.peer_id import PeerId
from snapshot_schema import SnapshotError

_NS = 1_000_000_000
_STAGGER_SEED = 0
_RESTORE = "restore:"


def _non_negative_seconds(text: str) -> int:
    """argparse `type=`: seconds (a decimal number, at least 0) as nanoseconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < 2**63 / _NS:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"expected seconds from 0 up, got {text!r}")
    return round(value * _NS)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "replay",
        help="restore a snapshot and show what the node would do next",
        description="Restore the snapshot into a Node (which needs that node's identity) and "
        "report what it would do next: which peers it may dial now (Node.may_dial; for a down "
        "peer that dial is a probe), which are backing off and for how long, which policy "
        "holds back (blocked, not allowed), how many envelopes await redelivery. By "
        "default the node is restored at the snapshot's instant; --downtime restores it as "
        "after a restart that many seconds later (expired deadlines are then staggered, with "
        "a fixed seed so the report is reproducible). A store's journal beside the file "
        "(NAME.journal) is verified and applied first: the node is restored from the state "
        "after its deltas.",
    )
    parser.add_argument(
        "file",
        metavar="FILE",
        help="a sealed .nsnap file, a raw snapshot, or a store's .journal (with its snapshot)",
    )
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="restore the snapshot file alone, without the journal beside it",
    )
    parser.add_argument(
        "--identity",
        required=True,
        metavar="KEYFILE",
        help="the node's identity key file (as written by `nodesnap keygen`)",
    )
    parser.add_argument(
        "--downtime",
        type=_non_negative_seconds,
        default=0,
        metavar="SECONDS",
        help="restore as if restarted this long after the snapshot (default 0)",
    )
    parser.add_argument(
        "--limit",
        type=int_at_least(0),
        default=10,
        metavar="N",
        help="list at most N peers per group (0: all; default 10)",
    )
    add_reading_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    identity = read_identity(args.identity)
    options = reading_options(args)
    loaded = read_snapshot_file(snapshot_named(args.file), options)
    journal = None
    if not args.no_journal:
        loaded, journal = read_journal(loaded, options)
    taken = loaded.state.taken_at
    downtime: int = args.downtime
    clock = ManualClock(taken.monotonic_ns + downtime, taken.wall_ns + downtime)
    try:
        rng = random.Random(_STAGGER_SEED)  # noqa: S311  # restart stagger, not secrets
        node = Node.restore(loaded.state, identity, clock=clock, rng=rng)
    except SnapshotError as error:
        raise file_error(args.file, error) from None
    say(
        *([] if journal is None else [f"journal: {journal_text(journal)}"]),
        f"restored {node.peer_id} as at {iso_utc(clock.wall_ns())} "
        f"({seconds(downtime)} after the snapshot)",
        _restore_counts(loaded.state.framework.counters, node),
        *report(node, args.limit),
    )
    return ExitCode.OK


def _restore_counts(saved: Mapping[str, int], node: Node) -> str:
    """What the restore itself counted (`restore:` counters, docs/runtime.md): addresses that
    expired while the node was down, signed records that did not verify, repairs."""
    moved = [
        f"{name.removeprefix(_RESTORE)} +{value - saved.get(name, 0)}"
        for name, value in node.counters.items()
        if name.startswith(_RESTORE) and value != saved.get(name, 0)
    ]
    return f"restore: {', '.join(moved) or 'nothing dropped or repaired'}"


def report(node: Node, limit: int) -> list[str]:
    """What the node would do next. A peer is ready to dial exactly when `Node.may_dial` says
    so: a down peer too, once its backoff has passed (that dial is its probe)."""
    now = node.clock.monotonic_ns()
    governor, backoff = node.governor, node.backoff
    known = (
        set(node.address_book.peers())
        | {peer for peer, _ in governor.health_items()}
        | {peer for peer, _ in backoff.items()}
        | governor.blocklist
    )
    ready: list[str] = []
    waiting: list[tuple[int, str]] = []
    held: list[str] = []
    for peer in sorted(known):
        decision = governor.decision(peer)
        retry = backoff.next_ready_ns(peer)
        addresses = len(node.address_book.addresses(peer, now)) if peer in node.address_book else 0
        down = decision is Decision.DOWN
        if node.may_dial(PeerId.from_bytes(peer)):
            probe = "; down, so this dial is a probe" if down else ""
            ready.append(f"{peer_text(peer)} ({addresses} addresses{probe})")
        elif decision in (Decision.BLOCKED, Decision.NOT_ALLOWED):
            held.append(f"{peer_text(peer)} ({decision.value})")
        else:  # policy lets it be dialled (down or not): only its backoff holds it back
            assert retry is not None  # may_dial said no, and policy did not: backoff did
            entry = backoff.entry(peer)
            attempts = 0 if entry is None else entry.attempts
            probe = "; down, so the retry is a probe" if down else ""
            waiting.append(
                (
                    retry - now,
                    f"{peer_text(peer)} retry in {seconds(retry - now)} "
                    f"(failed attempts: {attempts}{probe})",
                )
            )
    waiting.sort()  # soonest first: what the node does next
    envelopes = list(node.outbound.items())
    redelivered = sum(envelope.redelivered for envelope in envelopes)
    execution = node.execution
    return [
        *_group("ready to dial", ready, limit),
        *_group("backing off", [line for _, line in waiting], limit),
        *_group("held back by policy", held, limit),
        f"outbound: {len(envelopes)} envelopes queued, {redelivered} flagged for redelivery",
        f"lifecycle: pending phases: {', '.join(node.lifecycle.pending()) or 'none'}",
        f"execution: {len(execution.pending_async)} pending async ops, "
        f"{len(execution.ingress)} ingress events, "
        f"{len(execution.pending_completions)} pending completions",
        f"ids: next command {node.command_ids.next_id}, next exec {node.exec_ids.next_id}",
    ]


def _group(title: str, lines: list[str], limit: int) -> list[str]:
    shown = lines if limit == 0 else lines[:limit]
    out = [f"{title}: {len(lines)} peers", *(f"  {line}" for line in shown)]
    if len(shown) < len(lines):
        out.append(f"  … and {len(lines) - len(shown)} more (--limit 0 lists all)")
    return out
