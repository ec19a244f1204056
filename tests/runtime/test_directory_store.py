"""DirectoryStore: generations, verification on load, quarantine of damaged and untrusted files,
the writer lock, all-or-nothing saves under injected I/O faults, and retention."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import logging
import os
import socket
import stat
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from hang_guard import deadline

from node_runtime import (
    CorruptFileError,
    DirectoryStore,
    EncryptionKeyError,
    EncryptionMissingError,
    Flags,
    Identity,
    InsecureStoreError,
    ManualClock,
    Multiaddr,
    Node,
    NotRegularFileError,
    SnapshotNotFoundError,
    SnapshotRef,
    SnapshotTooLargeError,
    StoredSnapshot,
    StoreError,
    StoreFullError,
    StoreLockedError,
    StoreWriteError,
    TruncatedFileError,
    UnsupportedContainerError,
    read_header,
    seal,
    unseal,
)
from node_runtime.directory_store import MAX_GENERATION, QUARANTINE, SEQUENCE_LIMIT
from node_runtime.durable_io import TEMPORARY_PREFIX
from snapshot_schema import TransientSnapshot, encode

S = 1_000_000_000
WALL0 = 1_764_000_000 * S
IDENTITY = Identity.from_private_bytes(b"\x01" * 32)
OTHER = Identity.from_private_bytes(b"\x02" * 32)
PEER = Identity.from_private_bytes(b"\x03" * 32).peer_id
KEY = bytes(range(32))
WRONG_KEY = bytes(range(1, 33))
LOGGER = "node_runtime.directory_store"


def make_snapshot(n: int = 0, *, addresses: int = 0) -> TransientSnapshot:
    """A small snapshot taken `n` seconds after WALL0, with `n` minted command ids (so different
    `n` give different snapshots) and `addresses` extra addresses (to vary the size)."""
    clock = ManualClock(monotonic_ns=1_000 * S + n * S, wall_ns=WALL0 + n * S)
    node = Node(IDENTITY, clock=clock)
    for _ in range(n):
        node.command_ids.mint()
    for index in range(addresses):
        node.add_peer_address(
            PEER, Multiaddr.from_string(f"/ip4/10.0.{index // 250}.1/tcp/{index}")
        )
    return node.snapshot()


def file_name(generation: int) -> str:
    return f"{generation:020d}.nsnap"


def temporaries(path: Path) -> list[str]:
    return [name for name in os.listdir(path) if name.startswith(TEMPORARY_PREFIX)]


def quarantined(path: Path) -> list[str]:
    directory = path / QUARANTINE
    return sorted(os.listdir(directory)) if directory.is_dir() else []


def latest_of(store: DirectoryStore) -> StoredSnapshot:
    """`store.latest()`, which must find a snapshot."""
    found = store.latest()
    assert found is not None
    return found


# Basics.


def test_saves_number_generations_and_use_private_modes(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with DirectoryStore(path) as store:
        refs = [store.save(make_snapshot(n)) for n in range(1, 4)]
    assert [ref.generation for ref in refs] == [1, 2, 3]
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for n, ref in enumerate(refs, start=1):
        file = Path(ref.path)
        assert file.exists()
        assert file == path / file_name(n)
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert ref.size == file.stat().st_size
        assert ref.created_wall_ns == WALL0 + n * S
    assert temporaries(path) == []


def test_latest_list_and_load(tmp_path: Path) -> None:
    snapshots = [make_snapshot(n) for n in range(1, 4)]
    with DirectoryStore(tmp_path) as store:
        refs = [store.save(snapshot) for snapshot in snapshots]
        latest = store.latest()
        assert latest is not None
        assert latest.ref == refs[-1]
        assert latest.snapshot == snapshots[-1]
        assert latest.header.generation == 3
        assert store.list() == refs  # oldest first
        for ref, snapshot in zip(refs, snapshots, strict=True):
            assert store.load(ref).snapshot == snapshot
            assert store.load(ref.generation).snapshot == snapshot
            assert store.load(ref.generation).ref == ref
        with pytest.raises(SnapshotNotFoundError):
            store.load(4)
        with pytest.raises(LookupError):
            store.load(SnapshotRef(99, str(tmp_path / file_name(99)), 0, 0))


def test_latest_of_an_empty_store_is_none(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path / "new") as store:
        assert store.latest() is None
        assert store.at(WALL0) is None
        assert store.list() == []
        assert store.prune() == []


def test_at_returns_the_newest_taken_at_or_before(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path) as store:
        for n in (10, 20, 30):
            store.save(make_snapshot(n))

        def generation_at(wall_ns: int) -> int | None:
            found = store.at(wall_ns)
            return None if found is None else found.ref.generation

        assert generation_at(WALL0) is None
        assert generation_at(WALL0 + 10 * S - 1) is None
        assert generation_at(WALL0 + 10 * S) == 1
        assert generation_at(WALL0 + 20 * S - 1) == 1
        assert generation_at(WALL0 + 20 * S) == 2
        assert generation_at(WALL0 + 29 * S) == 2
        assert generation_at(WALL0 + 30 * S) == 3
        assert generation_at(WALL0 + 10**6 * S) == 3
        found = store.at(WALL0 + 25 * S)
        assert found is not None
        assert found.snapshot == make_snapshot(20)


def test_a_reopened_store_continues_the_generations(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path) as store:
        store.save(make_snapshot(1))
        store.save(make_snapshot(2))
    with DirectoryStore(tmp_path) as store:
        assert store.save(make_snapshot(3)).generation == 3
        latest = store.latest()
        assert latest is not None
        assert latest.snapshot == make_snapshot(3)


def test_a_closed_store_cannot_save(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.save(make_snapshot(1))


# Damaged newest file: skipped, quarantined, logged; generations never reused.


def _damaged_store(path: Path, damage: Callable[[bytes], bytes]) -> bytes:
    """Two saves, the newest then damaged; the damaged bytes."""
    with DirectoryStore(path, fsync=False) as store:
        store.save(make_snapshot(1))
        newest = Path(store.save(make_snapshot(2)).path)
    damaged = damage(newest.read_bytes())
    newest.write_bytes(damaged)
    return damaged


def _check_recovered(path: Path, damaged: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with DirectoryStore(path, fsync=False) as store:
        latest = store.latest()
        assert latest is not None
        assert latest.ref.generation == 1
        assert latest.snapshot == make_snapshot(1)
        assert not (path / file_name(2)).exists()
        assert quarantined(path) == [file_name(2)]
        assert (path / QUARANTINE / file_name(2)).read_bytes() == damaged
        assert any(
            record.levelno == logging.WARNING and file_name(2) in record.getMessage()
            for record in caplog.records
        )
        assert [ref.generation for ref in store.list()] == [1]
        assert store.save(make_snapshot(3)).generation == 3
    # A new writer, too, never hands out the quarantined generation again.
    with DirectoryStore(path, fsync=False) as store:
        assert store.save(make_snapshot(4)).generation == 4
        assert store.latest() is not None


def test_newest_file_truncated_at_every_offset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with DirectoryStore(tmp_path, fsync=False) as store:
        store.save(make_snapshot(1))
        size = store.save(make_snapshot(2)).size
        Path(store.latest().ref.path).unlink()  # type: ignore[union-attr]
        for length in range(size):
            caplog.clear()
            ref = store.save(make_snapshot(2))
            newest = Path(ref.path)
            assert ref.size == size
            damaged = newest.read_bytes()[:length]
            newest.write_bytes(damaged)
            latest = store.latest()
            assert latest is not None
            assert latest.ref.generation == 1, length
            assert not newest.exists()
            aside = tmp_path / QUARANTINE / newest.name
            assert aside.read_bytes() == damaged
            assert newest.name in caplog.text
            assert store.save(make_snapshot(3)).generation > ref.generation
            Path(store.latest().ref.path).unlink()  # type: ignore[union-attr]
            aside.unlink()  # keep the directory small (reopening is tested below)
        assert [ref.generation for ref in store.list()] == [1]


@pytest.mark.parametrize("length", [0, 7, 8, 50, 51, 120, -33, -1])
def test_newest_file_truncated_then_reopened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, length: int
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    damaged = _damaged_store(tmp_path, lambda data: data[:length])
    _check_recovered(tmp_path, damaged, caplog)


@pytest.mark.parametrize("where", [0, 9, 60, -40, -1])
def test_newest_file_with_a_flipped_bit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: int
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)

    def flip(data: bytes) -> bytes:
        out = bytearray(data)
        out[where] ^= 0x10
        return bytes(out)

    damaged = _damaged_store(tmp_path, flip)
    _check_recovered(tmp_path, damaged, caplog)


def test_a_file_with_trailing_garbage_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    damaged = _damaged_store(tmp_path, lambda data: data + b"\x00")
    _check_recovered(tmp_path, damaged, caplog)


@pytest.mark.parametrize(("offset", "mask"), [(8, 0x80), (9, 0x02), (12, 0x01), (13, 0x08)])
def test_a_flipped_version_or_flag_bit_is_damage_not_a_newer_build(
    tmp_path: Path, offset: int, mask: int
) -> None:
    # Bytes 8-9 hold the container version, 12-13 the flags: the header alone would read as
    # "written by a newer build", the trailer says the file is damaged.
    def flip(data: bytes) -> bytes:
        out = bytearray(data)
        out[offset] ^= mask
        return bytes(out)

    _damaged_store(tmp_path, flip)
    with DirectoryStore(tmp_path, fsync=False) as store:
        assert [ref.generation for ref in store.list()] == [1]
        found = store.at(WALL0 + 10 * S)
        assert found is not None
        assert found.ref.generation == 1
        assert quarantined(tmp_path) == [file_name(2)]
        assert store.save(make_snapshot(3)).generation == 3


def test_an_intact_file_from_a_newer_build_is_raised_and_left_in_place(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, fsync=False) as store:
        store.save(make_snapshot(1))
    newer = bytearray(seal(make_snapshot(2), generation=2))
    newer[8:10] = (2).to_bytes(2, "big")
    newer[-32:] = hashlib.sha256(newer[:-32]).digest()
    (tmp_path / file_name(2)).write_bytes(newer)
    with DirectoryStore(tmp_path, fsync=False) as store:
        with pytest.raises(UnsupportedContainerError):
            store.latest()
        with pytest.raises(UnsupportedContainerError):
            store.load(2)
        assert (tmp_path / file_name(2)).read_bytes() == newer
        assert quarantined(tmp_path) == []
        assert store.load(1).snapshot == make_snapshot(1)
        assert [ref.generation for ref in store.list()] == [1]  # listed around, not failed


def test_an_unreadable_newer_file_does_not_fail_a_save(tmp_path: Path) -> None:
    # The save succeeded: retention meeting a file it cannot read must not report a failure.
    newer = bytearray(seal(make_snapshot(1), generation=1))
    newer[8:10] = (2).to_bytes(2, "big")
    newer[-32:] = hashlib.sha256(newer[:-32]).digest()
    (tmp_path / file_name(1)).write_bytes(newer)
    with DirectoryStore(tmp_path, keep_last=2, fsync=False) as store:
        assert store.save(make_snapshot(2)).generation == 2
        assert (tmp_path / file_name(1)).exists()  # within keep_last: kept
        assert store.save(make_snapshot(3)).generation == 3
        assert not (tmp_path / file_name(1)).exists()  # older than keep_last: pruned
        assert store.load(3).snapshot == make_snapshot(3)


def test_a_file_whose_name_and_header_disagree_is_set_aside(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, fsync=False) as store:
        store.save(make_snapshot(1))
        # A valid sealed file of generation 7 under the name of generation 2.
        (tmp_path / file_name(2)).write_bytes(seal(make_snapshot(2), generation=7))
        assert latest_of(store).ref.generation == 1
        assert quarantined(tmp_path) == [file_name(2)]


def test_a_second_quarantine_of_the_same_name_keeps_both(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, fsync=False) as store:
        store.save(make_snapshot(1))
        for attempt in range(2):
            (tmp_path / file_name(2)).write_bytes(b"junk %d" % attempt)
            assert latest_of(store).ref.generation == 1
        assert quarantined(tmp_path) == [file_name(2), file_name(2) + ".1"]
        assert (tmp_path / QUARANTINE / file_name(2)).read_bytes() == b"junk 0"
    with DirectoryStore(tmp_path, fsync=False) as store:
        assert store.save(make_snapshot(3)).generation == 3


def test_load_raises_for_a_damaged_file_without_moving_it(tmp_path: Path) -> None:
    _damaged_store(tmp_path, lambda data: data[:-1])
    with DirectoryStore(tmp_path) as store:
        with pytest.raises(TruncatedFileError):
            store.load(2)
        assert (tmp_path / file_name(2)).exists()
        assert quarantined(tmp_path) == []


# Untrusted files and keys.


def test_a_signing_store_sets_aside_an_unsigned_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with DirectoryStore(tmp_path, signer=IDENTITY, fsync=False) as store:
        store.save(make_snapshot(1))
        intruder = seal(make_snapshot(2), generation=2)  # intact, but unsigned
        (tmp_path / file_name(2)).write_bytes(intruder)
        latest = store.latest()
        assert latest is not None
        assert latest.ref.generation == 1
        assert Flags.SIGNED in latest.header.flags
        assert quarantined(tmp_path) == [file_name(2)]
        assert (tmp_path / QUARANTINE / file_name(2)).read_bytes() == intruder
        assert "not signed" in caplog.text


def test_an_expected_signer_store_sets_aside_another_nodes_file(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, signer=IDENTITY, fsync=False) as store:
        store.save(make_snapshot(1))
    other_node = Node(OTHER, clock=ManualClock(S, WALL0 + 5 * S))
    (tmp_path / file_name(2)).write_bytes(seal(other_node.snapshot(), generation=2, signer=OTHER))
    with DirectoryStore(tmp_path, expected_signer=IDENTITY.peer_id, read_only=True) as reader:
        assert latest_of(reader).ref.generation == 1
    with DirectoryStore(tmp_path, expected_signer=IDENTITY.peer_id) as store:
        assert latest_of(store).ref.generation == 1
        assert quarantined(tmp_path) == [file_name(2)]


def test_the_wrong_key_raises_and_moves_nothing(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, encryption_key=KEY) as store:
        store.save(make_snapshot(1))
        store.save(make_snapshot(2))
    before = sorted(os.listdir(tmp_path))
    for key in (WRONG_KEY, None):
        with DirectoryStore(tmp_path, encryption_key=key) as store:
            with pytest.raises(EncryptionKeyError):
                store.latest()
            with pytest.raises(EncryptionKeyError):
                store.at(WALL0 + 10 * S)
            assert sorted(os.listdir(tmp_path)) == before
            assert quarantined(tmp_path) == []
    with DirectoryStore(tmp_path, encryption_key=KEY) as store:
        latest = store.latest()
        assert latest is not None
        assert latest.snapshot == make_snapshot(2)


# Read-only access and the writer lock.


def test_read_only_store_beside_a_writer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with DirectoryStore(tmp_path) as writer:
        writer.save(make_snapshot(1))
        writer.save(make_snapshot(2))
        reader = DirectoryStore(tmp_path, read_only=True)
        assert [ref.generation for ref in reader.list()] == [1, 2]
        latest = reader.latest()
        assert latest is not None
        assert latest.snapshot == make_snapshot(2)
        newest = tmp_path / file_name(2)
        newest.write_bytes(newest.read_bytes()[:-5])
        assert latest_of(reader).ref.generation == 1
        assert newest.exists()  # skipped, not moved
        assert quarantined(tmp_path) == []
        assert "skipping" in caplog.text
        with pytest.raises(StoreError, match="read-only"):
            reader.save(make_snapshot(3))
        with pytest.raises(StoreError, match="read-only"):
            reader.prune()
        reader.close()
        assert writer.save(make_snapshot(3)).generation == 3


def test_read_only_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        DirectoryStore(tmp_path / "missing", read_only=True)
    assert not (tmp_path / "missing").exists()


def test_a_second_writer_in_the_same_process_is_refused(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
        DirectoryStore(tmp_path)
    store.save(make_snapshot(1))  # the refused opener did not break the holder
    store.close()
    with DirectoryStore(tmp_path) as again:
        assert again.save(make_snapshot(2)).generation == 2


_CHILD = textwrap.dedent(
    """
    import sys
    from node_runtime import DirectoryStore, StoreLockedError
    try:
        store = DirectoryStore(sys.argv[1])
    except StoreLockedError as error:
        print("LOCKED", error)
    else:
        print("OPENED", [ref.generation for ref in store.list()])
        store.close()
    """
)


def _open_in_another_process(path: Path) -> str:
    result = subprocess.run(  # our own interpreter and code
        [sys.executable, "-c", _CHILD, os.fspath(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_a_writer_in_another_process_is_refused(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.save(make_snapshot(1))
    output = _open_in_another_process(tmp_path)
    assert output.startswith("LOCKED"), output
    assert f"pid {os.getpid()}" in output
    store.close()
    assert _open_in_another_process(tmp_path) == "OPENED [1]"


def test_a_writer_removes_stale_temporary_files(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path) as store:
        store.save(make_snapshot(1))
    stale = tmp_path / f"{TEMPORARY_PREFIX}{file_name(2)}.0123456789abcdef"
    stale.write_bytes(b"half a snapshot")
    with DirectoryStore(tmp_path, read_only=True) as reader:
        assert stale.exists()  # a reader never touches the writer's files
        assert [ref.generation for ref in reader.list()] == [1]
    with DirectoryStore(tmp_path) as store:
        assert not stale.exists()
        assert temporaries(tmp_path) == []
        assert [ref.generation for ref in store.list()] == [1]


# All-or-nothing saves under injected faults.


def _raiser(code: int) -> Callable[..., NoReturn]:
    def fail(*args: object, **kwargs: object) -> NoReturn:
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize(
    ("function", "code"),
    [("write", errno.ENOSPC), ("fsync", errno.EIO), ("replace", errno.EIO)],
)
def test_a_failed_save_leaves_the_store_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str, code: int
) -> None:
    with DirectoryStore(tmp_path) as store:
        first = store.save(make_snapshot(1))
        before = sorted(os.listdir(tmp_path))
        with monkeypatch.context() as patch:
            patch.setattr(os, function, _raiser(code))
            with pytest.raises(StoreWriteError) as caught:
                store.save(make_snapshot(2))
        assert caught.value.errno == code
        assert isinstance(caught.value.__cause__, OSError)
        assert temporaries(tmp_path) == []
        assert sorted(os.listdir(tmp_path)) == before
        latest = store.latest()
        assert latest is not None
        assert latest.ref == first
        assert latest.snapshot == make_snapshot(1)
        # The fault is gone: the next save works (the failed generation is simply skipped).
        ref = store.save(make_snapshot(3))
        assert ref.generation > first.generation
        latest = store.latest()
        assert latest is not None
        assert latest.ref == ref
        assert latest.snapshot == make_snapshot(3)
        assert temporaries(tmp_path) == []


def test_a_failed_retention_does_not_fail_the_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with DirectoryStore(tmp_path, keep_last=1) as store:
        store.save(make_snapshot(1))
        with monkeypatch.context() as patch:
            # Only retention's unlink fails: a successful save never unlinks anything.
            patch.setattr(Path, "unlink", _raiser(errno.EIO))
            ref = store.save(make_snapshot(2))
        assert ref.generation == 2
        assert "retention failed" in caplog.text
        assert latest_of(store).snapshot == make_snapshot(2)
        assert store.save(make_snapshot(3)).generation == 3
        assert [r.generation for r in store.list()] == [3]


def test_short_writes_still_save_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = itertools.count()

    def one_byte_at_a_time(descriptor: int, data: bytes) -> int:
        next(calls)
        return real_write(descriptor, bytes(memoryview(data)[:1]))

    with DirectoryStore(tmp_path) as store:
        with monkeypatch.context() as patch:
            patch.setattr(os, "write", one_byte_at_a_time)
            ref = store.save(make_snapshot(1))
        assert next(calls) == ref.size
        latest = store.latest()
        assert latest is not None
        assert latest.snapshot == make_snapshot(1)


# Retention.


def test_keep_last_over_a_thousand_saves(tmp_path: Path) -> None:
    snapshot = make_snapshot(1)
    with DirectoryStore(tmp_path, keep_last=5, fsync=False) as store:
        for _ in range(1_000):
            last = store.save(snapshot)
        assert last.generation == 1_000
        assert [ref.generation for ref in store.list()] == [996, 997, 998, 999, 1_000]
        assert sorted(os.listdir(tmp_path)) == [".lock"] + [file_name(n) for n in range(996, 1_001)]


def _expected_kept(sizes: dict[int, int], max_bytes: int) -> list[int]:
    kept: list[int] = []
    total = 0
    for generation in sorted(sizes, reverse=True):
        if kept and total + sizes[generation] > max_bytes:
            break
        kept.append(generation)
        total += sizes[generation]
    return sorted(kept)


@pytest.mark.parametrize("max_bytes", [0, 250, 1_000, 3_000])
def test_max_bytes_keeps_the_newest_run_that_fits(tmp_path: Path, max_bytes: int) -> None:
    sizes: dict[int, int] = {}
    with DirectoryStore(tmp_path, keep_last=None, max_bytes=max_bytes, fsync=False) as store:
        for n, addresses in enumerate([0, 30, 2, 10, 0, 25, 1, 0, 32, 3], start=1):
            ref = store.save(make_snapshot(n, addresses=addresses))
            sizes[ref.generation] = ref.size
            kept = [r.generation for r in store.list()]
            assert kept == _expected_kept(sizes, max_bytes)
            assert kept[-1] == ref.generation  # the newest always survives
            if len(kept) > 1:
                assert sum(sizes[g] for g in kept) <= max_bytes
    assert len(set(sizes.values())) > 3  # the sizes really vary


def test_the_newest_is_kept_even_when_it_alone_exceeds_max_bytes(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, keep_last=None, max_bytes=10, fsync=False) as store:
        for n in range(1, 4):
            ref = store.save(make_snapshot(n))
            assert ref.size > 10
            assert [r.generation for r in store.list()] == [n]


def test_both_limits_apply(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, keep_last=3, max_bytes=10**6, fsync=False) as store:
        for n in range(1, 8):
            store.save(make_snapshot(n))
        assert [r.generation for r in store.list()] == [5, 6, 7]


def test_prune_keeps_the_newest_valid_snapshot(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, keep_last=None, fsync=False) as store:
        for n in range(1, 4):
            store.save(make_snapshot(n))
    newest = tmp_path / file_name(3)
    newest.write_bytes(newest.read_bytes()[:100])
    with DirectoryStore(tmp_path, keep_last=1, fsync=False) as store:
        removed = store.prune()
        assert [ref.generation for ref in removed] == [1]
        assert [ref.generation for ref in store.list()] == [2]
        assert quarantined(tmp_path) == [file_name(3)]
        latest = store.latest()
        assert latest is not None
        assert latest.snapshot == make_snapshot(2)


def test_prune_sets_aside_an_unreadable_older_file_and_removes_only_verified_ones(
    tmp_path: Path,
) -> None:
    with DirectoryStore(tmp_path, keep_last=None, fsync=False) as store:
        refs = [store.save(make_snapshot(n)) for n in range(1, 4)]
    oldest = tmp_path / file_name(1)
    oldest.write_bytes(b"junk")
    with DirectoryStore(tmp_path, keep_last=1, fsync=False) as store:
        removed = store.prune()
        assert removed == [refs[1]]
        assert [ref.generation for ref in store.list()] == [3]
        assert quarantined(tmp_path) == [file_name(1)]


def test_invalid_retention_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_last"):
        DirectoryStore(tmp_path, keep_last=0)
    with pytest.raises(ValueError, match="max_bytes"):
        DirectoryStore(tmp_path, max_bytes=-1)
    with pytest.raises(ValueError, match="expected_signer"):
        DirectoryStore(tmp_path, signer=IDENTITY, expected_signer=OTHER.peer_id)


# The option matrix.


@pytest.mark.parametrize(
    ("signed", "encrypted", "compressed"), list(itertools.product((False, True), repeat=3))
)
def test_every_option_combination_round_trips(
    tmp_path: Path, signed: bool, encrypted: bool, compressed: bool
) -> None:
    signer = IDENTITY if signed else None
    key = KEY if encrypted else None
    snapshot = make_snapshot(5, addresses=20)
    with DirectoryStore(tmp_path, signer=signer, encryption_key=key, compress=compressed) as store:
        store.save(make_snapshot(1))
        ref = store.save(snapshot)
    with DirectoryStore(tmp_path, signer=signer, encryption_key=key, compress=compressed) as store:
        latest = store.latest()
        assert latest is not None
        assert latest.ref == ref
        assert latest.snapshot == snapshot
        flags = latest.header.flags
        assert (Flags.SIGNED in flags) is signed
        assert (Flags.ENCRYPTED in flags) is encrypted
        assert (Flags.COMPRESSED in flags) is compressed
    if signed:  # a reader with only the PeerId verifies the signature
        reader = DirectoryStore(
            tmp_path,
            expected_signer=IDENTITY.peer_id,
            encryption_key=key,
            read_only=True,
        )
        latest = reader.latest()
        assert latest is not None
        assert latest.snapshot == snapshot
    # The other peer's id is in the snapshot: readable in a plain file, hidden when encrypted.
    assert (PEER.to_bytes() in Path(ref.path).read_bytes()) is not (encrypted or compressed)


# Hostile sizes: no file is read whole to find out it is too large.

MIB = 1 << 20
ENCODED_LENGTH_AT = 34
BODY_LENGTH_AT = 42


def _crafted_header(craft: str, size: int) -> bytes:
    """The header of a real sealed file of generation 2, altered as `craft` says, for a file
    of `size` bytes."""
    data = seal(make_snapshot(2), generation=2)
    header = bytearray(data[: read_header(data).header_length])
    body_length = size - len(header) - 32
    if craft in ("claims a huge snapshot", "lies about its body"):
        header[BODY_LENGTH_AT : BODY_LENGTH_AT + 8] = body_length.to_bytes(8, "big")
    if craft == "claims a huge snapshot":
        header[ENCODED_LENGTH_AT : ENCODED_LENGTH_AT + 8] = body_length.to_bytes(8, "big")
    if craft == "comes from a newer build":
        header[8:10] = (2).to_bytes(2, "big")
    return bytes(header)


@pytest.mark.parametrize(
    ("craft", "load_error", "listed", "set_aside"),
    [
        ("claims a huge snapshot", SnapshotTooLargeError, [1, 2], False),
        ("lies about its body", CorruptFileError, [1, 2], True),
        ("comes from a newer build", SnapshotTooLargeError, [1], False),
    ],
)
def test_a_large_sparse_file_with_a_crafted_header_is_never_read(
    tmp_path: Path, craft: str, load_error: type[Exception], listed: list[int], set_aside: bool
) -> None:
    size = 64 * MIB
    with DirectoryStore(tmp_path, fsync=False) as store:
        store.save(make_snapshot(1))
    crafted = tmp_path / file_name(2)
    with crafted.open("wb") as file:  # sparse: 64 MiB on paper, a few blocks on disk
        file.write(_crafted_header(craft, size))
        file.truncate(size)
    with DirectoryStore(tmp_path, fsync=False, max_snapshot_size=MIB) as store:
        tracemalloc.start()
        try:
            with pytest.raises(load_error):
                store.load(2)
            assert [ref.generation for ref in store.list()] == listed
            assert latest_of(store).ref.generation == 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < MIB, peak
    assert crafted.exists() is not set_aside
    assert quarantined(tmp_path) == ([file_name(2)] if set_aside else [])


def test_a_snapshot_above_the_limit_is_skipped_and_left_for_a_reader_with_a_larger_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    small, large = make_snapshot(1), make_snapshot(2, addresses=30)
    with DirectoryStore(tmp_path, fsync=False) as store:
        store.save(small)
        store.save(large)
    limit = len(encode(small))
    assert len(encode(large)) > limit
    with DirectoryStore(tmp_path, fsync=False, max_snapshot_size=limit) as store:
        with pytest.raises(SnapshotTooLargeError, match=f"exceeds the {limit}-byte limit"):
            store.load(2)
        assert latest_of(store).snapshot == small
        assert f"skipping {tmp_path / file_name(2)}" in caplog.text
    assert quarantined(tmp_path) == []
    with DirectoryStore(tmp_path, fsync=False) as store:
        assert latest_of(store).snapshot == large


# Forgeries an encrypting store must not load.


def test_an_encrypting_store_sets_aside_a_plaintext_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    forgery = seal(make_snapshot(2), generation=2)  # intact, unsigned, in plain text
    with DirectoryStore(tmp_path, encryption_key=KEY, fsync=False) as store:
        store.save(make_snapshot(1))
        (tmp_path / file_name(2)).write_bytes(forgery)
        with pytest.raises(EncryptionMissingError):
            store.load(2)
        latest = latest_of(store)
        assert latest.ref.generation == 1
        assert Flags.ENCRYPTED in latest.header.flags
        assert quarantined(tmp_path) == [file_name(2)]
        assert (tmp_path / QUARANTINE / file_name(2)).read_bytes() == forgery
        assert "not encrypted" in caplog.text


# What is not a regular file: never followed, never blocked on.


NOT_REGULAR = ["fifo", "directory", "symlink", "socket"]
IS_KIND: dict[str, Callable[[int], bool]] = {
    "fifo": stat.S_ISFIFO,
    "directory": stat.S_ISDIR,
    "symlink": stat.S_ISLNK,
    "socket": stat.S_ISSOCK,
}


def _bind_socket(path: Path) -> None:
    """A Unix socket file at `path` (bound by its name alone: a socket path is at most 107
    bytes, and pytest's temporary paths can be longer)."""
    with contextlib.chdir(path.parent), socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path.name)


def _plant(kind: str, path: Path, outside: Path) -> None:
    """An entry of `kind` at `path`; a link points at a valid snapshot of generation 2 outside
    the store, which following it would load."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        _bind_socket(path)
    else:
        outside.write_bytes(seal(make_snapshot(2), generation=2))
        path.symlink_to(outside)


@pytest.mark.parametrize("kind", NOT_REGULAR)
def test_an_entry_that_is_not_a_regular_file_is_set_aside_never_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    path, outside = tmp_path / "store", tmp_path / "outside.nsnap"
    with DirectoryStore(path, fsync=False) as store:
        store.save(make_snapshot(1))
        _plant(kind, path / file_name(2), outside)
        with deadline():
            with pytest.raises(NotRegularFileError, match="not a regular file"):
                store.load(2)
            assert [ref.generation for ref in store.list()] == [1]
            assert latest_of(store).ref.generation == 1
        assert quarantined(path) == [file_name(2)]
        assert IS_KIND[kind](os.lstat(path / QUARANTINE / file_name(2)).st_mode)  # moved as is
        assert file_name(2) in caplog.text
        assert store.save(make_snapshot(3)).generation == 3
    if kind == "symlink":
        assert unseal(outside.read_bytes()).snapshot == make_snapshot(2)


@pytest.mark.parametrize("kind", NOT_REGULAR)
def test_a_reader_skips_an_entry_that_is_not_a_regular_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    path, outside = tmp_path / "store", tmp_path / "outside.nsnap"
    with DirectoryStore(path, fsync=False) as store:
        store.save(make_snapshot(1))
    _plant(kind, path / file_name(2), outside)
    with deadline(), DirectoryStore(path, read_only=True) as reader:
        assert latest_of(reader).ref.generation == 1
    assert IS_KIND[kind](os.lstat(path / file_name(2)).st_mode)  # left where it was
    assert f"skipping {path / file_name(2)}" in caplog.text


def test_retention_neither_opens_nor_removes_an_entry_that_is_not_a_regular_file(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / file_name(1))
    with deadline(), DirectoryStore(tmp_path, keep_last=1, fsync=False) as store:
        assert store.save(make_snapshot(2)).generation == 2
        assert store.save(make_snapshot(3)).generation == 3
        assert sorted(os.listdir(tmp_path)) == [".lock", file_name(1), file_name(3)]
        assert stat.S_ISFIFO(os.lstat(tmp_path / file_name(1)).st_mode)
        assert store.prune() == []  # prune verifies: the FIFO goes to quarantine, unopened
    assert quarantined(tmp_path) == [file_name(1)]


@pytest.mark.parametrize("kind", ["symlink", "dangling symlink", "fifo", "directory", "socket"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    path, outside = tmp_path / "store", tmp_path / "outside"
    path.mkdir(mode=0o700)
    lock = path / ".lock"
    if kind == "symlink":
        outside.write_bytes(b"precious")
        lock.symlink_to(outside)
    elif kind == "dangling symlink":
        lock.symlink_to(outside)
    elif kind == "fifo":
        os.mkfifo(lock)
    elif kind == "socket":
        _bind_socket(lock)
    else:
        lock.mkdir()
    with deadline(), pytest.raises(InsecureStoreError, match=r"\.lock: not a regular file"):
        DirectoryStore(path)
    if kind == "symlink":
        assert outside.read_bytes() == b"precious"
    else:
        assert not outside.exists()


@pytest.mark.parametrize("mode", [0o770, 0o720, 0o707, 0o702, 0o777, 0o1777])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_store_directory_writable_by_group_or_others_is_refused(
    tmp_path: Path, mode: int, read_only: bool
) -> None:
    path = tmp_path / "store"
    path.mkdir()
    path.chmod(mode)
    with pytest.raises(InsecureStoreError, match=f"mode {mode:04o}.*chmod go-w"):
        DirectoryStore(path, read_only=read_only)
    assert os.listdir(path) == []  # refused before taking the lock


@pytest.mark.parametrize("mode", [0o700, 0o750, 0o755])
def test_a_store_directory_only_its_owner_writes_is_accepted(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "store"
    path.mkdir()
    path.chmod(mode)
    with DirectoryStore(path, fsync=False) as store:
        assert store.save(make_snapshot(1)).generation == 1
    assert stat.S_IMODE(path.stat().st_mode) == mode  # checked, never changed


# Stray generation numbers never stop saves.


@pytest.mark.parametrize("where", ["store", "quarantine"])
@pytest.mark.parametrize(
    "stray", [MAX_GENERATION, MAX_GENERATION - 1, 10**20 - 1, SEQUENCE_LIMIT], ids=str
)
def test_a_stray_generation_never_stops_saves(tmp_path: Path, where: str, stray: int) -> None:
    directory = tmp_path / QUARANTINE if where == "quarantine" else tmp_path
    directory.mkdir(exist_ok=True)
    (directory / file_name(stray)).write_bytes(b"stray")
    with DirectoryStore(tmp_path, fsync=False) as store:
        assert [store.save(make_snapshot(n)).generation for n in (1, 2)] == [1, 2]
        assert latest_of(store).snapshot == make_snapshot(2)
    with DirectoryStore(tmp_path, fsync=False) as store:
        assert store.save(make_snapshot(3)).generation == 3
    assert quarantined(tmp_path) == [file_name(stray)]  # `latest` set a stray in the store aside


def test_a_stray_below_the_sequence_limit_leaves_the_numbers_above_it(tmp_path: Path) -> None:
    (tmp_path / QUARANTINE).mkdir()
    (tmp_path / QUARANTINE / file_name(SEQUENCE_LIMIT - 1)).write_bytes(b"stray")
    with DirectoryStore(tmp_path, fsync=False) as store:
        generations = [store.save(make_snapshot(n)).generation for n in (1, 2)]
        assert generations == [SEQUENCE_LIMIT, SEQUENCE_LIMIT + 1]
    # Up there only snapshots that verify number the next save: these do.
    with DirectoryStore(tmp_path, fsync=False) as store:
        assert store.save(make_snapshot(3)).generation == SEQUENCE_LIMIT + 2


def test_retention_after_a_save_leaves_a_newer_stray_alone_and_uncounted(tmp_path: Path) -> None:
    stray = tmp_path / file_name(MAX_GENERATION)
    stray.write_bytes(b"stray")
    with DirectoryStore(tmp_path, keep_last=2, fsync=False) as store:
        for n in (1, 2, 3):
            store.save(make_snapshot(n))
        assert sorted(os.listdir(tmp_path)) == [".lock", file_name(2), file_name(3), stray.name]


def test_a_name_taken_after_opening_is_skipped_never_overwritten(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, fsync=False) as store:
        (tmp_path / file_name(1)).write_bytes(b"not ours")
        (tmp_path / QUARANTINE).mkdir()
        (tmp_path / QUARANTINE / file_name(2)).write_bytes(b"set aside")
        assert store.save(make_snapshot(1)).generation == 3
        assert (tmp_path / file_name(1)).read_bytes() == b"not ours"
        assert (tmp_path / QUARANTINE / file_name(2)).read_bytes() == b"set aside"


def test_a_snapshot_that_verifies_at_the_last_generation_fills_the_store(tmp_path: Path) -> None:
    top = tmp_path / file_name(MAX_GENERATION)
    top.write_bytes(seal(make_snapshot(1), generation=MAX_GENERATION))
    with DirectoryStore(tmp_path, fsync=False) as store:
        before = sorted(os.listdir(tmp_path))
        with pytest.raises(StoreFullError, match="every generation above"):
            store.save(make_snapshot(2))
        assert sorted(os.listdir(tmp_path)) == before
        assert latest_of(store).ref.generation == MAX_GENERATION


# Prune keeps what the node can load.


def _forgery(kind: str) -> bytes:
    """A file of generation 3 that verifies for a store demanding no signer."""
    if kind == "unsigned":
        return seal(make_snapshot(3), generation=3)
    other_node = Node(OTHER, clock=ManualClock(S, WALL0 + 3 * S))
    return seal(other_node.snapshot(), generation=3, signer=OTHER)


@pytest.mark.parametrize("kind", ["unsigned", "signed by another node"])
def test_prune_without_an_expected_signer_keeps_the_newest_snapshot_of_each_signer(
    tmp_path: Path, kind: str
) -> None:
    with DirectoryStore(tmp_path, signer=IDENTITY, keep_last=None, fsync=False) as store:
        refs = [store.save(make_snapshot(n)) for n in (1, 2)]
    (tmp_path / file_name(3)).write_bytes(_forgery(kind))
    with DirectoryStore(tmp_path, keep_last=1, fsync=False) as pruner:
        assert pruner.prune() == [refs[0]]
    assert sorted(os.listdir(tmp_path)) == [".lock", file_name(2), file_name(3)]
    with DirectoryStore(tmp_path, signer=IDENTITY, fsync=False) as node_store:
        assert latest_of(node_store).ref == refs[1]


def test_prune_with_an_expected_signer_sets_a_forgery_aside(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path, signer=IDENTITY, keep_last=None, fsync=False) as store:
        refs = [store.save(make_snapshot(n)) for n in (1, 2)]
    (tmp_path / file_name(3)).write_bytes(_forgery("unsigned"))
    with DirectoryStore(
        tmp_path, expected_signer=IDENTITY.peer_id, keep_last=1, fsync=False
    ) as pruner:
        assert pruner.prune() == [refs[0]]
    assert quarantined(tmp_path) == [file_name(3)]
    with DirectoryStore(tmp_path, signer=IDENTITY, fsync=False) as node_store:
        assert [ref.generation for ref in node_store.list()] == [2]


def test_prune_leaves_a_snapshot_too_large_for_it_in_place(tmp_path: Path) -> None:
    small = [make_snapshot(1), make_snapshot(2)]
    with DirectoryStore(tmp_path, signer=IDENTITY, keep_last=None, fsync=False) as store:
        refs = [store.save(snapshot) for snapshot in (*small, make_snapshot(3, addresses=30))]
    limit = max(len(encode(snapshot)) for snapshot in small)
    with DirectoryStore(
        tmp_path,
        expected_signer=IDENTITY.peer_id,
        keep_last=1,
        max_snapshot_size=limit,
        fsync=False,
    ) as pruner:
        assert pruner.prune() == [refs[0]]
    assert quarantined(tmp_path) == []
    with DirectoryStore(tmp_path, signer=IDENTITY, fsync=False) as node_store:
        assert latest_of(node_store).ref == refs[2]


@pytest.mark.parametrize(
    ("problem", "error"),
    [("a newer build's file", UnsupportedContainerError), ("the wrong key", EncryptionKeyError)],
)
def test_prune_raises_a_reader_problem_before_moving_or_removing_anything(
    tmp_path: Path, problem: str, error: type[Exception]
) -> None:
    with DirectoryStore(tmp_path, encryption_key=KEY, keep_last=None, fsync=False) as store:
        store.save(make_snapshot(1))
        store.save(make_snapshot(2))
    (tmp_path / file_name(3)).write_bytes(b"junk")
    key = KEY
    if problem == "the wrong key":
        key = WRONG_KEY
    else:
        newer = bytearray(seal(make_snapshot(4), generation=4, encryption_key=KEY))
        newer[8:10] = (2).to_bytes(2, "big")
        newer[-32:] = hashlib.sha256(newer[:-32]).digest()
        (tmp_path / file_name(4)).write_bytes(newer)
    with DirectoryStore(tmp_path, encryption_key=key, keep_last=1, fsync=False) as store:
        before = sorted(os.listdir(tmp_path))
        with pytest.raises(error):
            store.prune()
        assert sorted(os.listdir(tmp_path)) == before


def test_a_snapshot_above_max_snapshot_size_is_not_saved(tmp_path: Path) -> None:
    big = make_snapshot(1, addresses=30)
    limit = len(encode(big)) - 1
    with DirectoryStore(tmp_path, max_snapshot_size=limit) as store:
        with pytest.raises(SnapshotTooLargeError, match="not saved"):
            store.save(big)
        assert store.list() == []
        assert [entry.name for entry in tmp_path.iterdir()] == [".lock"]
        assert store.save(make_snapshot(2)).generation >= 1  # a snapshot that fits still saves


def test_a_snapshot_ref_names_its_file_by_a_path(tmp_path: Path) -> None:
    with DirectoryStore(tmp_path) as store:
        ref = store.save(make_snapshot(1))
        assert isinstance(ref.path, Path)
        assert ref.path == tmp_path / file_name(ref.generation)
        assert ref.path.stat().st_size == ref.size
        assert store.list() == [ref]
