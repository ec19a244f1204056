"""Hypothesis strategies for the runtime components' records and arguments.

Named `runtime_strategies` (not `strategies`) so it cannot shadow a top-level test helper: test
directories have no `__init__.py`, so pytest and mypy import their helpers by bare module name.
"""

from __future__ import annotations

from hypothesis import strategies as st

from node_runtime.backoff import BackoffPolicy, BackoffState
from node_runtime.peer_governor import PeerHealth
from node_runtime.peer_key import PeerKey
from snapshot_schema.checks import U64_MAX
from snapshot_schema.strategies import u32s, u64s

__all__ = [
    "backoff_policies",
    "backoff_states",
    "envelopes",
    "names",
    "peer_healths",
    "peer_keys",
    "times_ns",
    "u32s",  # the schema's, re-exported
    "u64s",
]

times_ns = u64s
"""Monotonic instants: any u64, so the saturating edges near 2**64-1 get exercised."""

# Identity multihashes of a one-byte digest: real PeerKey-shaped bytes from a pool of 8, small
# enough that generated operations keep hitting the same peers.
peer_keys: st.SearchStrategy[PeerKey] = st.integers(0, 7).map(lambda i: bytes([0x00, 0x01, i]))

names = st.sampled_from(["dials", "sent", "received", "started", "stopping", "peer.connected"])
"""Non-empty counter, phase and event-kind names, few enough to repeat."""

envelopes = st.binary(min_size=1, max_size=32)

peer_healths = st.builds(
    PeerHealth, consecutive_failures=u32s, last_event_ns=u64s, down=st.booleans()
)
"""Any in-range health, `down` not necessarily matching a threshold."""


@st.composite
def backoff_policies(draw: st.DrawFn) -> BackoffPolicy:
    base_ns = draw(st.integers(1, U64_MAX))
    return BackoffPolicy(
        base_ns=base_ns,
        cap_ns=draw(st.integers(base_ns, U64_MAX)),
        multiplier=draw(st.integers(1, 16)),
        jitter=draw(st.floats(0, 1)),
    )


@st.composite
def backoff_states(draw: st.DrawFn) -> BackoffState:
    last_attempt_ns = draw(u64s)
    return BackoffState(
        attempts=draw(u32s),
        last_attempt_ns=last_attempt_ns,
        next_retry_ns=draw(st.integers(last_attempt_ns, U64_MAX)),
    )
