"""Setters for a host that mirrors state it keeps itself: `BackoffTable.set_entry` (py-libp2p's
dial backoff) and `PeerRecordBook.set_latency` (py-libp2p's latency average)."""

from __future__ import annotations

import random

import pytest

from node_runtime import (
    BackoffPolicy,
    BackoffState,
    BackoffTable,
    ComponentTypeError,
    ComponentValueError,
    Identity,
    PeerRecordBook,
)

PEER = Identity.from_private_bytes(bytes([1]) * 32).peer_id.to_bytes()


def test_set_entry_holds_the_state_exactly_and_counts_a_change() -> None:
    table = BackoffTable(BackoffPolicy(), random.Random(1))
    state = BackoffState(attempts=1, last_attempt_ns=40, next_retry_ns=100)
    assert table.set_entry(PEER, state)
    assert table.entry(PEER) == state
    assert table.revision == 1


def test_set_entry_of_the_held_state_is_no_change() -> None:
    table = BackoffTable(BackoffPolicy(), random.Random(1))
    state = BackoffState(attempts=2, last_attempt_ns=40, next_retry_ns=100)
    table.set_entry(PEER, state)
    assert not table.set_entry(PEER, BackoffState(2, 40, 100))
    assert table.revision == 1


@pytest.mark.parametrize(
    ("state", "path"),
    [
        (BackoffState(1, 100, 99), ("state", "next_retry_ns")),
        (BackoffState(-1, 0, 0), ("state", "attempts")),
        (BackoffState(1, 0, 2**64), ("state", "next_retry_ns")),
    ],
)
def test_set_entry_refuses_a_state_from_state_refuses(
    state: BackoffState, path: tuple[str, ...]
) -> None:
    table = BackoffTable(BackoffPolicy(), random.Random(1))
    with pytest.raises(ComponentValueError) as refused:
        table.set_entry(PEER, state)
    assert refused.value.path == path
    assert table.entry(PEER) is None
    assert table.revision == 0


def test_set_entry_refuses_what_is_not_a_backoff_state() -> None:
    table = BackoffTable(BackoffPolicy(), random.Random(1))
    with pytest.raises(ComponentTypeError):
        table.set_entry(PEER, (1, 0, 10))  # type: ignore[arg-type]


def test_set_latency_sets_the_average_exactly_where_record_latency_would_average() -> None:
    book = PeerRecordBook()
    book.record_latency(PEER, 100_000)
    assert book.set_latency(PEER, 30_000)
    assert book.latency_ns(PEER) == 30_000


def test_set_latency_to_none_clears_it_and_an_emptied_record_goes() -> None:
    book = PeerRecordBook()
    book.set_latency(PEER, 5)
    assert book.set_latency(PEER, None)
    assert PEER not in book


def test_set_latency_of_the_held_value_is_no_change() -> None:
    book = PeerRecordBook()
    book.set_latency(PEER, 5)
    revision = book.revision
    assert not book.set_latency(PEER, 5)
    assert book.revision == revision


def test_set_latency_refuses_a_value_out_of_range() -> None:
    book = PeerRecordBook()
    with pytest.raises(ComponentValueError) as refused:
        book.set_latency(PEER, -1)
    assert refused.value.path == ("latency_ns",)
    assert PEER not in book
