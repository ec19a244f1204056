"""The outbound queue: envelopes leave in the order they came, restored ones flagged."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_strategies import envelopes

from node_runtime.component_errors import ComponentValueError, QueueEmptyError, QueueFullError
from node_runtime.outbound import OutboundQueue, PendingEnvelope


def state_of(queue: OutboundQueue) -> list[PendingEnvelope]:
    return list(queue.items())


def test_envelopes_leave_in_the_order_they_were_enqueued() -> None:
    queue = OutboundQueue()

    queue.enqueue(b"one")
    queue.enqueue(b"two")

    assert len(queue) == 2
    assert queue.pop() == PendingEnvelope(b"one", redelivered=False)
    assert queue.pop() == PendingEnvelope(b"two", redelivered=False)
    assert len(queue) == 0


def test_peek_shows_the_oldest_envelope_without_taking_it() -> None:
    queue = OutboundQueue()
    queue.enqueue(b"one")
    queue.enqueue(b"two")

    assert queue.peek() == PendingEnvelope(b"one")
    assert len(queue) == 2


def test_peek_on_an_empty_queue_is_none() -> None:
    assert OutboundQueue().peek() is None


def test_popping_an_empty_queue_is_refused_as_an_index_error() -> None:
    queue = OutboundQueue()

    with pytest.raises(QueueEmptyError):
        queue.pop()
    with pytest.raises(IndexError):
        queue.pop()
    assert len(queue) == 0


def test_drain_takes_everything_oldest_first() -> None:
    queue = OutboundQueue()
    for envelope in (b"a", b"b", b"c"):
        queue.enqueue(envelope)

    drained = queue.drain()

    assert [entry.envelope for entry in drained] == [b"a", b"b", b"c"]
    assert len(queue) == 0


@pytest.mark.parametrize(("max_n", "taken"), [(0, []), (2, [b"a", b"b"]), (10, [b"a", b"b", b"c"])])
def test_drain_takes_at_most_max_n(max_n: int, taken: list[bytes]) -> None:
    queue = OutboundQueue()
    for envelope in (b"a", b"b", b"c"):
        queue.enqueue(envelope)

    drained = queue.drain(max_n)

    assert [entry.envelope for entry in drained] == taken
    assert len(queue) == 3 - len(taken)


def test_draining_a_negative_number_is_refused_and_changes_nothing() -> None:
    queue = OutboundQueue()
    queue.enqueue(b"a")
    before = state_of(queue)

    with pytest.raises(ComponentValueError) as raised:
        queue.drain(-1)

    assert raised.value.path == ("max_n",)
    assert state_of(queue) == before


def test_enqueueing_into_a_full_queue_is_refused_and_changes_nothing() -> None:
    queue = OutboundQueue(max_len=2)
    queue.enqueue(b"a")
    queue.enqueue(b"b")
    before = state_of(queue)

    with pytest.raises(QueueFullError):
        queue.enqueue(b"c")

    assert state_of(queue) == before


def test_a_full_queue_takes_envelopes_again_once_one_leaves() -> None:
    queue = OutboundQueue(max_len=1)
    queue.enqueue(b"a")

    queue.pop()
    queue.enqueue(b"b")

    assert queue.peek() == PendingEnvelope(b"b")


@pytest.mark.parametrize("envelope", [b"", bytearray(b"mutable"), "text"])
def test_an_empty_or_non_bytes_envelope_is_refused_and_changes_nothing(envelope: bytes) -> None:
    queue = OutboundQueue()
    queue.enqueue(b"a")
    before = state_of(queue)

    with pytest.raises(ComponentValueError) as raised:
        queue.enqueue(envelope)

    assert raised.value.path == ("envelope",)
    assert state_of(queue) == before


@pytest.mark.parametrize("max_len", [0, -1, True])
def test_a_bound_below_one_is_refused(max_len: int) -> None:
    with pytest.raises(ComponentValueError) as raised:
        OutboundQueue(max_len)

    assert raised.value.path == ("max_len",)


@given(entries=st.lists(envelopes, max_size=20))
def test_restored_envelopes_keep_their_order_and_all_come_back_redelivered(
    entries: list[bytes],
) -> None:
    queue = OutboundQueue.from_state(entries)

    restored_again = OutboundQueue.from_state(entry.envelope for entry in queue.items())

    assert state_of(queue) == [PendingEnvelope(envelope, redelivered=True) for envelope in entries]
    assert state_of(restored_again) == state_of(queue)


def test_envelopes_enqueued_after_a_restore_are_not_flagged() -> None:
    queue = OutboundQueue.from_state([b"old"])

    queue.enqueue(b"new")

    assert queue.drain() == [PendingEnvelope(b"old", True), PendingEnvelope(b"new", False)]


def test_restoring_more_envelopes_than_the_bound_is_refused() -> None:
    with pytest.raises(ComponentValueError) as raised:
        OutboundQueue.from_state([b"a", b"b", b"c"], max_len=2)

    assert raised.value.path == ("entries", 2)


def test_restoring_an_empty_envelope_is_refused_naming_it() -> None:
    with pytest.raises(ComponentValueError) as raised:
        OutboundQueue.from_state([b"a", b""])

    assert raised.value.path == ("entries", 1)


@given(ops=st.lists(st.none() | envelopes, max_size=40))
def test_any_mix_of_enqueue_and_pop_behaves_like_a_list(ops: list[bytes | None]) -> None:
    queue = OutboundQueue(max_len=5)
    model: list[bytes] = []

    for op in ops:
        if op is None:
            if model:
                assert queue.pop().envelope == model.pop(0)
            else:
                with pytest.raises(QueueEmptyError):
                    queue.pop()
        elif len(model) == 5:
            with pytest.raises(QueueFullError):
                queue.enqueue(op)
        else:
            queue.enqueue(op)
            model.append(op)

    assert [entry.envelope for entry in queue.items()] == model
