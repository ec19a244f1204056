"""A journal cut at every offset loads its longest complete prefix, quietly; a bit flipped
anywhere in a record stops loading before that record, reported. With every option a store
can seal with (signing, encryption, compression)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import attrs
import pytest
from journal_support import IDENTITY, KEY, ChangingNode, journal, journal_path, snapshot_path

from node_runtime import DirectoryStore, read_header, unseal
from node_runtime.journal_replay import RecordChecks, Replayed, replay_journal
from node_runtime.sealed_file import SealedHeader
from snapshot_schema import TransientSnapshot, root_ref_of_encoded
from snapshot_schema.delta_records import VersionedSnapshot

# Header fields (docs/FORMAT.md §8.1): container version, header length and flags; encoded
# length, body length and PeerId length.
BODY_LENGTH = range(42, 50)
LENGTHS_AND_FLAGS = (range(8, 14), range(34, 51))
OPTIONS: dict[str, dict[str, object]] = {
    "plain": {},
    "signed": {"signer": IDENTITY},
    "encrypted": {"encryption_key": KEY},
    "signed and encrypted": {"signer": IDENTITY, "encryption_key": KEY},
    "compressed": {"compress": True},
}

QUICK = ["plain", "signed and encrypted", "compressed"]
"""The option sets every run checks; the slow tests check all of `OPTIONS`."""


@attrs.frozen
class Journal:
    """A generation of two deltas: the loaded snapshot, its journal's bytes, where each record
    ends, and the state after each prefix."""

    root: VersionedSnapshot
    header: SealedHeader
    data: bytes
    ends: tuple[int, ...]
    states: tuple[TransientSnapshot, ...]
    checks: RecordChecks

    def replay(self, path: Path, data: bytes) -> Replayed:
        path.write_bytes(data)
        return replay_journal(path, self.root, self.header, self.checks)

    def record_at(self, offset: int) -> int:
        """The index of the record holding the byte at `offset`."""
        return next(index for index, end in enumerate(self.ends) if offset < end)


def _written(directory: Path, options: dict[str, object]) -> Journal:
    with DirectoryStore(directory, fsync=False, **options) as store:  # type: ignore[arg-type]
        states = journal(store, ChangingNode(), 2, small=True)
    key = options.get("encryption_key")
    assert key is None or isinstance(key, bytes)
    sealed = unseal(snapshot_path(directory, 1).read_bytes(), encryption_key=key)
    data = journal_path(directory, 1).read_bytes()
    ends = []
    offset = 0
    while offset < len(data):
        offset += read_header(data[offset:]).file_length
        ends.append(offset)
    root = VersionedSnapshot(root_ref_of_encoded(sealed.encoded, 1), sealed.snapshot)
    signer = IDENTITY.peer_id if "signer" in options else None
    checks = RecordChecks(key, signer, key is not None, 1 << 20)
    return Journal(root, sealed.header, data, tuple(ends), tuple(states), checks)


@pytest.mark.parametrize(
    "name",
    [
        *QUICK,
        *(pytest.param(name, marks=pytest.mark.slow) for name in OPTIONS if name not in QUICK),
    ],
)
def test_a_journal_cut_at_every_offset_loads_its_longest_complete_prefix(
    tmp_path: Path, name: str
) -> None:
    written = _written(tmp_path / "store", OPTIONS[name])
    assert len(written.ends) == 2
    path = tmp_path / "cut.journal"
    started = time.perf_counter()
    for cut in range(len(written.data) + 1):
        replayed = written.replay(path, written.data[:cut])
        complete = sum(end <= cut for end in written.ends)
        assert replayed.journal.damage is None, cut
        assert replayed.journal.deltas == complete, cut
        assert replayed.state.snapshot == written.states[complete], cut
        assert replayed.journal.bytes == (written.ends[complete - 1] if complete else 0)
        assert replayed.journal.ignored_bytes == cut - replayed.journal.bytes
    print(f"\n{name}: {len(written.data) + 1} cuts in {time.perf_counter() - started:.2f} s")


def _check_flips(written: Journal, path: Path, name: str, *, every_bit: bool) -> int:
    """Flip bits of every byte of the journal, one at a time, and check each loads the records
    before the flipped one's, reported as damage; how many flips. Every bit of each record's
    length and flag fields (where a flip could pass for a torn record), one bit of any other
    byte (where every flip fails the digest alike) unless `every_bit`."""
    last_start = written.ends[-2]
    flips = 0
    for offset in range(len(written.data)):
        record = written.record_at(offset)
        start = written.ends[record - 1] if record else 0
        exhaustive = every_bit or any(offset - start in field for field in LENGTHS_AND_FLAGS)
        for bit in range(8) if exhaustive else [offset % 8]:
            data = bytearray(written.data)
            data[offset] ^= 1 << bit
            replayed = written.replay(path, bytes(data))
            flips += 1
            where = (offset, bit)
            assert replayed.journal.deltas == record, where
            assert replayed.state.snapshot == written.states[record], where
            assert replayed.journal.bytes == start
            if replayed.journal.damage is None:
                # Only a compressed record's body length has no exact check: in the last
                # record, a flip that lengthens it reads as a torn record (left out all the
                # same).
                assert "compress" in OPTIONS[name], where
                assert offset - last_start in BODY_LENGTH, where
            else:
                assert replayed.journal.damage.startswith(f"record {record} at offset {start}: ")
    return flips


@pytest.mark.parametrize("name", QUICK)
def test_a_bit_flipped_in_any_record_stops_loading_before_it_reported(
    tmp_path: Path, name: str
) -> None:
    written = _written(tmp_path / "store", OPTIONS[name])
    started = time.perf_counter()
    flips = _check_flips(written, tmp_path / "flipped.journal", name, every_bit=False)
    print(f"\n{name}: {flips} flips in {time.perf_counter() - started:.2f} s")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPTIONS))
def test_every_bit_flipped_in_every_record_stops_loading_before_it_reported(
    tmp_path: Path, name: str
) -> None:
    written = _written(tmp_path / "store", OPTIONS[name])
    started = time.perf_counter()
    flips = _check_flips(written, tmp_path / "flipped.journal", name, every_bit=True)
    assert flips == 8 * len(written.data)
    print(f"\n{name}: {flips} flips in {time.perf_counter() - started:.2f} s")


def test_trailing_zeros_after_the_records_are_damage_not_a_torn_record(tmp_path: Path) -> None:
    # What a file system may leave after a power cut that extended the file but lost its data.
    written = _written(tmp_path / "store", {})
    replayed = written.replay(tmp_path / "zeros.journal", written.data + bytes(64))
    assert replayed.journal.deltas == 2
    assert replayed.state.snapshot == written.states[2]
    assert replayed.journal.damage is not None
    assert "magic" in replayed.journal.damage


def test_an_empty_journal_is_no_delta(tmp_path: Path) -> None:
    written = _written(tmp_path / "store", {})
    replayed = written.replay(tmp_path / "empty.journal", b"")
    assert replayed.journal == type(replayed.journal)()
    assert replayed.state == written.root


def test_no_journal_is_the_snapshot_alone(tmp_path: Path) -> None:
    written = _written(tmp_path / "store", {})
    missing = tmp_path / "missing.journal"
    replayed = replay_journal(missing, written.root, written.header, written.checks)
    assert replayed.state == written.root
    assert replayed.wall_ns == written.root.snapshot.taken_at.wall_ns
    assert not os.path.lexists(missing)
