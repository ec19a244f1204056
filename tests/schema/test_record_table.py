"""`RecordTable`: the per-peer tables hold rows and build records on demand, behaving as an
immutable sequence of records equal to the tuple of those records."""

import functools
import pickle

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapshot_schema import (
    BackoffEntry,
    FrameworkSnapshot,
    PeerRecordSnapshot,
    RecordTable,
    SnapshotValueError,
)
from snapshot_schema.encoder import pack
from snapshot_schema.unchecked import unchecked_builder, unchecked_records

PEER = bytes.fromhex("0024080112") + bytes(33)
OTHER = bytes.fromhex("1220") + bytes(range(32))
RECORDS = (BackoffEntry(PEER, 1, 2, 3), BackoffEntry(OTHER, 4, 5, 6))


def test_a_table_is_a_sequence_of_its_records() -> None:
    table = RecordTable.of(BackoffEntry, RECORDS)
    lazy = RecordTable.trusted(BackoffEntry, ((PEER, 1, 2, 3), (OTHER, 4, 5, 6)))
    for each in (table, lazy):
        assert len(each) == 2
        assert each[1] == RECORDS[1]
        assert each[-1] == RECORDS[1]
        assert list(each) == list(RECORDS)
        assert each[:1] == RECORDS[:1]
        assert type(each[:1]) is RecordTable
        assert RECORDS[0] in each
        assert BackoffEntry(PEER, 1, 2, 4) not in each
        assert each == RECORDS
        assert each.rows == ((PEER, 1, 2, 3), (OTHER, 4, 5, 6))
        assert hash(each) == hash(RECORDS)
        assert pickle.loads(pickle.dumps(each)) == each
    assert table == lazy
    assert lazy != RECORDS[:1]
    assert lazy != list(RECORDS)
    with pytest.raises(TypeError):
        RecordTable.of(BackoffEntry, (1,))


def test_tables_of_metadata_equal_in_python_but_not_in_bytes_differ() -> None:
    """`1`, `1.0` and `True` are equal in Python, and encode to different bytes: tables (and the
    snapshots holding them) compare as their records do, by value and type."""
    tables = [
        RecordTable.trusted(PeerRecordSnapshot, ((OTHER, None, (), (("k", value),), None, None),))
        for value in (1, 1.0, True)
    ]
    framework_bytes = set()
    for index, table in enumerate(tables):
        (record,) = table
        for other_index, other in enumerate(tables):
            assert (table == other) is (index == other_index)
            assert (record in other) is (index == other_index)
            assert (table == (next(iter(other)),)) is (index == other_index)
        assert table == RecordTable.of(PeerRecordSnapshot, [record])
        assert hash(table) == hash(RecordTable.of(PeerRecordSnapshot, [record]))
        framework = FrameworkSnapshot(peer_id_bytes=PEER, peer_records=table)
        assert framework != FrameworkSnapshot(peer_id_bytes=PEER, peer_records=tables[index - 1])
        framework_bytes.add(pack(table.rows))
    assert len(framework_bytes) == 3


PYTHON_EQUAL = st.sampled_from([0, 0.0, False, 1, 1.0, True, 2**64 - 1, float(2**64 - 1)])


@given(PYTHON_EQUAL, PYTHON_EQUAL)
def test_peer_records_and_their_tables_are_equal_exactly_when_their_bytes_are(
    first: int | float | bool, second: int | float | bool
) -> None:
    records = [PeerRecordSnapshot(OTHER, metadata={"k": value}) for value in (first, second)]
    tables = [RecordTable.of(PeerRecordSnapshot, [record]) for record in records]
    same_bytes = pack(tables[0].rows) == pack(tables[1].rows)
    assert (records[0] == records[1]) is same_bytes
    assert (tables[0] == tables[1]) is same_bytes
    assert (hash(tables[0]) == hash(tables[1])) is same_bytes


def test_the_constructor_holds_tables_and_checks_tables_it_is_given() -> None:
    framework = FrameworkSnapshot(peer_id_bytes=PEER, backoff_table=RECORDS)
    assert type(framework.backoff_table) is RecordTable
    again = FrameworkSnapshot(peer_id_bytes=PEER, backoff_table=framework.backoff_table)
    assert again == framework
    assert hash(again) == hash(framework)
    twice = RecordTable.trusted(BackoffEntry, ((PEER, 1, 2, 3), (PEER, 4, 5, 6)))
    with pytest.raises(SnapshotValueError, match="duplicate peer"):
        FrameworkSnapshot(peer_id_bytes=PEER, backoff_table=twice)
    with pytest.raises(SnapshotValueError, match="got one of `BackoffEntry`"):
        FrameworkSnapshot(peer_id_bytes=PEER, address_book=framework.backoff_table)


def test_a_table_is_built_only_through_of_or_trusted() -> None:
    with pytest.raises(TypeError, match=r"RecordTable\.of"):
        RecordTable()


def test_an_unchecked_builder_refuses_a_class_whose_slots_its_twin_cannot_share() -> None:
    @attrs.frozen
    class WithExtraSlot:
        value: int

        @functools.cached_property
        def doubled(self) -> int:
            return self.value * 2

    assert unchecked_builder(BackoffEntry)(PEER, 1, 2, 3) == RECORDS[0]
    with pytest.raises(TypeError, match="slot layout"):
        unchecked_builder(WithExtraSlot)


def test_unchecked_records_equal_the_constructors_and_need_a_slot_per_field() -> None:
    columns = [(PEER, OTHER), (1, 4), (2, 5), (3, 6)]
    assert unchecked_records(BackoffEntry, columns, 2) == RECORDS

    @attrs.frozen(slots=False)
    class Unslotted:
        value: int

    with pytest.raises(TypeError, match="does not keep every field in its own slot"):
        unchecked_records(Unslotted, [(1,)], 1)
