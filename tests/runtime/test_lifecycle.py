"""Lifecycle phases: each firing is delivered once, at the next poll, in firing order."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_strategies import names

from node_runtime.component_errors import ComponentValueError
from node_runtime.lifecycle import LifecycleQueue


def test_fired_phases_are_drained_in_firing_order_and_only_once() -> None:
    phases = LifecycleQueue()
    phases.fire("started")
    phases.fire("peer.connected")

    assert phases.drain() == ("started", "peer.connected")
    assert phases.drain() == ()


def test_a_phase_fired_twice_is_delivered_twice() -> None:
    phases = LifecycleQueue()
    phases.fire("started")
    phases.fire("started")

    assert phases.drain() == ("started", "started")


def test_pending_shows_the_queue_without_draining_it() -> None:
    phases = LifecycleQueue()
    phases.fire("started")

    assert phases.pending() == ("started",)
    assert phases.drain() == ("started",)


@pytest.mark.parametrize("phase", ["", 1, "\ud800", "stopped\udc80"])
def test_an_empty_non_str_or_unencodable_phase_is_refused_and_changes_nothing(phase: str) -> None:
    phases = LifecycleQueue()
    phases.fire("started")

    with pytest.raises(ComponentValueError) as raised:
        phases.fire(phase)

    assert raised.value.path == ("phase",)
    assert phases.pending() == ("started",)


@given(pending=st.lists(names, max_size=10))
def test_state_read_from_pending_rebuilds_the_same_queue(pending: list[str]) -> None:
    phases = LifecycleQueue.from_state(pending)

    rebuilt = LifecycleQueue.from_state(phases.pending())

    assert phases.pending() == tuple(pending)
    assert rebuilt.pending() == phases.pending()


@pytest.mark.parametrize("phase", ["", "\ud800"])
def test_restoring_an_empty_or_unencodable_phase_is_refused_naming_it(phase: str) -> None:
    with pytest.raises(ComponentValueError) as raised:
        LifecycleQueue.from_state(["started", phase])

    assert raised.value.path == ("pending", 1)
