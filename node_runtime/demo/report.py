"""The demo's checks, each judged from the run's `Measurements`, and the printed report."""

from __future__ import annotations

from collections import Counter

import attrs

from node_runtime.demo.scenario import Measurements

_NS = 1_000_000_000


@attrs.frozen
class Check:
    name: str
    passed: bool
    detail: str


def _span(values: tuple[int, ...]) -> str:
    return f"{min(values)}..{max(values)}" if values else "none"


def _at(measured: Measurements, wall_ns: int) -> str:
    """A wall time as seconds from the kill."""
    return f"{(wall_ns - measured.killed_at_ns) / _NS:+.3f} s"


def _identity(m: Measurements) -> Check:
    same = m.peer_after == (m.peer_before,) and m.senders_after == (m.peer_before,)
    return Check(
        "same PeerId",
        same and m.restored_generation is not None,
        f"{m.peer_before} before; restored node and host: {', '.join(m.peer_after)}; its "
        f"envelopes after the restart came from {', '.join(m.senders_after) or 'nobody'}; "
        f"restored from generation {m.restored_generation}",
    )


def _ids(m: Measurements) -> Check:
    before, after = dict(m.ids_before), dict(m.ids_after)
    parts = []
    passed = True
    for kind, old in before.items():
        new = after.get(kind, ())
        passed = passed and bool(old) and bool(new) and min(new) > max(old)
        parts.append(f"{kind} {_span(old)} before, {_span(new)} after")
    return Check("no ID reused", passed, "; ".join(parts))


def _blocked(m: Measurements) -> Check:
    return Check(
        "blocked peer still blocked",
        m.blocked_in_restored_policy and m.delivered_from_blocked_after_block == 0,
        f"in the restored blocklist: {'yes' if m.blocked_in_restored_policy else 'no'}; "
        f"{m.delivered_from_blocked_after_block} of its {m.sent_by_blocked_after_block} "
        "envelopes sent after the block delivered",
    )


def _refused_at_connect(m: Measurements) -> Check:
    return Check(
        "blocked PeerId cannot connect",
        m.blocked_dials_after_restart > 0
        and m.blocked_connections_after_restart == 0
        and m.refused_at_connect_after_restart > 0,
        f"it dialled the victim {m.blocked_dials_after_restart}x after the restart, "
        f"{m.blocked_connections_after_restart} connections made; the victim refused "
        f"{m.refused_at_connect_after_restart} after the handshake",
    )


def _backoff(m: Measurements) -> Check:
    deadline = m.backoff_deadline_ns
    if deadline is None:
        return Check("backoff honoured", passed=False, detail="no backoff in the saved snapshot")
    dials = m.dials_after_restart
    first = f"first redial at {_at(m, min(dials))}" if dials else "never redialled"
    return Check(
        "backoff honoured",
        bool(dials) and min(dials) >= deadline and deadline > m.restarted_at_ns,
        f"unreachable peer dialled {len(m.dials_before_kill)}x before the kill; saved retry "
        f"deadline {_at(m, deadline)}, restarted at {_at(m, m.restarted_at_ns)}; {first}",
    )


def _expired(m: Measurements) -> Check:
    expiry = m.expiry_ns
    if expiry is None:
        return Check(
            "expired address not dialled", False, "no expiring address in the saved snapshot"
        )
    dials = m.expiring_dials_after_restart
    return Check(
        "expired address not dialled",
        expiry < m.restarted_at_ns and not dials and m.expiring_addresses_restored == 0,
        f"dialled {len(m.expiring_dials_before_kill)}x before the kill; its address expired "
        f"at {_at(m, expiry)}, the victim restarted at {_at(m, m.restarted_at_ns)} with "
        f"{m.expiring_addresses_restored} addresses for it and dialled it {len(dials)}x since",
    )


def _by_peer_id(m: Measurements) -> Check:
    wanted = set(m.peers_to_reach)
    return Check(
        "peers reached by PeerId alone",
        bool(wanted)
        and set(m.peers_dialled) == wanted
        and set(m.peers_reached) == wanted
        and m.addresses_told_after_restart == 0,
        f"{m.addresses_told_after_restart} addresses told after the restart; it dialled "
        f"{len(m.peers_dialled)} of the {len(wanted)} live peers it sent to, and "
        f"{len(m.peers_reached)} got its envelopes",
    )


def _records(m: Measurements) -> Check:
    saved, restored = dict(m.records_saved), dict(m.records_restored)
    back = sum(restored.get(peer) == seq for peer, seq in saved.items())
    return Check(
        "signed peer records verified",
        bool(saved) and back == len(saved),
        f"{len(saved)} in the saved snapshot; {back} back in the restored host, verified, "
        "same seq, before any peer connected",
    )


def _redelivery(m: Measurements) -> Check:
    delivered = set(m.pending_delivered_after_restart)
    return Check(
        "pending envelopes redelivered",
        bool(m.pending) and delivered == set(m.pending),
        f"{len(m.pending)} queued for the receiver in the last snapshot before the kill, "
        f"{len(delivered)} of them delivered after the restart",
    )


def _exactly_once(m: Measurements) -> Check:
    copies = Counter(m.delivered)
    duplicates = sum(count - 1 for count in copies.values())
    missing = len(m.expected - copies.keys())
    unexpected = len(copies.keys() - m.expected)
    return Check(
        "delivered exactly once",
        duplicates == 0
        and missing == 0
        and unexpected == 0
        and bool(m.resent)
        and m.duplicates_dropped_by_victim >= len(m.resent),
        f"{len(m.expected)} envelopes sent, {len(m.delivered)} deliveries to applications: "
        f"{duplicates} duplicated, {missing} missing, {unexpected} unexpected; the restored "
        f"receiver resent {len(m.resent)} the victim had delivered before the kill, and the "
        f"restored victim dropped {m.duplicates_dropped_by_victim} copies by ID",
    )


CHECKS = (
    _identity,
    _ids,
    _blocked,
    _refused_at_connect,
    _backoff,
    _expired,
    _by_peer_id,
    _records,
    _redelivery,
    _exactly_once,
)


def judge(measured: Measurements) -> list[Check]:
    return [check(measured) for check in CHECKS]


def render(measured: Measurements, checks: list[Check]) -> list[str]:
    width = max(len(check.name) for check in checks)
    return [
        f"{len(measured.stores)} nodes on 127.0.0.1 (py-libp2p: TCP, Noise, yamux); victim "
        f"killed with SIGKILL (exit status {measured.kill_status}) after its autosave of "
        f"generation {measured.confirmed_generation}, then restarted from its store",
        *(
            f"{'OK  ' if check.passed else 'FAIL'} {check.name:<{width}}  {check.detail}"
            for check in checks
        ),
        f"{sum(check.passed for check in checks)}/{len(checks)} checks passed in "
        f"{measured.seconds:.1f} s",
        f"data: {measured.directory} (identity.key, store/ with the snapshots, node.log per node)",
        *(f"  {name:<9} {store}" for name, store in measured.stores),
    ]


def exit_status(checks: list[Check]) -> int:
    """0 when every check passed, else 1."""
    return 0 if all(check.passed for check in checks) else 1
