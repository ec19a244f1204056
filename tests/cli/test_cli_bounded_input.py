"""Every command reads its inputs with a bound: a path that is no regular file (a FIFO, a
device, a directory) is refused before a byte is read, and a file larger than a snapshot within
the size limit can be is refused from its size alone."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import Files, build_files
from hang_guard import deadline

from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.main import main
from node_runtime.sealed_file import read_header
from snapshot_schema import DEFAULT_MAX_SNAPSHOT_SIZE

BIG = 300_000_000  # bytes: above the default limit of 256 MiB
PEAK_LIMIT = 10_000_000  # bytes: a command that read a BIG file would hold far more


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return build_files(tmp_path)


def fail(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """`main(args)` that must fail: its exit code and its one error line."""
    with deadline():
        code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("nodesnap: error: ")
    return code, line


def not_regular(kind: str, root: Path) -> Path:
    if kind == "a FIFO":
        os.mkfifo(root / "fifo")
        return root / "fifo"
    if kind == "a character device":
        return Path(os.devnull)
    (root / "directory").mkdir()
    return root / "directory"


KINDS = ["a FIFO", "a character device", "a directory"]
COMMANDS: list[Callable[[Files, Path], list[str | Path]]] = [
    lambda f, path: ["inspect", path],
    lambda f, path: ["diff", f.a, path],
    lambda f, path: ["replay", path, "--identity", f.identity],
    lambda f, path: ["migrate", path, "--to", "2", "--out", f.path("out.nsnap")],
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", COMMANDS, ids=["inspect", "diff", "replay", "migrate"])
def test_a_snapshot_path_that_is_no_regular_file_is_refused_unread(
    files: Files,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    command: Callable[[Files, Path], list[str | Path]],
) -> None:
    path = not_regular(kind, files.root)
    code, line = fail(capsys, *command(files, path))
    assert code == ExitCode.UNREADABLE
    assert f"{path} is {kind}, not a regular file" in line
    assert line.count(str(path)) == 1  # named once, though the library's message names it too
    assert line.endswith("— name a regular file")


@pytest.mark.parametrize("kind", KINDS)
def test_validate_labels_a_path_that_is_no_regular_file_unreadable(
    files: Files, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = not_regular(kind, files.root)
    with deadline():
        code = main(["validate", str(files.a), str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert code == ExitCode.UNREADABLE
    assert lines[1].startswith(f"UNREADABLE {path} is {kind}, not a regular file")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", ["--key-file", "--identity"])
def test_a_key_or_identity_path_that_is_no_regular_file_is_refused_unread(
    files: Files, capsys: pytest.CaptureFixture[str], kind: str, option: str
) -> None:
    path = not_regular(kind, files.root)
    if kind == "a FIFO":
        path.chmod(0o600)  # as a key file's mode should be: only its kind is wrong
    code, line = fail(capsys, "replay", files.b, "--identity", files.identity, option, path)
    assert code == ExitCode.UNREADABLE
    assert f"{path} is {kind}, not a regular file" in line


def test_a_symbolic_link_the_operator_names_is_followed(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    link = files.path("latest.nsnap")
    link.symlink_to(files.a)
    assert main(["validate", str(link)]) == ExitCode.OK
    assert capsys.readouterr().out.startswith(f"OK {link} generation 1")


def sparse_file(path: Path, head: bytes | bytearray = b"", size: int = BIG) -> Path:
    """`path` holding `head`, then zeros up to `size` bytes: sparse, so it costs no disk, but
    all of `size` to read."""
    with path.open("wb") as file:
        file.write(head)
        file.truncate(size)
    return path


def code_and_peak_bytes(*args: str | Path) -> tuple[int, int]:
    """`main(args)`'s exit code, and the most memory it held at once."""
    tracemalloc.start()
    try:
        code = main([str(arg) for arg in args])
        return code, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_raw_file_above_the_limit_is_refused_before_it_is_read(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    big = sparse_file(files.path("big.snapshot"))
    code, peak = code_and_peak_bytes("inspect", big)
    assert code == ExitCode.TOO_LARGE
    assert peak < PEAK_LIMIT
    line = capsys.readouterr().err
    assert f"{big}: {BIG} bytes, more than a raw snapshot may have" in line
    assert f"(the limit is {DEFAULT_MAX_SNAPSHOT_SIZE} bytes)" in line
    assert line.endswith("— if you trust the file, raise --max-size above its size\n")


def test_a_sealed_file_whose_header_states_a_snapshot_above_the_limit_is_refused_unread(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(files.plain.read_bytes())
    header = read_header(data)
    data[34:42] = BIG.to_bytes(8, "big")  # encoded_length
    data[42:50] = BIG.to_bytes(8, "big")  # body_length
    length = header.header_length + BIG + 32  # the file length the header states
    big = sparse_file(files.path("big.nsnap"), data[: header.header_length], length)
    code, peak = code_and_peak_bytes("validate", big)
    assert code == ExitCode.TOO_LARGE
    assert peak < PEAK_LIMIT
    assert capsys.readouterr().out.startswith(f"TOO_LARGE {big}: a snapshot of {BIG} bytes")


@pytest.mark.parametrize("name", ["a", "raw", "b"])
def test_max_size_sets_the_limit(
    files: Files, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = getattr(files, name)
    args = ["inspect", str(path), "--key-file", str(files.key)]
    assert main([*args, "--max-size", "100"]) == ExitCode.TOO_LARGE
    assert "raise --max-size" in capsys.readouterr().err
    assert main([*args, "--max-size", str(path.stat().st_size)]) == ExitCode.OK


def test_a_key_file_is_read_only_as_far_as_a_key_can_be_long(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    big = sparse_file(files.path("big.key"))
    code, peak = code_and_peak_bytes("inspect", files.b, "--key-file", big)
    assert code == ExitCode.KEY
    assert peak < PEAK_LIMIT
    assert f"{big}: not an encryption key ({BIG} bytes)" in capsys.readouterr().err


def test_an_identity_file_larger_than_a_key_file_is_refused_unread(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    big = sparse_file(files.path("big.pem"))
    big.chmod(0o600)
    code, line = fail(capsys, "replay", files.a, "--identity", big)
    assert code == ExitCode.KEY
    assert f"{big}: {BIG} bytes, too large for an identity key file" in line
