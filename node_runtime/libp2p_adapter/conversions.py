"""Conversions between py-libp2p's values and a snapshot's, each judged by the snapshot's rules.

Times: py-libp2p keeps a peer's address TTL in whole seconds counted from `last_identified`, an
`int(time.time())`; its addresses stay valid while `int(now) <= last_identified + ttl`, so
until the wall-clock second `last_identified + ttl + 1` begins (`ttl` 0: for ever). The node
keeps expiries on its own monotonic clock. Capture reads how long py-libp2p still keeps them;
replay gives back the TTL that makes py-libp2p keep them until the nearest whole second to the
node's expiry, so an expiry captured from py-libp2p comes back as the very second it was.

Latency: py-libp2p keeps a float average in seconds, 0 meaning no sample yet; the node keeps
integer nanoseconds, rounded to the nearest.

Metadata: py-libp2p holds `str`, `int`, `float`, `bool` and `None` values; each keeps its exact
type. `-0.0`, which equals `0.0` but which a snapshot refuses (equal metadata must encode to
equal bytes), is kept as `0.0`. A value a snapshot refuses otherwise (NaN, an integer beyond
64 bits, a string UTF-8 cannot encode, another type) is left out and counted.
"""

from __future__ import annotations

import math
from typing import Final, cast

from node_runtime.component_errors import ComponentValueError
from node_runtime.ip_filter import IpNetworkLike, check_ip_network
from node_runtime.peer_record_values import size_of
from snapshot_schema.checks import U64_MAX
from snapshot_schema.ip_network import AnyNetwork
from snapshot_schema.peer_record_checks import MetadataValue, metadata_value_problem

SECOND_NS: Final = 1_000_000_000

_PY_LIBP2P_METADATA_TYPES: Final = frozenset({str, int, float, bool, type(None)})


class RefusedValue(ValueError):
    """A py-libp2p value a snapshot cannot hold."""


def wall_ns_until_expiry(last_identified: object, ttl_s: object, wall_now_ns: int) -> int | None:
    """How long py-libp2p still keeps a peer's addresses, from `wall_now_ns`: `None` when it
    keeps them for ever (a TTL of 0, or below, as its `is_expired` reads it), at most 0 when
    they have expired. Raises `RefusedValue` unless both are integers or finite floats (as
    py-libp2p writes integers)."""
    since, ttl = _seconds(last_identified), _seconds(ttl_s)
    if ttl <= 0:
        return None
    return round((since + ttl + 1) * SECOND_NS) - wall_now_ns


def _seconds(value: object) -> int | float:
    """`value` when it is an integer or a finite float (as py-libp2p keeps TTL times)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RefusedValue(f"a TTL time is a number of seconds, not `{type(value).__name__}`")
    if not math.isfinite(value):
        raise RefusedValue(f"a TTL time of {value} seconds")
    return value


def replay_ttl_s(remaining_ns: int | None, wall_now_ns: int) -> int | None:
    """The TTL to give py-libp2p's `add_addrs` at `wall_now_ns` so that it keeps addresses for
    `remaining_ns` (`None`: for ever, a TTL of 0): until the nearest whole second to their
    expiry. `None` when that second has begun already: py-libp2p cannot keep an address for
    less than it has left of the current second (a TTL of 0 would keep it for ever)."""
    if remaining_ns is None:
        return 0
    end_s = (wall_now_ns + remaining_ns + SECOND_NS // 2) // SECOND_NS
    ttl_s = end_s - 1 - wall_now_ns // SECOND_NS
    return ttl_s if ttl_s >= 1 else None


def latency_ns_of(seconds: object) -> int | None:
    """py-libp2p's latency average in integer nanoseconds; `None` for its "no sample yet" (0).
    Raises `RefusedValue` for what a snapshot cannot hold (negative, NaN, infinite, too large,
    not a number)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise RefusedValue(f"a latency is a float of seconds, not `{type(seconds).__name__}`")
    if seconds == 0:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        raise RefusedValue(f"latency {seconds!r} is no duration")
    latency_ns = round(seconds * SECOND_NS)
    if latency_ns > U64_MAX:
        raise RefusedValue(f"latency {seconds!r} s exceeds 2**64-1 ns")
    return latency_ns


def latency_seconds_of(latency_ns: int) -> float:
    """The node's latency average as py-libp2p's float seconds; `latency_ns_of` gives it back."""
    return latency_ns / SECOND_NS


def is_name(value: object, max_size: int) -> bool:
    """Whether `value` is a protocol ID or metadata key a peer record holds: a non-empty `str`
    that UTF-8 can encode, within `max_size` bytes."""
    if type(value) is not str or not value:
        return False
    try:
        return size_of(value) <= max_size
    except UnicodeEncodeError:
        return False


def metadata_value_of(value: object) -> MetadataValue:
    """py-libp2p's metadata `value` as a snapshot holds it: the same value of the same type,
    `-0.0` as `0.0`. Raises `RefusedValue` for what a snapshot refuses."""
    if type(value) not in _PY_LIBP2P_METADATA_TYPES:
        raise RefusedValue(f"`{type(value).__name__}` is not a py-libp2p metadata value")
    if type(value) is float and value == 0.0:
        return 0.0  # -0.0 too
    problem = metadata_value_problem(value)
    if problem is not None:
        raise RefusedValue(problem)
    return cast(MetadataValue, value)  # one of py-libp2p's metadata types: checked above


def network_of(value: object) -> AnyNetwork | None:
    """py-libp2p's gate entry as a network the governor keeps; `None` for one it refuses (an
    IPv6 zone, an IPv4-mapped network, anything but an `ipaddress` network)."""
    try:
        # check_ip_network checks the type itself: anything but a network is refused.
        return check_ip_network(cast(IpNetworkLike, value), "network")
    except ComponentValueError:
        return None
