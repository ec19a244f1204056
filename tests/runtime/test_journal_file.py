"""Appending to a journal is durable and all or nothing: the system calls in order, and every
failure undone (or, when it cannot be, appends stopped until the next full snapshot)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from journal_support import ChangingNode, append_step, journal, journal_path

from node_runtime import DirectoryStore, JournalBaseMismatchError, StoreWriteError
from node_runtime import journal_file as journal_file_module
from node_runtime.journal_file import JournalWriter
from snapshot_schema.delta_records import VersionedSnapshot


def _fail(number: int) -> OSError:
    return OSError(number, os.strerror(number))


def _raiser(number: int) -> Callable[..., NoReturn]:
    """A stand-in for a system call that fails with `number`."""

    def fail(*_: object) -> NoReturn:
        raise _fail(number)

    return fail


def test_the_first_append_fsyncs_the_file_then_the_directory_later_ones_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync = os.fsync
    path = tmp_path / "x.journal"

    def fsync(descriptor: int) -> None:
        calls.append(f"fsync {os.path.getsize(path)}")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(
        journal_file_module, "fsync_directory", lambda directory: calls.append(f"dir {directory}")
    )
    writer = JournalWriter(path, durable=True)
    writer.append(b"a" * 10)
    writer.append(b"b" * 5)
    writer.close()
    assert calls == ["fsync 10", f"dir {tmp_path}", "fsync 15"]
    assert path.read_bytes() == b"a" * 10 + b"b" * 5
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_without_durability_nothing_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("fsync with durable=False")

    monkeypatch.setattr(os, "fsync", refuse)
    monkeypatch.setattr(journal_file_module, "fsync_directory", refuse)
    writer = JournalWriter(tmp_path / "x.journal", durable=False)
    writer.append(b"abc")
    writer.close()
    assert (tmp_path / "x.journal").read_bytes() == b"abc"


@pytest.mark.parametrize("failing", ["write", "fsync", "directory fsync"])
def test_a_failed_append_is_cut_back_to_the_previous_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "x.journal"
    writer = JournalWriter(path, durable=True)
    if failing == "directory fsync":  # only the first append syncs the directory
        monkeypatch.setattr(journal_file_module, "fsync_directory", _raiser(errno.EIO))
    else:
        writer.append(b"kept")
        if failing == "write":

            def half_then_full(descriptor: int, data: bytes) -> None:
                os.write(descriptor, bytes(data)[: len(data) // 2])
                raise _fail(errno.ENOSPC)

            monkeypatch.setattr(journal_file_module, "write_all", half_then_full)
        else:
            real_fsync = os.fsync
            calls = iter([_raiser(errno.EIO)])  # the record's fsync fails, the undo's works

            def fsync_once(descriptor: int) -> None:
                next(calls, real_fsync)(descriptor)

            monkeypatch.setattr(os, "fsync", fsync_once)
    before = writer.length
    with pytest.raises(OSError, match=r"No space|Input/output"):
        writer.append(b"lost record")
    assert os.path.getsize(path) == before
    assert (writer.length, writer.broken) == (before, False)
    monkeypatch.undo()
    writer.append(b"next")
    assert path.read_bytes()[before:] == b"next"
    writer.close()


def test_an_append_that_cannot_be_undone_breaks_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = JournalWriter(tmp_path / "x.journal", durable=False)
    writer.append(b"kept")

    def half(descriptor: int, data: bytes) -> None:
        os.write(descriptor, bytes(data)[:3])
        raise _fail(errno.EIO)

    monkeypatch.setattr(journal_file_module, "write_all", half)
    monkeypatch.setattr(os, "ftruncate", _raiser(errno.EIO))
    with pytest.raises(OSError, match="Input/output"):
        writer.append(b"lost record")
    assert writer.broken
    writer.close()


def test_a_writer_never_appends_to_a_file_it_did_not_create(tmp_path: Path) -> None:
    path = tmp_path / "x.journal"
    path.write_bytes(b"someone else's")
    writer = JournalWriter(path, durable=False)
    with pytest.raises(FileExistsError):
        writer.append(b"record")
    assert path.read_bytes() == b"someone else's"


# The same, through the store.


def test_a_failed_append_raises_store_write_error_and_keeps_the_tip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 1)
        tip = store.latest()
        assert tip is not None
        size = journal_path(tmp_path, 1).stat().st_size

        def full(descriptor: int, data: bytes) -> None:
            os.write(descriptor, bytes(data)[:7])
            raise _fail(errno.ENOSPC)

        monkeypatch.setattr(journal_file_module, "write_all", full)
        step = node.step()
        with pytest.raises(StoreWriteError, match="was undone") as caught:
            append_step(store, tip.versioned, step)
        assert caught.value.errno == errno.ENOSPC
        assert journal_path(tmp_path, 1).stat().st_size == size
        assert not store.needs_full_snapshot()
        monkeypatch.undo()
        append_step(store, tip.versioned, step)  # the same delta, once there is room
        latest = store.latest()
    assert latest is not None
    assert latest.snapshot == step
    assert latest.journal.deltas == 2
    assert states


def test_an_append_that_cannot_be_undone_stops_appends_until_the_next_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        states = journal(store, node, 1)
        tip = store.latest()
        assert tip is not None
        with monkeypatch.context() as patched:
            patched.setattr(journal_file_module, "write_all", _raiser(errno.EIO))
            patched.setattr(
                os,
                "ftruncate",
                _raiser(errno.EIO),
            )
            with pytest.raises(StoreWriteError, match="stopped appends"):
                append_step(store, tip.versioned, node.step())
        assert store.needs_full_snapshot()
        with pytest.raises(JournalBaseMismatchError, match="could not be undone"):
            append_step(store, tip.versioned, node.step())
        saved = store.save(node.snapshot())
        assert saved.state is not None
        assert not store.needs_full_snapshot()
        append_step(store, VersionedSnapshot(saved.state, node.snapshot()), node.step())
    assert states


def test_a_journal_planted_after_the_save_is_never_appended_to(tmp_path: Path) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as store:
        first = node.snapshot()
        saved = store.save(first)
        assert saved.state is not None
        journal_path(tmp_path, 1).write_bytes(b"planted")
        with pytest.raises(StoreWriteError) as caught:
            append_step(store, VersionedSnapshot(saved.state, first), node.step())
        assert caught.value.errno == errno.EEXIST
    assert journal_path(tmp_path, 1).read_bytes() == b"planted"
