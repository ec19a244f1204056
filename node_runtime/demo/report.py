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
    return Check(
        "same PeerId",
        m.peer_after == m.peer_before and m.restored_generation is not None,
        (
            f"{m.peer_after} before and after"
            if m.peer_after == m.peer_before
            else f"{m.peer_before} before, {m.peer_after} after"
        )
        + f"; restored from generation {m.restored_generation}",
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
        m.blocked_in_restored_policy
        and m.refusals_after_restart > 0
        and m.delivered_from_blocked_after_block == 0,
        f"in the restored blocklist: {'yes' if m.blocked_in_restored_policy else 'no'}; "
        f"{m.refusals_after_restart} connections refused after the restart; "
        f"{m.delivered_from_blocked_after_block} of its {m.sent_by_blocked_after_block} "
        "envelopes sent after the block delivered",
    )


def _backoff(m: Measurements) -> Check:
    deadline = m.backoff_deadline_ns
    if deadline is None:
        return Check("backoff honoured", passed=False, detail="no backoff in the saved snapshot")
    dials = m.dials_after_restart
    first = f"first redial at {_at(m, min(dials))}" if dials else "never redialled"
    return Check(
        "backoff honoured",
        bool(dials) and min(dials) >= deadline,
        f"unreachable peer dialled {len(m.dials_before_kill)}x before the kill "
        f"(at {', '.join(_at(m, t) for t in m.dials_before_kill)}), saved retry deadline "
        f"{_at(m, deadline)} from the kill; {first}",
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
        duplicates == 0 and missing == 0 and unexpected == 0,
        f"{len(m.expected)} envelopes sent, {len(m.delivered)} deliveries to applications: "
        f"{duplicates} duplicated, {missing} missing, {unexpected} unexpected; receivers "
        f"dropped {m.duplicates_dropped} resent copies by ID",
    )


def judge(measured: Measurements) -> list[Check]:
    return [
        check(measured)
        for check in (_identity, _ids, _blocked, _backoff, _redelivery, _exactly_once)
    ]


def render(measured: Measurements, checks: list[Check]) -> list[str]:
    width = max(len(check.name) for check in checks)
    return [
        f"{len(measured.stores)} nodes on 127.0.0.1; victim killed with SIGKILL "
        f"(exit status {measured.kill_status}) after its autosave of generation "
        f"{measured.confirmed_generation}, then restarted from its store",
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
