"""The typed bus's subscriptions: per event kind, subscribers in order, each at most once."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_strategies import names, u64s

from node_runtime.component_errors import ComponentValueError
from node_runtime.typed_bus import TypedBus
from snapshot_schema.checks import U64_MAX


def state_of(bus: TypedBus) -> list[tuple[str, tuple[int, ...]]]:
    return list(bus.items())


def test_subscribers_are_listed_in_the_order_they_subscribed() -> None:
    bus = TypedBus()

    bus.subscribe("peer.connected", 7)
    bus.subscribe("peer.connected", 3)
    bus.subscribe("peer.lost", 7)

    assert bus.subscribers("peer.connected") == (7, 3)
    assert state_of(bus) == [("peer.connected", (7, 3)), ("peer.lost", (7,))]


def test_a_kind_nobody_subscribed_to_has_no_subscribers() -> None:
    assert TypedBus().subscribers("peer.connected") == ()


def test_subscribing_twice_keeps_the_original_place() -> None:
    bus = TypedBus()
    bus.subscribe("peer.connected", 7)
    bus.subscribe("peer.connected", 3)

    bus.subscribe("peer.connected", 7)

    assert bus.subscribers("peer.connected") == (7, 3)


def test_a_subscriber_that_leaves_and_returns_goes_last() -> None:
    bus = TypedBus()
    bus.subscribe("peer.connected", 7)
    bus.subscribe("peer.connected", 3)

    bus.unsubscribe("peer.connected", 7)
    bus.subscribe("peer.connected", 7)

    assert bus.subscribers("peer.connected") == (3, 7)


def test_a_kind_whose_last_subscriber_leaves_is_dropped() -> None:
    bus = TypedBus()
    bus.subscribe("peer.connected", 7)

    bus.unsubscribe("peer.connected", 7)
    bus.unsubscribe("peer.connected", 7)
    bus.unsubscribe("peer.lost", 7)

    assert state_of(bus) == []


@pytest.mark.parametrize(
    ("operation", "kind", "site_id", "path"),
    [
        ("subscribe", "peer.connected", -1, ("site_id",)),
        ("subscribe", "peer.connected", U64_MAX + 1, ("site_id",)),
        ("subscribe", "peer.connected", True, ("site_id",)),
        ("subscribe", "", 1, ("kind",)),
        ("subscribe", "peer.\ud800", 1, ("kind",)),
        ("unsubscribe", "peer.connected", -1, ("site_id",)),
        ("unsubscribe", "peer.connected", "7", ("site_id",)),
        # Unhashable: refused, not a `TypeError` from the table lookup.
        ("unsubscribe", [], 7, ("kind",)),
        ("unsubscribe", "\ud800", 7, ("kind",)),
    ],
)
def test_an_invalid_subscription_change_is_refused_and_changes_nothing(
    operation: str, kind: str, site_id: int, path: tuple[str]
) -> None:
    bus = TypedBus()
    bus.subscribe("peer.connected", 7)
    before = state_of(bus)

    with pytest.raises(ComponentValueError) as raised:
        getattr(bus, operation)(kind, site_id)

    assert raised.value.path == path
    assert state_of(bus) == before


@given(
    subscriptions=st.dictionaries(
        names, st.lists(u64s, min_size=1, max_size=5, unique=True).map(tuple)
    )
)
def test_state_read_from_items_rebuilds_the_same_bus(
    subscriptions: dict[str, tuple[int, ...]],
) -> None:
    bus = TypedBus.from_state(subscriptions.items())

    rebuilt = TypedBus.from_state(bus.items())

    assert state_of(bus) == list(subscriptions.items())
    assert state_of(rebuilt) == state_of(bus)


def test_restoring_a_kind_without_subscribers_drops_it() -> None:
    bus = TypedBus.from_state([("peer.connected", ()), ("peer.lost", (1,))])

    assert state_of(bus) == [("peer.lost", (1,))]


@pytest.mark.parametrize(
    ("items", "path"),
    [
        ([("peer.lost", (1,)), ("peer.lost", (2,))], ("items", 1)),
        ([("", (1,))], ("items", 0, "kind")),
        ([("\ud800", (1,))], ("items", 0, "kind")),
        ([("peer.lost", (1, 2, 1))], ("items", 0, "site_ids", 2)),
        ([("peer.lost", (U64_MAX + 1,))], ("items", 0, "site_ids", 0)),
    ],
)
def test_restoring_invalid_subscriptions_is_refused_naming_them(
    items: list[tuple[str, tuple[int, ...]]], path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        TypedBus.from_state(items)

    assert raised.value.path == path
