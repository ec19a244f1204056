"""Agreement: the whole-row tests `from_state` trusts for canonical rows pass only rows that the
value-by-value checks accept as they are, and restored protocol lists are held once."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from node_runtime.component_errors import ComponentValueError
from node_runtime.peer_record_values import (
    are_canonical_names,
    is_canonical_metadata,
    is_inlined_ed25519_key,
)
from node_runtime.peer_records import PeerRecordBook, PeerRecordLimits
from snapshot_schema.checks import U64_MAX
from snapshot_schema.peer_record_checks import I64_MIN

LIMITS = PeerRecordLimits(
    max_protocols=3, max_metadata=3, max_metadata_value_size=4, max_name_size=3
)
PEER = bytes([0x00, 36, 0x08, 0x01, 0x12, 0x20]) + bytes(range(32))

names = (
    st.sampled_from(["a", "b", "abc", "/x"])
    | st.sampled_from(["", "abcd", "é", "\ud800"])
    | st.text(max_size=4)
)
values = st.sampled_from([True, None, 0.0, 1, "ab", b"x"]) | st.one_of(
    st.sampled_from([math.nan, -0.0, 0.0, math.inf, I64_MIN, I64_MIN - 1, U64_MAX, U64_MAX + 1]),
    st.sampled_from([True, None, b"", b"12345", "1234", "12345", "é", "\ud800"]),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.builds(bytearray),
)
# Mostly sorted and unique (the rows the whole-row tests pass), with every kind of fault.
name_tuples = st.one_of(
    st.lists(names, max_size=4, unique=True).map(sorted).map(tuple),
    st.lists(names, max_size=4).map(tuple),
    st.lists(names, max_size=4),
)
metadata = st.one_of(
    st.dictionaries(names, values, max_size=3).map(lambda pairs: tuple(sorted(pairs.items()))),
    st.lists(st.tuples(names, values) | st.tuples(names), max_size=4).map(tuple),
    st.dictionaries(names, values, max_size=2),
)


def accepted(check: object) -> object:
    try:
        return check()  # type: ignore[operator]
    except ComponentValueError:
        return None


def typed(pairs: tuple[tuple[str, object], ...]) -> list[tuple[str, type, object]]:
    return [(key, type(value), value) for key, value in pairs]


@given(name_tuples)
@example(("é",))
@example(("",))
@example(("b", "a"))
@example(("a", "a"))
@example(("abcd",))
@example(("a", "b", "c", "d"))
def test_canonical_names_are_protocols_the_full_check_keeps_as_they_are(protocols: object) -> None:
    if are_canonical_names(protocols, LIMITS.max_protocols, LIMITS.max_name_size):
        book = PeerRecordBook(LIMITS)
        kept = book._protocol_set(protocols, (), "protocols", restoring=True)  # type: ignore[arg-type]
        assert kept == protocols


@settings(max_examples=500)  # most drawn metadata is faulty: enough canonical ones pass too
@given(metadata)
@example((("a", -0.0),))
@example((("a", math.nan),))
@example((("a", U64_MAX + 1),))
@example((("a", "é" * 3),))
@example((("a", 1), ("a", 2)))
@example((("é", 1),))
def test_canonical_metadata_is_metadata_the_full_check_keeps_as_it_is(pairs: object) -> None:
    if is_canonical_metadata(
        pairs, LIMITS.max_metadata, LIMITS.max_name_size, LIMITS.max_metadata_value_size
    ):
        book = PeerRecordBook(LIMITS)
        kept = book._metadata_of(pairs, 0)  # type: ignore[arg-type]
        assert typed(kept) == typed(pairs)  # type: ignore[arg-type]


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_an_inlined_ed25519_key_is_one_the_full_check_accepts(peer: bytes, key: bytes) -> None:
    for candidate_peer, candidate_key in [(peer, key), (PEER, PEER[2:]), (PEER, key)]:
        if is_inlined_ed25519_key(candidate_peer, candidate_key):
            book = PeerRecordBook()
            assert book.set_public_key(candidate_peer, candidate_key)


def test_equal_restored_protocol_lists_are_held_once() -> None:
    other = bytes([0x00, 36, 0x08, 0x01, 0x12, 0x20]) + bytes(32)
    rows = sorted(
        (peer, None, tuple(f"/ipfs/{name}/1.0.0" for name in ("id", "kad")), (), None, None)
        for peer in (PEER, other)
    )
    assert rows[0][2] is not rows[1][2]

    book = PeerRecordBook.from_state(rows)

    assert book.protocols(PEER) is book.protocols(other)
