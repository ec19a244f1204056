"""The peer governor: block and allow lists plus health decide whether a peer may be contacted."""

from collections.abc import Callable

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_strategies import peer_healths, peer_keys

from node_runtime.component_errors import ComponentValueError, NoAllowlistError
from node_runtime.peer_governor import Decision, PeerGovernor, PeerHealth
from node_runtime.peer_key import PeerKey
from snapshot_schema.checks import U32_MAX, U64_MAX

ALICE = b"\x00\x01a"
BOB = b"\x00\x01b"


def state_of(governor: PeerGovernor) -> tuple[object, ...]:
    return (
        governor.failure_threshold,
        governor.blocklist,
        governor.allowlist,
        list(governor.health_items()),
    )


def test_a_new_governor_lets_every_peer_be_contacted() -> None:
    governor = PeerGovernor()

    assert governor.failure_threshold == 3
    assert governor.decision(ALICE) is Decision.OK
    assert governor.may_contact(ALICE)
    assert governor.health(ALICE) is None


@pytest.mark.parametrize("threshold", [0, -1, U32_MAX + 1, True])
def test_a_failure_threshold_outside_1_to_u32_max_is_refused(threshold: int) -> None:
    with pytest.raises(ComponentValueError) as raised:
        PeerGovernor(threshold)

    assert raised.value.path == ("failure_threshold",)


def test_a_blocked_peer_may_not_be_contacted_until_unblocked() -> None:
    governor = PeerGovernor()

    governor.block(ALICE)

    assert governor.is_blocked(ALICE)
    assert governor.decision(ALICE) is Decision.BLOCKED
    assert not governor.may_contact(ALICE)
    assert governor.may_contact(BOB)

    governor.unblock(ALICE)

    assert not governor.is_blocked(ALICE)
    assert governor.may_contact(ALICE)


def test_unblocking_a_peer_that_is_not_blocked_changes_nothing() -> None:
    governor = PeerGovernor()
    governor.block(BOB)

    governor.unblock(ALICE)

    assert governor.blocklist == frozenset({BOB})


def test_under_an_allowlist_only_listed_peers_may_be_contacted() -> None:
    governor = PeerGovernor()

    governor.set_allowlist([ALICE])

    assert governor.allowlist == frozenset({ALICE})
    assert governor.decision(ALICE) is Decision.OK
    assert governor.decision(BOB) is Decision.NOT_ALLOWED


def test_an_empty_allowlist_allows_nobody_and_none_reopens_the_policy() -> None:
    governor = PeerGovernor()

    governor.set_allowlist([])

    assert governor.allowlist == frozenset()
    assert governor.decision(ALICE) is Decision.NOT_ALLOWED

    governor.set_allowlist(None)

    assert governor.allowlist is None
    assert governor.decision(ALICE) is Decision.OK


def test_allow_and_disallow_edit_an_existing_allowlist() -> None:
    governor = PeerGovernor()
    governor.set_allowlist([ALICE])

    governor.allow(BOB)
    governor.disallow(ALICE)
    governor.disallow(ALICE)

    assert governor.allowlist == frozenset({BOB})


@pytest.mark.parametrize("edit", [PeerGovernor.allow, PeerGovernor.disallow])
def test_editing_the_allowlist_under_the_open_policy_is_refused_and_changes_nothing(
    edit: Callable[[PeerGovernor, PeerKey], None],
) -> None:
    governor = PeerGovernor()
    before = state_of(governor)

    with pytest.raises(NoAllowlistError):
        edit(governor, ALICE)

    assert state_of(governor) == before


def test_a_peer_goes_down_when_its_consecutive_failures_reach_the_threshold() -> None:
    governor = PeerGovernor(failure_threshold=3)

    governor.record_failure(ALICE, now_ns=10)
    second = governor.record_failure(ALICE, now_ns=20)

    assert second == PeerHealth(consecutive_failures=2, last_event_ns=20, down=False)
    assert governor.may_contact(ALICE)

    third = governor.record_failure(ALICE, now_ns=30)

    assert third == PeerHealth(consecutive_failures=3, last_event_ns=30, down=True)
    assert governor.health(ALICE) == third
    assert governor.decision(ALICE) is Decision.DOWN


def test_a_success_clears_the_failures_and_brings_a_down_peer_back() -> None:
    governor = PeerGovernor(failure_threshold=1)
    governor.record_failure(ALICE, now_ns=10)

    governor.record_success(ALICE)

    assert governor.health(ALICE) is None
    assert list(governor.health_items()) == []
    assert governor.may_contact(ALICE)
    assert governor.record_failure(ALICE, now_ns=30).consecutive_failures == 1  # afresh


def test_successes_with_peers_that_never_failed_keep_no_state() -> None:
    governor = PeerGovernor()
    fresh = [bytes([0x00, 0x02, n >> 8, n & 0xFF]) for n in range(3_000)]
    before = governor.revision

    for peer in fresh:
        governor.record_success(peer)

    assert list(governor.health_items()) == []
    assert governor.revision == before  # nothing changed: nothing to save


def test_a_success_for_a_key_that_is_no_peer_id_is_refused() -> None:
    governor = PeerGovernor()

    with pytest.raises(ComponentValueError) as raised:
        governor.record_success(b"junk")

    assert raised.value.path == ("peer",)


def test_consecutive_failures_saturate_at_u32_max_instead_of_wrapping() -> None:
    nearly = PeerHealth(consecutive_failures=U32_MAX - 1, last_event_ns=0, down=True)
    governor = PeerGovernor.from_state(3, (), None, [(ALICE, nearly)])

    governor.record_failure(ALICE, now_ns=1)
    health = governor.record_failure(ALICE, now_ns=2)

    assert health == PeerHealth(consecutive_failures=U32_MAX, last_event_ns=2, down=True)


@pytest.mark.parametrize("now_ns", [-1, U64_MAX + 1, 1.0])
def test_an_event_at_an_invalid_time_is_refused_and_changes_nothing(now_ns: int) -> None:
    governor = PeerGovernor()
    governor.record_failure(ALICE, now_ns=10)
    before = state_of(governor)

    with pytest.raises(ComponentValueError) as raised:
        governor.record_failure(ALICE, now_ns)

    assert raised.value.path == ("now_ns",)
    assert state_of(governor) == before


def test_blocked_outranks_not_allowed_which_outranks_down() -> None:
    governor = PeerGovernor(failure_threshold=1)
    governor.record_failure(ALICE, now_ns=1)

    assert governor.decision(ALICE) is Decision.DOWN

    governor.set_allowlist([])

    assert governor.decision(ALICE) is Decision.NOT_ALLOWED

    governor.block(ALICE)

    assert governor.decision(ALICE) is Decision.BLOCKED


def test_forgetting_a_peer_drops_its_health_but_never_lifts_a_block() -> None:
    governor = PeerGovernor(failure_threshold=1)
    governor.set_allowlist([ALICE])
    governor.block(ALICE)
    governor.record_failure(ALICE, now_ns=1)

    governor.forget(ALICE)
    governor.forget(BOB)

    assert governor.health(ALICE) is None
    assert governor.blocklist == frozenset({ALICE})
    assert governor.allowlist == frozenset({ALICE})
    assert governor.decision(ALICE) is Decision.BLOCKED


def test_the_list_accessors_are_snapshots_not_views() -> None:
    governor = PeerGovernor()
    governor.set_allowlist([ALICE])
    blocklist, allowlist = governor.blocklist, governor.allowlist

    governor.block(BOB)
    governor.allow(BOB)

    assert (blocklist, allowlist) == (frozenset(), frozenset({ALICE}))


@given(
    threshold=st.integers(1, U32_MAX),
    blocklist=st.frozensets(peer_keys),
    allowlist=st.none() | st.frozensets(peer_keys),
    health=st.dictionaries(peer_keys, peer_healths),
)
def test_state_read_from_the_accessors_rebuilds_the_same_governor(
    threshold: int,
    blocklist: frozenset[PeerKey],
    allowlist: frozenset[PeerKey] | None,
    health: dict[PeerKey, PeerHealth],
) -> None:
    consistent = [
        (peer, attrs.evolve(h, down=h.consecutive_failures >= threshold))
        for peer, h in health.items()
        if h.consecutive_failures > 0
    ]
    governor = PeerGovernor.from_state(threshold, blocklist, allowlist, consistent)

    rebuilt = PeerGovernor.from_state(
        governor.failure_threshold, governor.blocklist, governor.allowlist, governor.health_items()
    )

    assert state_of(governor) == (threshold, blocklist, allowlist, consistent)
    assert state_of(rebuilt) == state_of(governor)


def test_restoring_under_a_changed_threshold_rederives_down_from_the_new_one() -> None:
    saved = [
        (ALICE, PeerHealth(consecutive_failures=3, last_event_ns=7, down=True)),
        (BOB, PeerHealth(consecutive_failures=1, last_event_ns=8, down=False)),
    ]

    governor = PeerGovernor.from_state(1, (), None, saved)
    relaxed = PeerGovernor.from_state(5, (), None, saved)

    assert [health.down for _, health in governor.health_items()] == [True, True]
    assert [health.down for _, health in relaxed.health_items()] == [False, False]


def test_restoring_drops_health_rows_without_failures() -> None:
    saved = [
        (ALICE, PeerHealth(consecutive_failures=0, last_event_ns=7, down=False)),
        (BOB, PeerHealth(consecutive_failures=2, last_event_ns=8, down=False)),
    ]

    governor = PeerGovernor.from_state(3, (), None, saved)

    assert list(governor.health_items()) == [saved[1]]
    assert governor.health(ALICE) is None


@pytest.mark.parametrize(
    ("health", "path"),
    [
        (
            [(ALICE, PeerHealth(0, 0, down=False)), (ALICE, PeerHealth(1, 0, down=False))],
            ("health", 1),
        ),
        (
            [(ALICE, PeerHealth(1, 0, down=False)), (ALICE, PeerHealth(0, 0, down=False))],
            ("health", 1),
        ),
        ([(ALICE, PeerHealth(U32_MAX + 1, 0, down=True))], ("health", 0, "consecutive_failures")),
        ([(ALICE, PeerHealth(-1, 0, down=False))], ("health", 0, "consecutive_failures")),
        ([(ALICE, PeerHealth(0, -1, down=False))], ("health", 0, "last_event_ns")),
        ([(ALICE, PeerHealth(0, U64_MAX + 1, down=False))], ("health", 0, "last_event_ns")),
    ],
)
def test_restoring_invalid_health_is_refused_naming_the_entry(
    health: list[tuple[PeerKey, PeerHealth]], path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        PeerGovernor.from_state(3, (), None, health)

    assert raised.value.path == path


class Model:
    """The governor's rules restated as plainly as possible."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.blocked: set[PeerKey] = set()
        self.allowed: set[PeerKey] | None = None
        self.failures: dict[PeerKey, int] = {}

    def apply(self, op: str, peer: PeerKey) -> None:
        if op == "block":
            self.blocked.add(peer)
        elif op == "unblock":
            self.blocked.discard(peer)
        elif op in {"allow", "disallow"}:
            assert self.allowed is not None
            (self.allowed.add if op == "allow" else self.allowed.discard)(peer)
        elif op in {"open", "close"}:
            self.allowed = None if op == "open" else {peer}
        elif op == "failure":
            self.failures[peer] = self.failures.get(peer, 0) + 1
        else:  # a success or forget: no failures left to keep
            self.failures.pop(peer, None)

    def decision(self, peer: PeerKey) -> Decision:
        if peer in self.blocked:
            return Decision.BLOCKED
        if self.allowed is not None and peer not in self.allowed:
            return Decision.NOT_ALLOWED
        if self.failures.get(peer, 0) >= self.threshold:
            return Decision.DOWN
        return Decision.OK


GOVERNOR_OPERATIONS: dict[str, Callable[[PeerGovernor, PeerKey, int], object]] = {
    "block": lambda governor, peer, _: governor.block(peer),
    "unblock": lambda governor, peer, _: governor.unblock(peer),
    "allow": lambda governor, peer, _: governor.allow(peer),
    "disallow": lambda governor, peer, _: governor.disallow(peer),
    "open": lambda governor, _, __: governor.set_allowlist(None),
    "close": lambda governor, peer, _: governor.set_allowlist([peer]),
    "failure": lambda governor, peer, now_ns: governor.record_failure(peer, now_ns),
    "success": lambda governor, peer, _: governor.record_success(peer),
    "forget": lambda governor, peer, _: governor.forget(peer),
}


@given(
    threshold=st.integers(1, 4),
    ops=st.lists(st.tuples(st.sampled_from(sorted(GOVERNOR_OPERATIONS)), peer_keys), max_size=40),
)
def test_decisions_agree_with_a_plain_model_after_any_sequence_of_operations(
    threshold: int, ops: list[tuple[str, PeerKey]]
) -> None:
    governor = PeerGovernor(threshold)
    model = Model(threshold)

    for now_ns, (op, peer) in enumerate(ops):
        if op in {"allow", "disallow"} and model.allowed is None:
            with pytest.raises(NoAllowlistError):
                GOVERNOR_OPERATIONS[op](governor, peer, now_ns)
        else:
            GOVERNOR_OPERATIONS[op](governor, peer, now_ns)
            model.apply(op, peer)

    for peer in (bytes([0x00, 0x01, i]) for i in range(8)):
        assert governor.decision(peer) is model.decision(peer)
        assert governor.may_contact(peer) == (model.decision(peer) is Decision.OK)
    # Rows only for peers with failures since their last success: the table stays bounded.
    assert {peer: h.consecutive_failures for peer, h in governor.health_items()} == model.failures
