"""The conversions between py-libp2p's values and a snapshot's (`conversions.py`)."""

from __future__ import annotations

import ipaddress
import math

import pytest

from node_runtime.libp2p_adapter.conversions import (
    RefusedValue,
    latency_ns_of,
    latency_seconds_of,
    metadata_value_of,
    network_of,
    replay_ttl_s,
    wall_ns_until_expiry,
)

S = 1_000_000_000


def test_addresses_are_kept_until_the_second_after_last_identified_plus_ttl() -> None:
    assert wall_ns_until_expiry(900, 100, 1_000 * S + S // 2) == S // 2
    assert wall_ns_until_expiry(900, 100, 1_001 * S) == 0  # expired from then on
    assert wall_ns_until_expiry(900.0, 100, 1_000 * S) == S  # a float time, as py-libp2p allows


@pytest.mark.parametrize("ttl", [0, -5])
def test_a_ttl_of_zero_or_below_keeps_addresses_for_ever(ttl: int) -> None:
    assert wall_ns_until_expiry(900, ttl, 10**6 * S) is None


@pytest.mark.parametrize(
    ("last_identified", "ttl"), [("900", 100), (900, None), (900, math.inf), (True, 100)]
)
def test_ttl_times_that_are_no_finite_number_are_refused(
    last_identified: object, ttl: object
) -> None:
    with pytest.raises(RefusedValue):
        wall_ns_until_expiry(last_identified, ttl, 0)


def test_replay_gives_back_the_ttl_that_ends_at_the_captured_second() -> None:
    now = 5_000 * S + 300_000_000  # 0.3 s into the second 5000
    remaining = wall_ns_until_expiry(4_990, 100, now)
    assert remaining is not None
    # Kept while int(t) <= 4990 + 100; added again at 5000.3, with 90: the same second.
    assert replay_ttl_s(remaining, now) == 90
    # Read a few microseconds apart, the two clocks still name the same second.
    assert replay_ttl_s(remaining + 3_000, now) == 90
    assert replay_ttl_s(remaining - 3_000, now) == 90


def test_replay_keeps_permanent_addresses_permanent_and_drops_what_cannot_be_kept() -> None:
    now = 5_000 * S + 300_000_000
    assert replay_ttl_s(None, now) == 0
    assert replay_ttl_s(1_500_000_000, now) == 1  # to the end of the next second
    assert replay_ttl_s(100_000_000, now) is None  # within this second: a TTL of 0 is forever
    assert replay_ttl_s(-S, now) is None


def test_latency_seconds_become_integer_nanoseconds_and_back() -> None:
    assert latency_ns_of(0.0125) == 12_500_000
    assert latency_ns_of(0) is None  # py-libp2p's "no sample yet"
    assert latency_seconds_of(12_500_000) == 0.0125
    assert latency_ns_of(latency_seconds_of(123_456_789)) == 123_456_789


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf, 2.0**70, True, "1"])
def test_latencies_a_snapshot_cannot_hold_are_refused(seconds: object) -> None:
    with pytest.raises(RefusedValue):
        latency_ns_of(seconds)


def test_metadata_values_keep_their_type_and_negative_zero_becomes_zero() -> None:
    for value in ["x", 5, 0.5, True, None, 2**64 - 1, -(2**63)]:
        converted = metadata_value_of(value)
        assert (type(converted), converted) == (type(value), value)
    zero = metadata_value_of(-0.0)
    assert isinstance(zero, float)
    assert math.copysign(1.0, zero) == 1.0


@pytest.mark.parametrize("value", [math.nan, 2**64, -(2**63) - 1, "\ud800", b"raw", [1]])
def test_metadata_values_a_snapshot_refuses_are_refused(value: object) -> None:
    with pytest.raises(RefusedValue):
        metadata_value_of(value)


def test_gate_networks_the_governor_refuses_are_none() -> None:
    assert network_of(ipaddress.ip_network("10.0.0.0/8")) == ipaddress.ip_network("10.0.0.0/8")
    assert network_of(ipaddress.ip_network("::ffff:10.0.0.0/104")) is None
    assert network_of(ipaddress.ip_network("fe80::%eth0/64", strict=False)) is None
    assert network_of(object()) is None
