"""The durability rule, held by fault injection: a save's bytes are fsynced before the rename,
and the directory is fsynced after it, before `save` returns; a failing directory fsync fails
the save. (No power cut is simulated: the order of the system calls is what the rule is.)"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from node_runtime import DirectoryStore, Identity, ManualClock, Node, StoreWriteError
from node_runtime.durable_io import write_atomically
from snapshot_schema import TransientSnapshot

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(b"\x05" * 32)


def snapshot(n: int) -> TransientSnapshot:
    node = Node(IDENTITY, clock=ManualClock(n * S, 1_764_000_000 * S + n * S))
    node.counters.increment("n", n + 1)
    return node.snapshot()


class SyscallLog:
    """Records fsyncs (of files and of directories) and renames, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str]] = []
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(descriptor: int) -> None:
            mode = os.fstat(descriptor).st_mode
            kind = "fsync-dir" if stat.S_ISDIR(mode) else "fsync-file"
            self.events.append((kind, os.readlink(f"/proc/self/fd/{descriptor}")))
            real_fsync(descriptor)

        def replace(source: str | Path, target: str | Path) -> None:
            self.events.append(("rename", os.fspath(target)))
            real_replace(source, target)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)


@pytest.fixture
def syscalls(monkeypatch: pytest.MonkeyPatch) -> SyscallLog:
    return SyscallLog(monkeypatch)


def test_a_save_fsyncs_the_file_then_renames_then_fsyncs_the_directory(
    tmp_path: Path, syscalls: SyscallLog
) -> None:
    with DirectoryStore(tmp_path) as store:
        syscalls.events.clear()
        ref = store.save(snapshot(1))
    target = os.fspath(ref.path)
    renames = [index for index, (kind, path) in enumerate(syscalls.events) if kind == "rename"]
    assert [syscalls.events[index][1] for index in renames] == [target]
    rename = renames[0]
    before, after = syscalls.events[:rename], syscalls.events[rename + 1 :]
    kind, fsynced = before[-1]  # just before the rename: the temporary file's own bytes
    assert kind == "fsync-file"
    assert Path(fsynced).parent == tmp_path
    assert Path(fsynced).name.startswith(".tmp-")
    assert ("fsync-dir", str(tmp_path)) in after  # the rename itself made durable


def test_write_atomically_fsyncs_the_directory_after_the_rename(
    tmp_path: Path, syscalls: SyscallLog
) -> None:
    target = tmp_path / "file"
    write_atomically(target, b"data")
    kinds = [kind for kind, _ in syscalls.events]
    assert kinds == ["fsync-file", "rename", "fsync-dir"]
    assert syscalls.events[-1] == ("fsync-dir", str(tmp_path))


def test_without_durability_nothing_is_fsynced(tmp_path: Path, syscalls: SyscallLog) -> None:
    write_atomically(tmp_path / "file", b"data", durable=False)
    assert [kind for kind, _ in syscalls.events] == ["rename"]


def _failing_directory_fsync(real: Callable[[int], None]) -> Callable[[int], None]:
    def fsync(descriptor: int) -> None:
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EIO, "injected: directory fsync failed")
        real(descriptor)

    return fsync


def test_a_failing_directory_fsync_fails_the_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DirectoryStore(tmp_path) as store:
        first = store.save(snapshot(1))
        with monkeypatch.context() as patch:
            patch.setattr(os, "fsync", _failing_directory_fsync(os.fsync))
            with pytest.raises(StoreWriteError) as caught:
                store.save(snapshot(2))
        assert caught.value.errno == errno.EIO
        # Not promised durable, so not reported saved; the next save works and is newer.
        later = store.save(snapshot(3))
        assert later.generation > first.generation
        latest = store.latest()
        assert latest is not None
        assert latest.ref == later
