"""Backoff: how long a peer that keeps failing must wait, and the table that tracks it per peer."""

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_strategies import backoff_policies, backoff_states, peer_keys, times_ns

from node_runtime.backoff import BackoffPolicy, BackoffState, BackoffTable
from node_runtime.component_errors import ComponentValueError
from node_runtime.peer_key import PeerKey
from snapshot_schema.checks import U32_MAX, U64_MAX

SECOND = 1_000_000_000
ALICE = b"\x00\x01a"
BOB = b"\x00\x01b"
# No jitter: delays are exactly the nominal schedule, 1 s, 2 s, 4 s, … capped at 60 s.
STEADY = BackoffPolicy(base_ns=SECOND, cap_ns=60 * SECOND, multiplier=2, jitter=0)


def state_of(table: BackoffTable) -> list[tuple[PeerKey, BackoffState]]:
    return list(table.items())


def test_the_default_policy_is_the_go_libp2p_connector_schedule() -> None:
    policy = BackoffPolicy()

    nominal = [policy.nominal_delay_ns(attempts) // SECOND for attempts in range(1, 8)]

    assert (policy.base_ns, policy.cap_ns, policy.multiplier, policy.jitter) == (
        10 * SECOND,
        3600 * SECOND,
        5,
        1.0,
    )
    assert nominal == [10, 50, 250, 1250, 3600, 3600, 3600]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"base_ns": 0}, ("base_ns",)),
        ({"base_ns": U64_MAX + 1, "cap_ns": U64_MAX + 1}, ("base_ns",)),
        ({"base_ns": 2 * SECOND, "cap_ns": SECOND}, ("cap_ns",)),
        ({"cap_ns": U64_MAX + 1}, ("cap_ns",)),
        ({"multiplier": 0}, ("multiplier",)),
        ({"multiplier": True}, ("multiplier",)),
        ({"jitter": -0.1}, ("jitter",)),
        ({"jitter": 1.5}, ("jitter",)),
        ({"jitter": float("nan")}, ("jitter",)),
    ],
)
def test_a_policy_field_out_of_range_is_refused_naming_the_field(
    fields: dict[str, Any], path: tuple[str]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        BackoffPolicy(**fields)

    assert raised.value.path == path


@given(policy=backoff_policies(), attempts=st.integers(1, U32_MAX - 1))
def test_the_nominal_delay_is_capped_and_never_shrinks_as_failures_accumulate(
    policy: BackoffPolicy, attempts: int
) -> None:
    delay = policy.nominal_delay_ns(attempts)

    assert policy.base_ns <= delay <= policy.cap_ns
    assert delay <= policy.nominal_delay_ns(attempts + 1)


@given(policy=backoff_policies(), attempts=st.integers(1, U32_MAX), seed=st.integers())
def test_every_drawn_delay_lies_between_the_base_and_the_nominal_delay(
    policy: BackoffPolicy, attempts: int, seed: int
) -> None:
    delay = policy.delay_ns(attempts, random.Random(seed))

    assert policy.base_ns <= delay <= policy.nominal_delay_ns(attempts) <= policy.cap_ns


def test_the_largest_attempt_count_gives_the_cap_without_overflowing() -> None:
    assert BackoffPolicy().nominal_delay_ns(U32_MAX) == 3600 * SECOND
    assert BackoffPolicy(cap_ns=U64_MAX, multiplier=U32_MAX).nominal_delay_ns(U32_MAX) == U64_MAX


def test_a_multiplier_of_one_keeps_the_delay_constant() -> None:
    policy = BackoffPolicy(base_ns=SECOND, multiplier=1)

    assert policy.nominal_delay_ns(1) == policy.nominal_delay_ns(U32_MAX) == SECOND


@pytest.mark.parametrize("attempts", [0, U32_MAX + 1])
def test_an_attempt_count_outside_1_to_u32_max_is_refused(attempts: int) -> None:
    with pytest.raises(ComponentValueError) as raised:
        BackoffPolicy().nominal_delay_ns(attempts)

    assert raised.value.path == ("attempts",)


def test_without_jitter_the_delay_is_the_nominal_one_and_draws_nothing() -> None:
    rng = random.Random(1)
    before = rng.getstate()

    delay = STEADY.delay_ns(3, rng)

    assert delay == 4 * SECOND
    assert rng.getstate() == before


def test_full_jitter_spreads_delays_from_the_base_up_to_the_nominal_delay() -> None:
    policy = BackoffPolicy()  # third failure: nominal 250 s, so delays in 10 s..250 s
    rng = random.Random(7)

    delays = [policy.delay_ns(3, rng) for _ in range(200)]

    assert min(delays) < 40 * SECOND
    assert max(delays) > 220 * SECOND
    assert all(10 * SECOND <= delay <= 250 * SECOND for delay in delays)


def test_partial_jitter_only_shortens_the_delay_by_that_fraction_of_the_span() -> None:
    policy = BackoffPolicy(base_ns=SECOND, cap_ns=60 * SECOND, multiplier=2, jitter=0.25)
    rng = random.Random(3)

    delays = [policy.delay_ns(5, rng) for _ in range(200)]  # nominal 16 s, span 15 s

    assert all(16 * SECOND - 3_750_000_000 <= delay <= 16 * SECOND for delay in delays)


def test_a_peer_without_failures_is_ready_and_has_no_entry() -> None:
    table = BackoffTable(BackoffPolicy(), random.Random(0))

    assert table.is_ready(ALICE, now_ns=0)
    assert table.entry(ALICE) is None
    assert table.next_ready_ns(ALICE) is None


def test_a_failure_sets_the_retry_deadline_from_the_time_it_happened() -> None:
    table = BackoffTable(STEADY, random.Random(0))

    next_retry_ns = table.record_failure(ALICE, now_ns=100)

    assert next_retry_ns == 100 + SECOND
    assert table.entry(ALICE) == BackoffState(
        attempts=1, last_attempt_ns=100, next_retry_ns=100 + SECOND
    )
    assert table.next_ready_ns(ALICE) == 100 + SECOND


def test_consecutive_failures_lengthen_the_wait() -> None:
    table = BackoffTable(STEADY, random.Random(0))

    deadlines = [table.record_failure(ALICE, now_ns=0) for _ in range(8)]

    assert [deadline // SECOND for deadline in deadlines] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert table.entry(ALICE) == BackoffState(8, 0, 60 * SECOND)


def test_a_peer_becomes_ready_exactly_at_its_deadline() -> None:
    table = BackoffTable(STEADY, random.Random(0))
    table.record_failure(ALICE, now_ns=0)

    assert not table.is_ready(ALICE, now_ns=SECOND - 1)
    assert table.is_ready(ALICE, now_ns=SECOND)


def test_a_success_ends_the_backoff_and_the_next_failure_starts_afresh() -> None:
    table = BackoffTable(STEADY, random.Random(0))
    table.record_failure(ALICE, now_ns=0)
    table.record_failure(ALICE, now_ns=0)

    table.record_success(ALICE)
    table.record_success(BOB)

    assert table.entry(ALICE) is None
    assert table.is_ready(ALICE, now_ns=0)
    assert table.record_failure(ALICE, now_ns=0) == SECOND


def test_forgetting_a_peer_drops_its_entry() -> None:
    table = BackoffTable(STEADY, random.Random(0))
    table.record_failure(ALICE, now_ns=0)
    table.record_failure(BOB, now_ns=0)

    table.forget(ALICE)

    assert [peer for peer, _ in table.items()] == [BOB]


@pytest.mark.parametrize("peer", [b"not a multihash", bytearray(ALICE), "peer", []])
@pytest.mark.parametrize(
    "mutate",
    [
        lambda table, peer: table.record_failure(peer, 0),
        lambda table, peer: table.record_success(peer),
        lambda table, peer: table.forget(peer),
    ],
)
def test_a_peer_that_is_not_a_multihash_is_refused_naming_it_and_changes_nothing(
    mutate: Callable[[BackoffTable, object], object], peer: object
) -> None:
    table = BackoffTable(STEADY, random.Random(1))
    table.record_failure(ALICE, 0)
    before = (state_of(table), table.revision)

    with pytest.raises(ComponentValueError) as raised:
        mutate(table, peer)

    assert raised.value.path == ("peer",)
    assert (state_of(table), table.revision) == before


def test_attempts_saturate_at_u32_max_instead_of_wrapping() -> None:
    nearly = BackoffState(attempts=U32_MAX - 1, last_attempt_ns=0, next_retry_ns=0)
    table = BackoffTable.from_state(STEADY, random.Random(0), [(ALICE, nearly)])

    table.record_failure(ALICE, now_ns=5)
    table.record_failure(ALICE, now_ns=5)

    assert table.entry(ALICE) == BackoffState(U32_MAX, 5, 5 + 60 * SECOND)


def test_a_deadline_past_u64_max_saturates_there() -> None:
    table = BackoffTable(STEADY, random.Random(0))

    assert table.record_failure(ALICE, now_ns=U64_MAX - 1) == U64_MAX


@pytest.mark.parametrize("now_ns", [-1, U64_MAX + 1, 0.5])
def test_a_failure_at_an_invalid_time_is_refused_changes_nothing_and_draws_nothing(
    now_ns: int,
) -> None:
    rng = random.Random(0)
    table = BackoffTable(BackoffPolicy(), rng)
    table.record_failure(ALICE, now_ns=0)
    before, rng_before = state_of(table), rng.getstate()

    with pytest.raises(ComponentValueError) as raised:
        table.record_failure(ALICE, now_ns)

    assert raised.value.path == ("now_ns",)
    assert state_of(table) == before
    assert rng.getstate() == rng_before


def test_ready_peers_and_peers_backing_off_split_the_table_at_a_given_time() -> None:
    table = BackoffTable(STEADY, random.Random(0))
    table.record_failure(ALICE, now_ns=0)  # ready from 1 s
    table.record_failure(BOB, now_ns=SECOND)  # ready from 2 s

    assert (table.ready_peers(SECOND), table.backing_off(SECOND)) == ([ALICE], [BOB])
    assert (table.ready_peers(2 * SECOND), table.backing_off(2 * SECOND)) == ([ALICE, BOB], [])


@given(seed=st.integers(), peers=st.lists(peer_keys, max_size=20))
def test_the_same_seed_replays_the_same_schedule(seed: int, peers: list[PeerKey]) -> None:
    first = BackoffTable(BackoffPolicy(), random.Random(seed))
    second = BackoffTable(BackoffPolicy(), random.Random(seed))

    assert [first.record_failure(peer, 0) for peer in peers] == [
        second.record_failure(peer, 0) for peer in peers
    ]


@given(policy=backoff_policies(), now_ns=times_ns, seed=st.integers())
def test_a_failure_never_schedules_a_retry_before_base_or_after_cap(
    policy: BackoffPolicy, now_ns: int, seed: int
) -> None:
    table = BackoffTable(policy, random.Random(seed))

    next_retry_ns = table.record_failure(ALICE, now_ns)

    assert min(now_ns + policy.base_ns, U64_MAX) <= next_retry_ns
    assert next_retry_ns <= min(now_ns + policy.cap_ns, U64_MAX)


@given(entries=st.dictionaries(peer_keys, backoff_states()))
def test_state_read_from_items_rebuilds_the_same_table(
    entries: dict[PeerKey, BackoffState],
) -> None:
    table = BackoffTable.from_state(BackoffPolicy(), random.Random(0), entries.items())

    rebuilt = BackoffTable.from_state(table.policy, random.Random(0), table.items())

    assert state_of(table) == list(entries.items())
    assert state_of(rebuilt) == state_of(table)


@pytest.mark.parametrize(
    ("entries", "path"),
    [
        ([(ALICE, BackoffState(1, 0, 0)), (ALICE, BackoffState(2, 0, 0))], ("entries", 1)),
        ([(ALICE, BackoffState(U32_MAX + 1, 0, 0))], ("entries", 0, "attempts")),
        ([(ALICE, BackoffState(1, -1, 0))], ("entries", 0, "last_attempt_ns")),
        ([(ALICE, BackoffState(1, 0, U64_MAX + 1))], ("entries", 0, "next_retry_ns")),
        ([(ALICE, BackoffState(1, 10, 9))], ("entries", 0, "next_retry_ns")),
    ],
)
def test_restoring_an_invalid_entry_is_refused_naming_it(
    entries: list[tuple[PeerKey, BackoffState]], path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        BackoffTable.from_state(STEADY, random.Random(0), entries)

    assert raised.value.path == path


def test_a_restored_entry_with_no_attempts_counts_its_next_failure_as_the_first() -> None:
    table = BackoffTable.from_state(STEADY, random.Random(0), [(ALICE, BackoffState(0, 0, 5))])

    table.record_failure(ALICE, now_ns=10)

    assert table.entry(ALICE) == BackoffState(1, 10, 10 + SECOND)
