"""DirectoryStore's journal: appending deltas to the generation a store saved, the thresholds
that call for a full snapshot, and loading, listing, retention and quarantine over journals."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest
from journal_support import (
    IDENTITY,
    KEY,
    OTHER,
    WALL0,
    ChangingNode,
    S,
    append_step,
    delta_to,
    journal,
    journal_path,
    snapshot_path,
)

from node_runtime import (
    ContentKindError,
    DirectoryStore,
    Flags,
    JournalBaseMismatchError,
    JournalFullError,
    PeerId,
    PeerIdMismatchError,
    StoreError,
    read_header,
    seal,
    seal_delta,
    unseal,
    unseal_delta,
)
from node_runtime.directory_store import QUARANTINE
from snapshot_schema import (
    DELTA_SPEC_VERSION,
    FullSnapshotNeeded,
    Replace,
    encode,
    make_delta,
    root_state,
)
from snapshot_schema.delta_records import VersionedSnapshot

LOGGER = "node_runtime.directory_store"


def test_save_names_the_state_it_saved_by_the_hash_of_its_bytes(tmp_path: Path) -> None:
    snapshot = ChangingNode().snapshot()
    with DirectoryStore(tmp_path, fsync=False) as store:
        ref = store.save(snapshot)
        assert ref.state is not None
        assert (ref.state.generation, ref.state.sequence) == (1, 0)
        assert ref.state.digest == hashlib.sha256(encode(snapshot)).digest()
        loaded = store.latest()
        assert loaded is not None
        assert loaded.ref.state == ref.state


def test_appended_deltas_load_as_the_state_after_them(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 3)
        latest = store.latest()
    assert latest is not None
    assert latest.snapshot == states[-1]
    assert encode(latest.snapshot) == encode(states[-1])
    assert latest.ref.state is not None
    assert (latest.ref.generation, latest.ref.state.sequence) == (1, 3)
    assert latest.ref.created_wall_ns == states[-1].taken_at.wall_ns
    assert latest.header.created_wall_ns == states[0].taken_at.wall_ns  # the snapshot's header
    assert latest.journal.deltas == latest.ref.journal_deltas == 3
    assert latest.journal.bytes == journal_path(tmp_path, 1).stat().st_size
    assert (latest.journal.ignored_bytes, latest.journal.damage) == (0, None)
    with DirectoryStore(tmp_path, fsync=False) as reopened:  # after a restart, the same
        again = reopened.latest()
        assert again is not None
        assert again.snapshot == states[-1]
        assert again.ref.state == latest.ref.state


def test_append_returns_the_new_tip_with_the_journal_so_far(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = node.snapshot()
        saved = store.save(first)
        assert saved.state is not None
        delta = delta_to(VersionedSnapshot(saved.state, first), node.step())
        ref = store.append(delta)
        size = journal_path(tmp_path, 1).stat().st_size
    assert ref.state == delta.target
    assert (ref.generation, ref.path, ref.size) == (1, saved.path, saved.size)
    assert ref.created_wall_ns == delta.taken_at.wall_ns
    assert (ref.journal_deltas, ref.journal_bytes) == (1, size)


def test_a_record_is_sealed_as_the_stores_snapshots_are(tmp_path: Path) -> None:
    node = ChangingNode()
    options = {"signer": IDENTITY, "encryption_key": KEY, "compress": True}
    with DirectoryStore(tmp_path, fsync=False, **options) as store:  # type: ignore[arg-type]
        journal(store, node, 1)
    data = journal_path(tmp_path, 1).read_bytes()
    header = read_header(data)
    assert header.flags == Flags.DELTA | Flags.SIGNED | Flags.ENCRYPTED | Flags.COMPRESSED
    assert header.spec_version == DELTA_SPEC_VERSION
    assert header.generation == 1
    assert header.peer_id == IDENTITY.peer_id
    sealed = unseal_delta(data, encryption_key=KEY, expected_signer=IDENTITY.peer_id)
    assert header.created_wall_ns == sealed.delta.taken_at.wall_ns == WALL0 + S


def test_a_delta_record_is_never_read_as_a_snapshot_nor_the_reverse() -> None:
    node = ChangingNode()
    first = node.snapshot()
    snapshot_bytes = seal(first, generation=1)
    with pytest.raises(ContentKindError):
        unseal_delta(snapshot_bytes)
    record = seal_delta(delta_to(root_state(first), node.step()), peer_id=IDENTITY.peer_id)
    with pytest.raises(ContentKindError):
        unseal(record)


def test_a_delta_record_under_a_snapshots_name_is_set_aside(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 1)
    planted = journal_path(tmp_path, 1).read_bytes()
    snapshot_path(tmp_path, 2).write_bytes(planted)
    with DirectoryStore(tmp_path, fsync=False) as store:
        assert [ref.generation for ref in store.list()] == [1]
        latest = store.latest()
        assert latest is not None
        assert latest.snapshot == states[-1]
    assert sorted(os.listdir(tmp_path / QUARANTINE)) == [snapshot_path(tmp_path, 2).name]


# Refusals: a full snapshot is needed.


def test_a_new_store_instance_needs_a_full_snapshot_before_it_appends(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 1)
        tip = store.latest()
        assert tip is not None
    size = journal_path(tmp_path, 1).stat().st_size
    with DirectoryStore(tmp_path, fsync=False) as store:
        assert store.needs_full_snapshot()
        with pytest.raises(JournalBaseMismatchError, match="saved no snapshot") as caught:
            store.append(delta_to(tip.versioned, node.step()))
        assert isinstance(caught.value, FullSnapshotNeeded)
        assert isinstance(caught.value, StoreError)
        assert journal_path(tmp_path, 1).stat().st_size == size
        store.save(node.snapshot())
        assert not store.needs_full_snapshot()
        latest = store.latest()
        assert latest is not None
        assert latest.ref.generation == 2
    assert states  # generation 1 is untouched
    assert journal_path(tmp_path, 1).stat().st_size == size


def test_a_delta_from_another_state_than_the_tip_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = node.snapshot()
        saved = store.save(first)
        assert saved.state is not None
        root = VersionedSnapshot(saved.state, first)
        tip = append_step(store, root, node.step())
        size = journal_path(tmp_path, 1).stat().st_size
        with pytest.raises(JournalBaseMismatchError, match="not the journal's tip"):
            store.append(delta_to(root, node.step()))  # from the snapshot, not the tip
        assert journal_path(tmp_path, 1).stat().st_size == size
        append_step(store, tip, node.step())  # the tip still takes the next delta
        latest = store.latest()
        assert latest is not None
        assert latest.journal.deltas == 2


def test_a_delta_that_changes_the_peer_id_is_refused(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = node.snapshot()
        saved = store.save(first)
        assert saved.state is not None
        delta = delta_to(VersionedSnapshot(saved.state, first), node.step())
        changes = dict(delta.changes)
        changes["peer_id_bytes"] = Replace(OTHER.peer_id.to_bytes())
        forged = make_delta(delta.base, delta.taken_at, changes)
        with pytest.raises(PeerIdMismatchError):
            store.append(forged)
        assert not journal_path(tmp_path, 1).exists()


def test_journal_max_deltas_calls_for_a_full_snapshot(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, journal_max_deltas=2) as store:
        journal(store, node, 2)
        assert store.needs_full_snapshot()
        latest = store.latest()
        assert latest is not None
        size = journal_path(tmp_path, 1).stat().st_size
        with pytest.raises(JournalFullError, match="journal_max_deltas") as caught:
            store.append(delta_to(latest.versioned, node.step()))
        assert isinstance(caught.value, FullSnapshotNeeded)
        assert journal_path(tmp_path, 1).stat().st_size == size
        store.save(node.snapshot())
        assert not store.needs_full_snapshot()


def test_journal_max_deltas_zero_never_journals(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, journal_max_deltas=0) as store:
        first = node.snapshot()
        saved = store.save(first)
        assert saved.state is not None
        assert store.needs_full_snapshot()
        with pytest.raises(JournalFullError):
            store.append(delta_to(VersionedSnapshot(saved.state, first), node.step()))


def test_journal_max_bytes_refuses_the_append_that_would_pass_it(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, journal_max_bytes=1) as store:
        first = node.snapshot()
        saved = store.save(first)
        assert saved.state is not None
        assert not store.needs_full_snapshot()  # an empty journal is below any threshold
        with pytest.raises(JournalFullError, match="journal_max_bytes"):
            store.append(delta_to(VersionedSnapshot(saved.state, first), node.step()))
        assert not journal_path(tmp_path, 1).exists()
    with DirectoryStore(tmp_path / "measure", fsync=False) as store:
        journal(store, ChangingNode(), 2)
    exact = journal_path(tmp_path / "measure", 1).stat().st_size
    with DirectoryStore(tmp_path / "short", fsync=False, journal_max_bytes=exact - 1) as store:
        short = ChangingNode()
        journal(store, short, 1)
        tip = store.latest()
        assert tip is not None
        with pytest.raises(JournalFullError):
            append_step(store, tip.versioned, short.step())
    with DirectoryStore(tmp_path / "exact", fsync=False, journal_max_bytes=exact) as store:
        journal(store, ChangingNode(), 2)  # up to the threshold itself
        assert store.needs_full_snapshot()


def _fill(directory: Path, node: ChangingNode, padding: int) -> int:
    """Save `node`, then append steps that each change `padding` bytes of it until the store
    calls for a full snapshot; the journal's size."""
    with DirectoryStore(directory, fsync=False) as store:
        tip = _versioned(store, node)
        while not store.needs_full_snapshot():
            node.node.set_extension("test/padding", os.urandom(padding))
            try:
                tip = append_step(store, tip, node.step())
            except JournalFullError:
                break
    return journal_path(directory, 1).stat().st_size


def test_journal_max_bytes_defaults_to_a_quarter_of_the_snapshot_at_least_64_kib(
    tmp_path: Path,
) -> None:
    floor = 64 * 1024
    # A snapshot of a few hundred bytes: the floor applies.
    size = _fill(tmp_path / "small", ChangingNode(), 8_000)
    assert floor - 9_000 < size <= floor
    # A snapshot of about 1 MB: a quarter of it.
    large = ChangingNode()
    for _ in range(25_000):  # ~1 MB of blocked peers, a field no step changes
        large.node.block(PeerId.from_bytes(b"\x00\x24" + os.urandom(36)))
    quarter = len(seal(large.snapshot(), generation=1)) // 4
    size = _fill(tmp_path / "large", large, 30_000)
    assert quarter - 31_000 < size <= quarter


def _versioned(store: DirectoryStore, node: ChangingNode) -> VersionedSnapshot:
    snapshot = node.snapshot()
    ref = store.save(snapshot)
    assert ref.state is not None
    return VersionedSnapshot(ref.state, snapshot)


def test_a_read_only_store_refuses_to_append(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        journal(store, node, 1)
        latest = store.latest()
        assert latest is not None
    reader = DirectoryStore(tmp_path, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        reader.append(delta_to(latest.versioned, node.step()))


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="journal_max"):
        DirectoryStore("unused", journal_max_deltas=-1)
    with pytest.raises(ValueError, match="journal_max"):
        DirectoryStore("unused", journal_max_bytes=-1)


# Loading, listing and time travel over journals.


def test_a_reader_sees_the_state_after_the_deltas_while_the_writer_appends(
    tmp_path: Path,
) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as writer:
        first = node.snapshot()
        saved = writer.save(first)
        assert saved.state is not None
        tip = VersionedSnapshot(saved.state, first)
        reader = DirectoryStore(tmp_path, read_only=True)
        for _ in range(3):
            tip = append_step(writer, tip, node.step())
            seen = reader.latest()
            assert seen is not None
            assert seen.snapshot == tip.snapshot
            assert seen.ref.state == tip.ref


def test_at_counts_a_journal_prefix(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = journal(store, node, 3)  # generation 1: WALL0 … WALL0 + 3 s
        node.step()
        second = journal(store, node, 2)  # generation 2: WALL0 + 4 s … WALL0 + 6 s
        for states in (first, second):
            for index, state in enumerate(states):
                found = store.at(state.taken_at.wall_ns)
                assert found is not None
                assert found.snapshot == state
                assert found.journal.deltas == index
        between = store.at(WALL0 + S + S // 2)
        assert between is not None
        assert between.snapshot == first[1]
        assert between.journal.ignored_bytes > 0  # the later deltas, left out
        assert between.journal.damage is None
        assert store.at(WALL0 - 1) is None


def test_load_of_an_older_generation_includes_its_journal(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = journal(store, node, 2)
        journal(store, node, 1)
        assert store.load(1).snapshot == first[-1]


def test_list_shows_each_generations_journal_from_the_headers(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = journal(store, node, 2)
        second = journal(store, node, 0)
        refs = store.list()
    assert [(ref.generation, ref.journal_deltas) for ref in refs] == [(1, 2), (2, 0)]
    assert refs[0].journal_bytes == journal_path(tmp_path, 1).stat().st_size
    assert refs[0].created_wall_ns == first[-1].taken_at.wall_ns
    assert refs[1].created_wall_ns == second[0].taken_at.wall_ns
    assert refs[1].journal_bytes == 0
    assert refs[0].size == snapshot_path(tmp_path, 1).stat().st_size


def test_a_torn_last_record_is_left_out_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 2)
    path = journal_path(tmp_path, 1)
    whole = path.read_bytes()
    path.write_bytes(whole[:-10])
    with DirectoryStore(tmp_path, fsync=False) as store:
        latest = store.latest()
        refs = store.list()
    assert latest is not None
    assert latest.snapshot == states[1]
    assert latest.journal.damage is None
    assert latest.journal.deltas == 1
    assert latest.journal.ignored_bytes == len(whole) - 10 - latest.journal.bytes
    assert refs[0].journal_deltas == 1
    assert caplog.records == []
    assert path.exists()  # a journal is never moved for its tail


def test_a_damaged_record_is_reported_and_loading_stops_before_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 3)
        middle = store.list()[0]
    path = journal_path(tmp_path, 1)
    data = bytearray(path.read_bytes())
    second = read_header(data).file_length  # where record 1 starts
    data[second + 100] ^= 0x01
    path.write_bytes(data)
    with DirectoryStore(tmp_path, fsync=False) as store:
        latest = store.latest()
    assert latest is not None
    assert latest.snapshot == states[1]  # never past the hole: record 2 is intact but not used
    assert latest.journal.deltas == 1
    assert latest.journal.damage is not None
    assert latest.journal.damage.startswith(f"record 1 at offset {second}: ")
    assert "integrity" in latest.journal.damage
    assert latest.journal.ignored_bytes == len(data) - second
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "loading stopped after 1 deltas" in caplog.records[0].getMessage()
    assert path.exists()
    assert middle.journal_deltas == 3


def test_a_record_sealed_by_another_node_is_damage(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 1)
        latest = store.latest()
        assert latest is not None
    stranger = seal_delta(delta_to(latest.versioned, node.step()), peer_id=OTHER.peer_id)
    with journal_path(tmp_path, 1).open("ab") as file:
        file.write(stranger)
    with DirectoryStore(tmp_path, fsync=False) as store:
        loaded = store.latest()
    assert loaded is not None
    assert loaded.snapshot == states[1]
    assert loaded.journal.damage is not None
    assert "not by the snapshot's" in loaded.journal.damage


def test_a_record_that_breaks_the_chain_is_damage(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = node.snapshot()
        saved = store.save(first)
        assert saved.state is not None
        root = VersionedSnapshot(saved.state, first)
        append_step(store, root, node.step())
    # A second delta from the snapshot, not from the first delta's target.
    sideways = seal_delta(delta_to(root, node.step()), peer_id=IDENTITY.peer_id)
    with journal_path(tmp_path, 1).open("ab") as file:
        file.write(sideways)
    with DirectoryStore(tmp_path, fsync=False) as store:
        loaded = store.latest()
    assert loaded is not None
    assert loaded.journal.deltas == 1
    assert loaded.journal.damage is not None
    assert loaded.journal.damage.startswith("record 1 at offset ")


def test_an_unsigned_record_in_a_signing_store_is_damage(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, signer=IDENTITY) as store:
        states = journal(store, node, 1)
        latest = store.latest()
        assert latest is not None
    unsigned = seal_delta(delta_to(latest.versioned, node.step()), peer_id=IDENTITY.peer_id)
    with journal_path(tmp_path, 1).open("ab") as file:
        file.write(unsigned)
    with DirectoryStore(tmp_path, fsync=False, signer=IDENTITY) as store:
        loaded = store.latest()
    assert loaded is not None
    assert loaded.snapshot == states[1]
    assert loaded.journal.damage is not None


def test_a_journal_that_is_not_a_regular_file_is_reported_never_followed(
    tmp_path: Path,
) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 0)
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    journal_path(tmp_path, 1).symlink_to(target)
    with DirectoryStore(tmp_path, fsync=False) as store:
        loaded = store.latest()
    assert loaded is not None
    assert loaded.snapshot == states[0]
    assert loaded.journal.damage is not None
    assert "symbolic link" in loaded.journal.damage


# Retention and quarantine, per generation.


def test_retention_removes_a_generations_journal_with_its_snapshot(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, keep_last=2) as store:
        for _ in range(3):
            journal(store, node, 2)
    names = sorted(os.listdir(tmp_path))
    assert names == [
        ".lock",
        journal_path(tmp_path, 2).name,
        snapshot_path(tmp_path, 2).name,
        journal_path(tmp_path, 3).name,
        snapshot_path(tmp_path, 3).name,
    ]


def test_max_bytes_counts_a_generations_journal_with_its_snapshot(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, keep_last=None) as store:
        journal(store, node, 3)
    first = snapshot_path(tmp_path, 1).stat().st_size
    first_journal = journal_path(tmp_path, 1).stat().st_size
    second = node.snapshot()
    second_size = len(seal(second, generation=2))
    # Room for both snapshots, not for generation 1's journal too.
    limit = first + second_size + first_journal - 1
    with DirectoryStore(tmp_path, fsync=False, keep_last=None, max_bytes=limit) as store:
        assert store.save(second).size == second_size
    assert not snapshot_path(tmp_path, 1).exists()
    assert not journal_path(tmp_path, 1).exists()


def test_prune_counts_and_removes_journals(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, keep_last=None) as store:
        journal(store, node, 2)
        journal(store, node, 2)
    with DirectoryStore(tmp_path, fsync=False, keep_last=1) as store:
        removed = store.prune()
    assert [ref.generation for ref in removed] == [1]
    assert removed[0].journal_bytes > 0
    assert not journal_path(tmp_path, 1).exists()
    assert journal_path(tmp_path, 2).exists()


def test_a_damaged_snapshot_moves_to_quarantine_with_its_journal(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = journal(store, node, 2)
        journal(store, node, 2)
    data = bytearray(snapshot_path(tmp_path, 2).read_bytes())
    data[-1] ^= 0x01
    snapshot_path(tmp_path, 2).write_bytes(data)
    with DirectoryStore(tmp_path, fsync=False) as store:
        latest = store.latest()
        assert latest is not None
        assert latest.snapshot == first[-1]  # generation 1 with its journal
        assert store.save(node.snapshot()).generation == 3
    assert sorted(os.listdir(tmp_path / QUARANTINE)) == [
        journal_path(tmp_path, 2).name,
        snapshot_path(tmp_path, 2).name,
    ]


def test_a_stray_journal_name_is_never_taken_over_by_a_new_generation(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        journal(store, node, 0)
    stray = journal_path(tmp_path, 2)
    stray.write_bytes(b"not ours")
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 1)
        latest = store.latest()
    assert latest is not None
    assert latest.ref.generation == 3
    assert latest.snapshot == states[-1]
    assert stray.read_bytes() == b"not ours"
