"""When a peer that failed may be tried again: a jittered exponential backoff per peer.

Sans-I/O: the table is told about failures (with the monotonic time they happened) and answers
whether a peer is ready at a given time. Randomness comes from an injected `random.Random`, so a
seeded table replays the same schedule.

Defaults follow go-libp2p-pubsub's discovery `BackoffConnector`, the libp2p component closest to
this table: it keeps one backoff per *peer* (not per address) and skips dialling a peer until its
backoff has passed. It uses `NewExponentialBackoff(min=10 s, max=1 h, FullJitter, unit=1 s,
base=5.0)`. `FullJitter` draws uniformly between the minimum and the un-jittered delay, so
peers that failed together (all lost with the network) do not all retry together. As in go,
the wait after a first failure is not jittered (its un-jittered delay *is* the minimum). After a
restart, `Node.restore` spreads the deadlines that expired while the node was down over a
window, as lnd staggers reconnects (see `rebase.py`); pacing dials to peers without a backoff
entry is the host's call.

One difference, to keep one parameter fewer: go computes `1 s * 5^k` and raises it to the 10 s
minimum, so its first two delays are both 10 s and it reaches the 1 h cap at the 7th failure;
here the first delay *is* the minimum (`10 s * 5^(n-1)`: 10 s, 50 s, 250 s, 1250 s, then 1 h),
reaching the cap at the 5th. Everything is integer nanoseconds: go's float `math.Pow` converted
to a `time.Duration` can overflow to a negative delay after enough attempts; here the exponent
stops growing once the cap is certain, so delays stay exact and bounded for any attempt count.

go-libp2p's swarm dial backoff (5 s + 1 s * attempts^2, capped at 5 min) was not chosen: it is
per (peer, address), has no jitter and is deliberately forgotten on restart, whereas this table
is per peer and survives restarts in snapshots, which is what the connector's schedule is for.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from fractions import Fraction

import attrs

from node_runtime._component_checks import check_int, check_ns, check_peer_key, peer_key_of
from node_runtime.change_counter import ChangeCounter
from node_runtime.changed_keys import ChangedKeys
from node_runtime.component_errors import ComponentTypeError, ComponentValueError
from node_runtime.peer_key import PeerKey, PeerRef
from snapshot_schema.checks import U32_MAX, U64_MAX

_SECOND_NS = 1_000_000_000
# cap_ns < 2**64 and base_ns >= 1, so with a multiplier of at least 2, 64 growth steps always
# reach the cap: larger exponents would only build huge integers to throw away.
_MAX_GROWTH_STEPS = 64


@attrs.frozen
class BackoffPolicy:
    """How long to wait after the n-th consecutive failure.

    The nominal delay is `base_ns * multiplier^(n-1)`, capped at `cap_ns`; the actual delay is
    drawn uniformly from the top `jitter` fraction of the span between `base_ns` and the nominal
    delay. `jitter=1` is go-libp2p's `FullJitter` (anywhere from `base_ns` to nominal), `jitter=0`
    is no jitter. So every delay lies in `base_ns..cap_ns`, and the nominal delay never shrinks as
    failures accumulate. Invalid fields raise `ComponentValueError` naming the field.
    """

    base_ns: int = 10 * _SECOND_NS
    cap_ns: int = 3600 * _SECOND_NS
    multiplier: int = 5
    jitter: float = 1.0

    def __attrs_post_init__(self) -> None:
        check_int(self.base_ns, 1, U64_MAX, "base_ns")
        check_int(self.cap_ns, self.base_ns, U64_MAX, "cap_ns")
        check_int(self.multiplier, 1, U32_MAX, "multiplier")
        # The negated test also refuses NaN.
        if type(self.jitter) not in (int, float) or not 0 <= self.jitter <= 1:
            raise ComponentValueError(
                f"expected a fraction in 0..1, got {self.jitter!r}", ("jitter",)
            )

    def nominal_delay_ns(self, attempts: int) -> int:
        """The delay after `attempts` (1..2**32-1) consecutive failures, before jitter."""
        check_int(attempts, 1, U32_MAX, "attempts")
        growth: int = self.multiplier ** min(attempts - 1, _MAX_GROWTH_STEPS)
        return min(self.base_ns * growth, self.cap_ns)

    def delay_ns(self, attempts: int, rng: random.Random) -> int:
        """A jittered delay after `attempts` consecutive failures, drawn from `rng`."""
        nominal = self.nominal_delay_ns(attempts)
        # Fraction keeps the span exact for delays beyond a float's 53-bit mantissa.
        span = int((nominal - self.base_ns) * Fraction(self.jitter))
        if span == 0:
            return nominal  # nothing to draw: leave the generator untouched
        return rng.randint(nominal - span, nominal)


@attrs.frozen
class BackoffState:
    """One peer's backoff: consecutive failures, when the last one happened and when a retry is
    allowed (monotonic nanoseconds)."""

    attempts: int
    last_attempt_ns: int
    next_retry_ns: int


class BackoffTable(ChangeCounter):
    """Per-peer backoff under one policy; a peer without an entry is ready.

    Pass `random.Random()` in production and a seeded one in tests.
    """

    def __init__(self, policy: BackoffPolicy, rng: random.Random) -> None:
        self._policy = policy
        self._rng = rng
        self._entries: dict[PeerKey, BackoffState] = {}
        self._changed_peers: ChangedKeys[PeerKey] = ChangedKeys()

    @classmethod
    def from_state(
        cls,
        policy: BackoffPolicy,
        rng: random.Random,
        entries: Iterable[tuple[PeerKey, BackoffState]],
    ) -> BackoffTable:
        """A table holding exactly these entries, as read back from `items()`.

        Deadlines are taken as given: rebasing them into this process's monotonic clock is the
        restorer's job. Raises `ComponentValueError` (with the entry's path) for a value out of
        range, a retry before the last attempt, or a peer listed twice.
        """
        table = cls(policy, rng)
        for index, (peer, state) in enumerate(entries):
            check_peer_key(peer, "entries", index, "peer")
            if peer in table._entries:
                raise ComponentValueError("peer listed twice", ("entries", index))
            # 0 attempts is never written here but the snapshot schema allows it, and it is
            # harmless: the next failure counts as the first.
            check_int(state.attempts, 0, U32_MAX, "entries", index, "attempts")
            check_ns(state.last_attempt_ns, "entries", index, "last_attempt_ns")
            check_ns(state.next_retry_ns, "entries", index, "next_retry_ns")
            if state.next_retry_ns < state.last_attempt_ns:
                raise ComponentValueError(
                    f"next retry ({state.next_retry_ns}) precedes the last attempt "
                    f"({state.last_attempt_ns})",
                    ("entries", index, "next_retry_ns"),
                )
            table._entries[peer] = state
        return table

    @property
    def policy(self) -> BackoffPolicy:
        return self._policy

    def items(self) -> Iterator[tuple[PeerKey, BackoffState]]:
        """Every peer with failures since its last success, in the order those runs began."""
        return iter(self._entries.items())

    def entry(self, peer: PeerRef) -> BackoffState | None:
        return self._entries.get(peer_key_of(peer, "peer"))

    def take_changed_peers(self) -> set[PeerKey] | None:
        """The peers whose entry changed since the previous call; `None` on the first call."""
        return self._changed_peers.take()

    def record_failure(self, peer: PeerRef, now_ns: int) -> int:
        """Count a failure to reach `peer` at `now_ns`; returns when it may be retried.

        Attempts saturate at 2**32-1 and the deadline at 2**64-1 (both as snapshots store them).
        """
        key = check_peer_key(peer, "peer")
        check_ns(now_ns, "now_ns")
        previous = self._entries.get(key)
        attempts = 1 if previous is None else min(previous.attempts + 1, U32_MAX)
        next_retry_ns = min(now_ns + self._policy.delay_ns(attempts, self._rng), U64_MAX)
        self._changed_peer(key)
        self._entries[key] = BackoffState(attempts, now_ns, next_retry_ns)
        return next_retry_ns

    def set_entry(self, peer: PeerRef, state: BackoffState) -> bool:
        """Hold exactly `state` for `peer`, checked as `from_state` checks an entry; False if it
        held that already. For a host that mirrors a backoff kept elsewhere (py-libp2p's dial
        backoff), whose deadlines the policy did not draw."""
        key = check_peer_key(peer, "peer")
        if type(state) is not BackoffState:
            raise ComponentTypeError(
                f"expected `BackoffState`, got `{type(state).__name__}`", ("state",)
            )
        check_int(state.attempts, 0, U32_MAX, "state", "attempts")
        check_ns(state.last_attempt_ns, "state", "last_attempt_ns")
        check_ns(state.next_retry_ns, "state", "next_retry_ns")
        if state.next_retry_ns < state.last_attempt_ns:
            raise ComponentValueError(
                f"next retry ({state.next_retry_ns}) precedes the last attempt "
                f"({state.last_attempt_ns})",
                ("state", "next_retry_ns"),
            )
        if self._entries.get(key) == state:
            return False
        self._changed_peer(key)
        self._entries[key] = state
        return True

    def record_success(self, peer: PeerRef) -> None:
        """`peer` was reached: its backoff is over and its next failure starts afresh."""
        key = check_peer_key(peer, "peer")
        self._changed_peer(key)
        self._entries.pop(key, None)

    def forget(self, peer: PeerRef) -> None:
        """Drop `peer`'s entry (it left the address book, say)."""
        key = check_peer_key(peer, "peer")
        self._changed_peer(key)
        self._entries.pop(key, None)

    def _changed_peer(self, peer: PeerKey) -> None:
        self._changed()
        self._changed_peers.add(peer)

    def next_ready_ns(self, peer: PeerRef) -> int | None:
        """When `peer` may be retried, or `None` when it has no backoff."""
        state = self._entries.get(peer_key_of(peer, "peer"))
        return None if state is None else state.next_retry_ns

    def is_ready(self, peer: PeerRef, now_ns: int) -> bool:
        state = self._entries.get(peer_key_of(peer, "peer"))
        return state is None or now_ns >= state.next_retry_ns

    def ready_peers(self, now_ns: int) -> list[PeerKey]:
        """Peers with an entry whose deadline has passed by `now_ns`, in table order."""
        return [peer for peer, state in self._entries.items() if now_ns >= state.next_retry_ns]

    def backing_off(self, now_ns: int) -> list[PeerKey]:
        """Peers still waiting at `now_ns`, in table order."""
        return [peer for peer, state in self._entries.items() if now_ns < state.next_retry_ns]
