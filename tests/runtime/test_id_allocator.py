"""Id allocators: every id minted is fresh and larger than the last; none is ever reused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node_runtime.component_errors import ComponentValueError, IdExhaustedError
from node_runtime.id_allocator import IdAllocator
from snapshot_schema.checks import U64_MAX


def test_ids_start_at_zero_and_count_up() -> None:
    ids = IdAllocator()

    assert [ids.mint() for _ in range(3)] == [0, 1, 2]
    assert ids.next_id == 3


def test_peeking_shows_the_next_id_without_minting_it() -> None:
    ids = IdAllocator(next_id=7)

    assert ids.peek_next() == 7
    assert ids.mint() == 7


def test_the_last_id_minted_is_two_below_two_to_the_64() -> None:
    ids = IdAllocator(next_id=U64_MAX - 1)

    assert ids.mint() == U64_MAX - 1
    assert ids.peek_next() is None
    assert ids.next_id == U64_MAX


def test_minting_from_an_exhausted_allocator_is_refused_and_changes_nothing() -> None:
    ids = IdAllocator(next_id=U64_MAX)

    with pytest.raises(IdExhaustedError):
        ids.mint()
    with pytest.raises(OverflowError):
        ids.mint()

    assert ids.next_id == U64_MAX


@pytest.mark.parametrize("next_id", [-1, U64_MAX + 1, True, 1.0])
def test_a_next_id_outside_u64_is_refused(next_id: int) -> None:
    with pytest.raises(ComponentValueError) as raised:
        IdAllocator(next_id)

    assert raised.value.path == ("next_id",)


@given(next_id=st.integers(0, U64_MAX), minted=st.integers(0, 5))
def test_an_allocator_restored_from_next_id_carries_on_where_it_stopped(
    next_id: int, minted: int
) -> None:
    ids = IdAllocator(next_id)
    before = [ids.mint() for _ in range(min(minted, U64_MAX - next_id))]

    restored = IdAllocator(ids.next_id)

    assert restored.next_id == ids.next_id
    assert restored.peek_next() == ids.peek_next()
    if restored.peek_next() is not None:
        assert all(previous < restored.mint() for previous in before)
