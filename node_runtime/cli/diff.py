"""`nodesnap diff A B`: what changed from snapshot A to snapshot B, component by component."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.files import (
    SnapshotFile,
    add_reading_options,
    read_snapshot_file,
    reading_options,
)
from node_runtime.cli.peer_state import expiry_text
from node_runtime.cli.record_diff import extension_changes, peer_record_changes
from node_runtime.cli.render import address_text, iso_utc, peer_text, say, seconds
from node_runtime.testing.diff import show, snapshot_diff
from snapshot_schema import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    IpNetwork,
    PeerHealthSnapshot,
    TransientSnapshot,
)

Section = tuple[str, list[str]]
Row = TypeVar("Row", AddressBookEntrySnapshot, PeerHealthSnapshot, BackoffEntry)
"""A row of a table keyed by peer."""

# Components compared here by meaning; anything else (bus, execution) path by path.
_COMPARED = ("$.taken_at", "$.framework")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "diff",
        help="what changed between two snapshots",
        description="What changed from snapshot A to snapshot B, by component: peers added, "
        "removed or changed in the address book (addresses, their expiry, references), counters "
        "moved, policy (blocks, allowlist, IP filters), health and backoff changes, envelopes "
        "queued and sent, peer records field by field, extensions, ids; the bus and in-flight "
        "execution path by path. Both files are verified first. Exits 0 whether or not they "
        "differ.",
    )
    parser.add_argument("a", metavar="A", help="the earlier snapshot file")
    parser.add_argument("b", metavar="B", help="the later snapshot file")
    add_reading_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    options = reading_options(args)
    a = read_snapshot_file(args.a, options)
    b = read_snapshot_file(args.b, options)
    say(f"a: {_label(a)}", f"b: {_label(b)}")
    sections = [section for section in changes(a.state, b.state) if section[1]]
    for title, lines in sections:
        say(f"{title}:", *(f"  {line}" for line in lines))
    if not sections:
        say("no differences")
    return ExitCode.OK


def _label(loaded: SnapshotFile) -> str:
    origin = "raw" if loaded.header is None else f"generation {loaded.header.generation}"
    return f"{loaded.path} ({origin}, taken {iso_utc(loaded.state.taken_at.wall_ns)})"


def changes(a: TransientSnapshot, b: TransientSnapshot) -> list[Section]:
    """Each component's title and one line per change (an empty list when it did not change)."""
    fa, fb = a.framework, b.framework
    ga, gb = fa.peer_governor, fb.peer_governor
    policy = [*_moved("failure threshold", ga.failure_threshold, gb.failure_threshold)]
    policy += _set_changes("blocked", ga.blocklist, gb.blocklist)
    if ga.allowlist is None or gb.allowlist is None:
        if ga.allowlist != gb.allowlist:
            policy.append(f"allowlist {_allowlist(ga.allowlist)} -> {_allowlist(gb.allowlist)}")
    else:
        policy += _set_changes("allowed", ga.allowlist, gb.allowlist)
    policy += _network_changes("ip allow", ga.ip_allow, gb.ip_allow)
    policy += _network_changes("ip deny", ga.ip_deny, gb.ip_deny)
    wall = b.taken_at.wall_ns - a.taken_at.wall_ns
    when = "after" if wall > 0 else "before"
    return [
        ("time", [] if wall == 0 else [f"b taken {seconds(abs(wall))} {when} a"]),
        ("node", _moved("peer", peer_text(fa.peer_id_bytes), peer_text(fb.peer_id_bytes))),
        ("address book", _address_book(a, b)),
        ("counters", _counters(dict(fa.counters), dict(fb.counters))),
        ("policy", policy),
        ("health", _health(ga.health, gb.health)),
        ("backoff", _backoff(a, b)),
        ("outbound", _outbound(a, b)),
        ("peer records", peer_record_changes(fa.peer_records, fb.peer_records)),
        ("extensions", extension_changes(fa.extensions, fb.extensions)),
        (
            "ids",
            _moved("next command id", fa.next_command_id, fb.next_command_id)
            + _moved("next exec id", fa.next_exec_id, fb.next_exec_id),
        ),
        ("lifecycle", _moved("pending phases", _phases(fa.fired_phases), _phases(fb.fired_phases))),
        (
            "bus and execution",
            [
                str(difference)
                for difference in snapshot_diff(a, b)
                if not difference.path.startswith(_COMPARED)
            ],
        ),
    ]


def _moved(what: str, a: object, b: object) -> list[str]:
    return [] if a == b else [f"{what} {a} -> {b}"]


def _phases(phases: tuple[str, ...]) -> str:
    return ", ".join(phases) or "none"


def _allowlist(allowlist: frozenset[bytes] | None) -> str:
    return "open" if allowlist is None else f"of {len(allowlist)} peers"


def _network_changes(what: str, a: tuple[IpNetwork, ...], b: tuple[IpNetwork, ...]) -> list[str]:
    return [f"+ {what} {network}" for network in b if network not in a] + [
        f"- {what} {network}" for network in a if network not in b
    ]


def _set_changes(what: str, a: frozenset[bytes], b: frozenset[bytes]) -> list[str]:
    return [f"+ {what} {peer_text(peer)}" for peer in sorted(b - a)] + [
        f"- {what} {peer_text(peer)}" for peer in sorted(a - b)
    ]


def _keyed(
    a_rows: Sequence[Row], b_rows: Sequence[Row]
) -> tuple[list[Row], list[tuple[Row, Row]], list[Row]]:
    """Rows only in b (added), in both but different (changed), only in a (removed)."""
    a = {row.peer_id: row for row in a_rows}
    b = {row.peer_id: row for row in b_rows}
    added = [row for peer, row in b.items() if peer not in a]
    changed = [(a[peer], row) for peer, row in b.items() if peer in a and a[peer] != row]
    removed = [row for peer, row in a.items() if peer not in b]
    return added, changed, removed


def _address_book(a: TransientSnapshot, b: TransientSnapshot) -> list[str]:
    """`+ peer` with its addresses, `~ peer <change>` per change, `- peer`. Expiries are shown
    relative to each snapshot's own instant, and compared as the deadlines they are."""
    taken_a, taken_b = a.taken_at.monotonic_ns, b.taken_at.monotonic_ns
    added, changed, removed = _keyed(a.framework.address_book, b.framework.address_book)
    lines = [
        f"+ peer {peer_text(row.peer_id)} "
        + " ".join(_address(address, expiry, taken_b) for address, expiry in _expiries(row))
        for row in added
    ]
    for old, new in changed:
        before, after = dict(_expiries(old)), dict(_expiries(new))
        edits = [
            f"+{_address(address, expiry, taken_b)}"
            for address, expiry in after.items()
            if address not in before
        ]
        edits += [f"-{address_text(address)}" for address in before if address not in after]
        edits += [
            f"{address_text(address)} {expiry_text(before[address], taken_a)} -> "
            f"{expiry_text(expiry, taken_b)}"
            for address, expiry in after.items()
            if address in before and before[address] != expiry
        ]
        edits += _moved("refs", old.ref_count, new.ref_count)
        if not edits:  # the same addresses in another order
            edits = ["addresses reordered"]
        lines += [f"~ peer {peer_text(new.peer_id)} {edit}" for edit in edits]
    return lines + [f"- peer {peer_text(row.peer_id)}" for row in removed]


def _expiries(entry: AddressBookEntrySnapshot) -> list[tuple[bytes, int | None]]:
    return list(zip(entry.addresses, entry.expires_ns, strict=True))


def _address(address: bytes, expiry: int | None, taken: int) -> str:
    """An address, and when it expires unless it is permanent."""
    text = address_text(address)
    return text if expiry is None else f"{text} ({expiry_text(expiry, taken)})"


def _counters(a: dict[str, int], b: dict[str, int]) -> list[str]:
    lines = []
    for name in [*a, *(name for name in b if name not in a)]:
        old, new = a.get(name, 0), b.get(name, 0)
        if old != new:
            lines.append(f"{name} {old} -> {new} ({new - old:+d})")
    return lines


def _table(
    a_rows: Sequence[Row],
    b_rows: Sequence[Row],
    old_state: Callable[[Row], str],
    new_state: Callable[[Row], str],
    gone: str,
) -> list[str]:
    """A peer-keyed table's changes, each row shown by `old_state` in a, `new_state` in b."""
    added, changed, removed = _keyed(a_rows, b_rows)
    return (
        [f"+ {peer_text(row.peer_id)} {new_state(row)}" for row in added]
        + [
            f"~ {peer_text(new.peer_id)} {old_state(old)} -> {new_state(new)}"
            for old, new in changed
        ]
        + [f"- {peer_text(row.peer_id)} {gone}" for row in removed]
    )


def _health(
    a_rows: Sequence[PeerHealthSnapshot], b_rows: Sequence[PeerHealthSnapshot]
) -> list[str]:
    def state(row: PeerHealthSnapshot) -> str:
        return f"failures {row.consecutive_failures}, {'down' if row.down else 'up'}"

    return _table(a_rows, b_rows, state, state, "no longer tracked")


def _backoff(a: TransientSnapshot, b: TransientSnapshot) -> list[str]:
    def state(snapshot: TransientSnapshot) -> Callable[[BackoffEntry], str]:
        def show(row: BackoffEntry) -> str:
            # Relative to the snapshot's own instant: monotonic times mean nothing on their own.
            wait = row.next_retry_ns - snapshot.taken_at.monotonic_ns
            retry = f"retry in {seconds(wait)}" if wait > 0 else "retry due"
            return f"attempts {row.attempts}, {retry}"

        return show

    return _table(
        a.framework.backoff_table, b.framework.backoff_table, state(a), state(b), "cleared"
    )


def _outbound(a: TransientSnapshot, b: TransientSnapshot) -> list[str]:
    # By content, not position: the queue is FIFO, so sent envelopes leave its front and new
    # ones join its back; the same bytes queued twice count twice.
    old = Counter(entry.envelope_bytes for entry in a.framework.pending_outbound)
    new = Counter(entry.envelope_bytes for entry in b.framework.pending_outbound)
    queued, sent = new - old, old - new
    return [f"+ queued {show(envelope)}" for envelope in queued.elements()] + [
        f"- sent {show(envelope)}" for envelope in sent.elements()
    ]
