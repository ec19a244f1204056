"""The decoder's columnar table checks accept exactly the rows the record constructors accept."""

from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from snapshot_schema import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    PeerHealthSnapshot,
    PendingOutboundEntry,
    SnapshotDecodeError,
    SnapshotValueError,
)
from snapshot_schema.body_builder import (
    _U32S,
    _U64S,
    _address_lists,
    _bools,
    _fast_table,
    _nonempty_bytes,
    _PeerColumns,
    _retry_after_attempt,
)
from snapshot_schema.strategies import peer_ids

# Values near every boundary the checks draw, and of every wrong wire type.
edge_ints = st.sampled_from([-1, 0, 1, 2**32 - 1, 2**32, 2**64 - 1, 2**64])
scalars = st.one_of(edge_ints, st.booleans(), st.none(), st.binary(max_size=3), st.text(max_size=2))
peers = st.one_of(
    peer_ids(), st.sampled_from([b"", b"\x12", b"\x12\x20", b"\x80\x00\x00"]), scalars
)
address_lists = st.one_of(
    st.lists(st.sampled_from([b"a", b"b", b"", "a", 1]), max_size=3).map(tuple), scalars
)

TABLES: dict[type, tuple[Any, ...]] = {
    AddressBookEntrySnapshot: (
        st.tuples(peers, address_lists, edge_ints | scalars),
        (lambda p: (p, _address_lists, _U64S)),
        None,
    ),
    PeerHealthSnapshot: (
        st.tuples(peers, edge_ints | scalars, edge_ints, st.booleans() | scalars),
        (lambda p: (p, _U32S, _U64S, _bools)),
        None,
    ),
    BackoffEntry: (
        st.tuples(peers, edge_ints, edge_ints | scalars, edge_ints),
        (lambda p: (p, _U32S, _U64S, _U64S)),
        _retry_after_attempt,
    ),
    PendingOutboundEntry: (
        st.tuples(st.binary(max_size=2) | scalars, st.booleans() | scalars),
        (lambda p: (_nonempty_bytes, _bools)),
        None,
    ),
}


def _constructor_verdict(cls: type, rows: list[tuple[Any, ...]]) -> bool:
    seen = set()
    try:
        records = [cls(*row) for row in rows]
    except (SnapshotValueError, TypeError):
        return False
    for record in records:
        key = getattr(record, "peer_id", id(record))
        if key in seen:
            return False
        seen.add(key)
    return True


@settings(max_examples=400)
@given(st.sampled_from(sorted(TABLES, key=lambda cls: cls.__name__)), st.data())
def test_fast_table_and_constructors_agree(cls: type, data: st.DataObject) -> None:
    row_strategy, column_tests, row_test = TABLES[cls]
    rows = data.draw(st.lists(row_strategy, max_size=4))
    try:
        built: Sequence[Any] = _fast_table(
            tuple(rows), ("t",), cls, column_tests(_PeerColumns()), row_test
        )
    except SnapshotDecodeError:
        assert not _constructor_verdict(cls, rows)
    else:
        assert _constructor_verdict(cls, rows)
        assert built == tuple(cls(*row) for row in rows)
