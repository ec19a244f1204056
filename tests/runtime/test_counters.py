"""Named counters: counting up from zero, saturating at the u64 ceiling instead of failing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_strategies import names, u64s

from node_runtime.component_errors import ComponentValueError
from node_runtime.counters import Counters
from snapshot_schema.checks import U64_MAX


def test_a_counter_never_incremented_reads_zero_and_is_not_listed() -> None:
    counters = Counters()

    assert counters.get("dials") == 0
    assert list(counters.items()) == []


def test_increment_adds_one_by_default_or_by_and_returns_the_new_value() -> None:
    counters = Counters()

    assert counters.increment("dials") == 1
    assert counters.increment("dials", by=5) == 6
    assert counters.get("dials") == 6


def test_incrementing_by_zero_lists_the_counter_at_zero() -> None:
    counters = Counters()

    counters.increment("dials", by=0)

    assert list(counters.items()) == [("dials", 0)]


def test_a_counter_saturates_at_u64_max_instead_of_failing() -> None:
    counters = Counters.from_state([("sent", U64_MAX - 1)])

    assert counters.increment("sent", by=5) == U64_MAX
    assert counters.increment("sent") == U64_MAX


@pytest.mark.parametrize(
    ("name", "by", "path"),
    [
        ("sent", -1, ("by",)),
        ("sent", U64_MAX + 1, ("by",)),
        ("sent", 1.0, ("by",)),
        ("", 1, ("name",)),
        ("sent\ud800", 1, ("name",)),  # a surrogate: UTF-8, hence `encode`, cannot write it
    ],
)
def test_an_invalid_increment_is_refused_and_changes_nothing(
    name: str, by: int, path: tuple[str]
) -> None:
    counters = Counters.from_state([("sent", 3)])

    with pytest.raises(ComponentValueError) as raised:
        counters.increment(name, by)

    assert raised.value.path == path
    assert list(counters.items()) == [("sent", 3)]


@given(values=st.dictionaries(names, u64s))
def test_state_read_from_items_rebuilds_the_same_counters(values: dict[str, int]) -> None:
    counters = Counters.from_state(values.items())

    rebuilt = Counters.from_state(counters.items())

    assert list(counters.items()) == list(values.items())
    assert list(rebuilt.items()) == list(counters.items())


@pytest.mark.parametrize(
    ("items", "path"),
    [
        ([("sent", 1), ("sent", 2)], ("items", 1)),
        ([("", 1)], ("items", 0, "name")),
        ([("\udfff", 1)], ("items", 0, "name")),
        ([("sent", -1)], ("items", 0, "value")),
        ([("sent", U64_MAX + 1)], ("items", 0, "value")),
    ],
)
def test_restoring_an_invalid_counter_is_refused_naming_it(
    items: list[tuple[str, int]], path: tuple[object, ...]
) -> None:
    with pytest.raises(ComponentValueError) as raised:
        Counters.from_state(items)

    assert raised.value.path == path
