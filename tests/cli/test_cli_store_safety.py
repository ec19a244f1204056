"""`nodesnap store` and `keygen` against what an operator's machine may hold: entries that are
not regular files, a store directory others may write, a forgery newer than the node's own
snapshots, an identity key file others may read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cli_support import (
    IDENTITY,
    OTHER,
    Files,
    S,
    assert_error,
    build_files,
    nodesnap,
    run,
    snapshots,
)
from hang_guard import deadline

from node_runtime import DirectoryStore, Identity, ManualClock, Node, seal
from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.main import main

NODE = str(IDENTITY.peer_id)


def name(generation: int) -> str:
    return f"{generation:020d}.nsnap"


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return build_files(tmp_path)


def test_store_ls_and_verify_report_entries_that_are_not_regular_files_without_opening_them(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(files.store / name(3))
    (files.store / name(4)).mkdir()
    (files.store / name(5)).symlink_to(files.a)  # a valid signed snapshot outside the store
    with deadline():
        code = main(["store", "ls", str(files.store)])
        listed = capsys.readouterr().out.splitlines()
        verify_code = main(["store", "verify", str(files.store)])
        verified = capsys.readouterr().out.splitlines()
    assert code == ExitCode.OK
    assert [line.split("  ", 1)[0] for line in listed] == ["1", "2", "3", "4", "5"]
    assert listed[2] == (
        f"3  -  0  DAMAGED: {files.store / name(3)} is a FIFO, not a regular file: "
        "never followed or read"
    )
    for line, kind in zip(listed[3:], ["a directory", "a symbolic link"], strict=True):
        assert f"DAMAGED: {files.store}/" in line
        assert f"is {kind}, not a regular file" in line
    assert verify_code == ExitCode.DAMAGED
    assert [line.split(" ", 1)[0] for line in verified] == ["OK", "OK", *["DAMAGED"] * 3]


def test_store_commands_refuse_a_directory_others_may_write_as_untrusted(files: Files) -> None:
    files.store.chmod(0o777)
    for command in (["ls"], ["verify"], ["prune", "--keep-last", "1"]):
        result = nodesnap("store", *command, files.store)
        assert_error(
            result, ExitCode.UNTRUSTED, "mode 0777", "chmod go-w", "no one else changed the store"
        )
    assert sorted(path.name for path in files.store.glob("*.nsnap")) == [name(1), name(2)]


def _forgery(signer: str) -> bytes:
    """A sealed file of generation 3 that verifies when no signer is demanded."""
    if signer == "unsigned":
        return seal(snapshots()[1], generation=3)
    other_node = Node(OTHER, clock=ManualClock(monotonic_ns=S, wall_ns=1_764_000_010 * S))
    return seal(other_node.snapshot(), generation=3, signer=OTHER)


@pytest.mark.parametrize("signer", ["unsigned", "another node"])
def test_prune_without_peer_keeps_the_nodes_newest_snapshot_under_a_newer_forgery(
    files: Files, capsys: pytest.CaptureFixture[str], signer: str
) -> None:
    (files.store / name(3)).write_bytes(_forgery(signer))
    size = (files.store / name(1)).stat().st_size
    code, lines = run(capsys, "store", "prune", files.store, "--keep-last", "1")
    assert code == ExitCode.OK
    assert lines == [f"removed generation 1 ({size} bytes)", "kept 2 snapshots, removed 1"]
    with DirectoryStore(files.store, signer=IDENTITY, fsync=False) as node_store:
        latest = node_store.latest()
        assert latest is not None
        assert latest.ref.generation == 2


def test_prune_with_peer_sets_the_forgery_aside(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    forgery = files.store / name(3)
    forgery.write_bytes(_forgery("unsigned"))
    code = main(["store", "prune", str(files.store), "--keep-last", "1", "--peer", NODE])
    captured = capsys.readouterr()
    assert code == ExitCode.OK
    assert captured.out.splitlines()[-1] == "kept 1 snapshots, removed 1"
    assert captured.err.startswith(f"nodesnap: warning: moved {forgery} to ")
    assert sorted(path.name for path in files.store.glob("*.nsnap")) == [name(2)]


def test_keygen_writes_an_owner_only_key_file_whatever_the_umask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "node.pem"
    previous = os.umask(0)
    try:
        code, lines = run(capsys, "keygen", "--out", out)
    finally:
        os.umask(previous)
    assert code == ExitCode.OK
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert lines == [str(Identity.load(out).peer_id)]


def test_an_identity_key_file_others_may_read_is_refused(files: Files) -> None:
    files.identity.chmod(0o644)
    result = nodesnap("replay", files.a, "--identity", files.identity)
    assert_error(result, ExitCode.KEY, str(files.identity), "permissions 0644 are too open")


def test_store_verify_with_a_key_reports_plain_text_files_as_untrusted(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["store", "verify", str(files.store), "--key-file", str(files.key)])
    lines = capsys.readouterr().out.splitlines()
    assert code == ExitCode.UNTRUSTED
    assert lines == [
        f"UNTRUSTED {files.store / name(generation)}: the file is not encrypted and encryption "
        "is required"
        for generation in (1, 2)
    ]
