"""What every snapshot store promises, checked against each kind of store: `DirectoryStore` in
a temporary directory and `ObjectStore` in a real SeaweedFS server's bucket (started by the
test setup). One suite, run once per backend: saving, loading, listing, `at`, the journal,
retention, quarantine of what does not verify, damage at every offset of a journal record,
signatures and encryption."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from journal_support import IDENTITY, KEY, OTHER, ChangingNode, journal
from store_backends import Backend, DirectoryBackend, ObjectBackend, snapshot_name

from node_runtime import (
    Checkpointer,
    EncryptionKeyError,
    JournalStore,
    SnapshotNotFoundError,
    StoreError,
)
from snapshot_schema import encode

BACKENDS = ["directory", "object"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    if request.param == "directory":
        return DirectoryBackend(tmp_path_factory.mktemp("store"))
    bucket = request.getfixturevalue("s3_bucket")
    return ObjectBackend(bucket.store)


@pytest.fixture
def store(backend: Backend) -> Iterator[JournalStore]:
    with backend.open() as opened:
        yield opened


def test_a_saved_snapshot_is_the_latest_and_listed_as_saved(store: JournalStore) -> None:
    snapshot = ChangingNode().snapshot()
    ref = store.save(snapshot)
    latest = store.latest()
    assert latest is not None
    assert latest.snapshot == snapshot
    assert latest.ref == ref
    assert latest.ref.state == ref.state
    assert store.list() == [ref]
    assert store.load(ref.generation).snapshot == snapshot


def test_generations_only_grow_across_instances(backend: Backend) -> None:
    node = ChangingNode()
    with backend.open() as first:
        generations = [first.save(node.step()).generation for _ in range(2)]
    with backend.open() as second:
        generations.append(second.save(node.step()).generation)
    assert generations == sorted(set(generations))


def test_an_empty_store_has_no_latest_and_no_generation(store: JournalStore) -> None:
    assert store.latest() is None
    assert store.at(2**63) is None
    assert store.list() == []
    with pytest.raises(SnapshotNotFoundError):
        store.load(1)


def test_appended_deltas_load_listed_and_at_any_time(store: JournalStore) -> None:
    states = journal(store, ChangingNode(), 4)
    latest = store.latest()
    assert latest is not None
    assert encode(latest.snapshot) == encode(states[-1])
    assert latest.journal.deltas == latest.ref.journal_deltas == 4
    (listed,) = store.list()
    assert (listed.journal_deltas, listed.journal_bytes) == (4, latest.journal.bytes)
    assert listed.created_wall_ns == states[-1].taken_at.wall_ns
    for index, state in enumerate(states):
        at = store.at(state.taken_at.wall_ns)
        assert at is not None
        assert at.snapshot == state
        assert at.journal.deltas == index
    assert store.at(states[0].taken_at.wall_ns - 1) is None


def test_retention_keeps_the_newest_generations_with_their_journals(backend: Backend) -> None:
    node = ChangingNode()
    with backend.open(keep_last=2) as store:
        for _ in range(4):
            journal(store, node, 2)
        assert [ref.generation for ref in store.list()] == [3, 4]
    assert {name.split("/")[0][:20] for name in backend.names()} == {
        f"{3:020d}",
        f"{4:020d}",
    }


def test_a_damaged_newest_snapshot_is_set_aside_with_its_journal(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    node = ChangingNode()
    with backend.open() as store:
        older = journal(store, node, 1)
        journal(store, node, 2)
    data = bytearray(backend.snapshot(2))
    data[len(data) // 2] ^= 0x10
    backend.put_snapshot(2, bytes(data))
    with backend.open() as store, caplog.at_level(logging.WARNING):
        latest = store.latest()
        assert latest is not None
        assert latest.snapshot == older[-1]
        assert [ref.generation for ref in store.list()] == [1]
    quarantined = {name for name in backend.names() if name.startswith("quarantine/")}
    assert f"quarantine/{snapshot_name(2)}" in quarantined
    assert any(".journal" in name for name in quarantined)  # the journal went with it
    assert "integrity" in caplog.text


def test_a_reader_sets_nothing_aside(backend: Backend) -> None:
    with backend.open() as store:
        store.save(ChangingNode().snapshot())
    data = bytearray(backend.snapshot(1))
    data[-1] ^= 1
    backend.put_snapshot(1, bytes(data))
    with backend.open(read_only=True) as reader:
        assert reader.latest() is None
        with pytest.raises(StoreError):
            reader.save(ChangingNode().snapshot())
    assert snapshot_name(1) in backend.names()


def test_a_damaged_record_stops_loading_before_it_and_never_skips_it(backend: Backend) -> None:
    with backend.open() as store:
        states = journal(store, ChangingNode(), 4)
    records = backend.records(1)
    damaged = bytearray(records[1])
    damaged[-5] ^= 0x01
    backend.put_records(1, [records[0], bytes(damaged), *records[2:]])
    with backend.open() as store:
        latest = store.latest()
    assert latest is not None
    assert latest.snapshot == states[1]
    assert latest.journal.deltas == 1
    assert latest.journal.damage is not None
    assert latest.journal.damage.startswith("record 1 ")


@pytest.mark.slow
def test_a_record_cut_or_flipped_at_any_offset_loads_a_state_the_node_had(
    backend: Backend,
) -> None:
    """Every prefix of the last record, and the record with one bit flipped at each offset,
    loads the state before it: never a state the node did not have, never an error."""
    with backend.open() as store:
        states = journal(store, ChangingNode(), 2, small=True)
    records = backend.records(1)
    last = records[-1]
    for offset in range(len(last)):
        flipped = bytearray(last)
        flipped[offset] ^= 1 << (offset % 8)
        for damaged in (last[:offset], bytes(flipped)):
            backend.put_records(1, [*records[:-1], damaged])
            with backend.open(read_only=True) as reader:
                latest = reader.latest()
            assert latest is not None, offset
            assert latest.snapshot == states[1], offset
    backend.put_records(1, records)
    with backend.open(read_only=True) as reader:
        restored = reader.latest()
    assert restored is not None
    assert restored.snapshot == states[2]


def test_signed_files_load_only_for_the_expected_signer(backend: Backend) -> None:
    node = ChangingNode()
    with backend.open(signer=IDENTITY) as store:
        states = journal(store, node, 2)
    with backend.open(expected_signer=IDENTITY.peer_id, read_only=True) as reader:
        latest = reader.latest()
        assert latest is not None
        assert latest.snapshot == states[-1]
    with backend.open(expected_signer=OTHER.peer_id) as stranger:
        assert stranger.latest() is None  # untrusted: set aside, never loaded
    assert f"quarantine/{snapshot_name(1)}" in backend.names()


def test_encrypted_files_hold_no_plaintext_and_need_the_key(backend: Backend) -> None:
    node = ChangingNode()
    with backend.open(encryption_key=KEY) as store:
        states = journal(store, node, 1)
    counter_name = b"step"
    assert counter_name not in backend.snapshot(1)
    assert all(counter_name not in record for record in backend.records(1))
    with backend.open(encryption_key=KEY, read_only=True) as reader:
        latest = reader.latest()
        assert latest is not None
        assert latest.snapshot == states[-1]
    with (
        backend.open(encryption_key=bytes(32)) as wrong,
        pytest.raises(EncryptionKeyError, match="another key"),
    ):
        wrong.latest()  # a key problem is the reader's, not the file's: raised, nothing moved
    assert not any(name.startswith("quarantine/") for name in backend.names())


def test_prune_verifies_then_keeps_the_limits(backend: Backend) -> None:
    node = ChangingNode()
    with backend.open(keep_last=None) as store:
        for _ in range(3):
            journal(store, node, 1)
    data = bytearray(backend.snapshot(1))
    data[-1] ^= 1
    backend.put_snapshot(1, bytes(data))
    with backend.open(keep_last=1) as store:
        removed = store.prune()
        assert [ref.generation for ref in removed] == [2]
        assert [ref.generation for ref in store.list()] == [3]
    assert f"quarantine/{snapshot_name(1)}" in backend.names()


class _Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_autosave_journals_into_it_and_it_loads_as_the_node(backend: Backend) -> None:
    changing = ChangingNode()
    node, timer = changing.node, _Timer()
    with backend.open(journal_max_deltas=2) as store:
        autosave = Checkpointer(node, store, interval=30.0, timer=timer)
        try:
            assert autosave.journaling
            for _ in range(5):
                changing.tick()
                timer.now += 30.0
                assert autosave.poll()
                assert autosave.flush(10.0) is not None
                latest = store.latest()
                assert latest is not None
                assert latest.snapshot == node.snapshot()
        finally:
            autosave.close(10.0)
        # Five saves: a full snapshot, two deltas (the threshold), a full one, a delta.
        assert [(ref.generation, ref.journal_deltas) for ref in store.list()] == [(1, 2), (2, 1)]
