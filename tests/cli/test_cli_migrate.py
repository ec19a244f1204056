"""`nodesnap migrate`: version 1 files (the committed v1 goldens, raw and sealed as a version 1
build sealed them) become version 2 files holding their migrated value; a file at version 2
already is verified and left as it is; a version this build cannot write is refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cli_support import (
    IDENTITY,
    KEY,
    Files,
    build_files,
    run,
    seal_version_1,
    version_1_golden,
)

from node_runtime import Flags, read_header, unseal
from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.main import main
from snapshot_schema import decode, encode, spec_version_of

GOLDENS = ["empty", "typical", "maximal", "every_ingress", "unicode_names"]
SEALINGS = {
    "plain": {},
    "signed, compressed": {"signer": IDENTITY, "compress": True},
    "encrypted": {"encryption_key": KEY},
    "signed, encrypted, compressed": {"signer": IDENTITY, "encryption_key": KEY, "compress": True},
}


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return build_files(tmp_path)


def fail(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """The exit code and the one line on stderr of a refused command (nothing on stdout)."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


@pytest.mark.parametrize("name", GOLDENS)
def test_a_raw_version_1_golden_becomes_a_version_2_file_of_its_migrated_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    old, new = tmp_path / f"{name}.snapshot", tmp_path / "new.snapshot"
    golden = version_1_golden(name)
    old.write_bytes(golden)
    code, lines = run(capsys, "migrate", old, "--to", "2", "--out", new)
    assert code == ExitCode.OK
    data = new.read_bytes()
    assert lines == [f"migrated {old} from spec version 1 to 2: {new} ({len(data)} bytes)"]
    assert spec_version_of(data) == 2
    assert data == encode(decode(golden))  # the migrated value, in the canonical encoding
    assert old.read_bytes() == golden


@pytest.mark.parametrize("options", SEALINGS.values(), ids=SEALINGS.keys())
def test_a_sealed_version_1_file_is_sealed_again_at_version_2_with_its_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: dict[str, object]
) -> None:
    golden = version_1_golden("typical", IDENTITY.peer_id)
    old, new = tmp_path / "old.nsnap", tmp_path / "new.nsnap"
    old.write_bytes(seal_version_1(golden, generation=7, **options))  # type: ignore[arg-type]
    identity = tmp_path / "node.pem"
    IDENTITY.save(identity)
    key = tmp_path / "snapshot.key"
    key.write_bytes(KEY)
    args: list[str | Path] = ["migrate", old, "--to", "2", "--out", new, "--key-file", key]
    args += ["--identity", identity]
    code, lines = run(capsys, *args)
    assert code == ExitCode.OK
    assert lines == [f"migrated {old} from spec version 1 to 2: {new} ({new.stat().st_size} bytes)"]
    before, after = read_header(old.read_bytes()), read_header(new.read_bytes())
    assert (before.spec_version, after.spec_version) == (1, 2)
    assert after.generation == 7
    assert after.flags == before.flags
    sealed = unseal(
        new.read_bytes(),
        encryption_key=KEY,
        expected_signer=IDENTITY.peer_id if Flags.SIGNED in after.flags else None,
    )
    assert sealed.snapshot == decode(golden)
    assert stat.S_IMODE(new.stat().st_mode) == 0o600


def test_migrate_in_place_replaces_a_version_1_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.nsnap"
    golden = version_1_golden("typical")
    path.write_bytes(seal_version_1(golden, generation=3, compress=True))
    code, lines = run(capsys, "migrate", path, "--to", "2", "--in-place")
    assert code == ExitCode.OK
    assert lines[0].startswith(f"migrated {path} from spec version 1 to 2: {path} (")
    sealed = unseal(path.read_bytes())
    assert sealed.header.spec_version == 2
    assert sealed.snapshot == decode(golden)


def test_migrating_a_signed_version_1_file_needs_the_node_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.nsnap", tmp_path / "new.nsnap"
    old.write_bytes(
        seal_version_1(version_1_golden("typical", IDENTITY.peer_id), generation=1, signer=IDENTITY)
    )
    code, line = fail(capsys, "migrate", old, "--to", "2", "--out", new)
    assert code == ExitCode.KEY
    assert line == (
        f"nodesnap: error: {old} is signed by {IDENTITY.peer_id} — pass --identity with that "
        "node's key file to sign the migrated file\n"
    )
    assert not new.exists()


@pytest.mark.parametrize("version", ["1", "0", "3"])
def test_a_version_this_build_cannot_write_is_refused_before_the_file_is_read(
    files: Files, capsys: pytest.CaptureFixture[str], version: str
) -> None:
    out = files.path("out.nsnap")
    missing = files.path("missing.nsnap")  # not even opened: the version is refused first
    code, line = fail(capsys, "migrate", missing, "--to", version, "--out", out)
    assert code == ExitCode.UNSUPPORTED
    assert line == (
        f"nodesnap: error: this build cannot write spec version {version}: it writes version 2 "
        f"only — pass --to 2, or use a nodesnap build that writes version {version}\n"
    )
    assert not out.exists()


def test_a_version_2_file_migrated_in_place_is_left_unchanged(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    before = files.a.read_bytes()
    modified = files.a.stat().st_mtime_ns
    # Signed, yet no --identity needed: nothing is sealed again.
    code, lines = run(capsys, "migrate", files.a, "--to", "2", "--in-place")
    assert code == ExitCode.OK
    assert lines == [f"{files.a} is at spec version 2 already: left unchanged"]
    assert files.a.read_bytes() == before
    assert files.a.stat().st_mtime_ns == modified


def test_a_version_2_file_migrated_to_out_is_copied_byte_for_byte(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    out = files.path("copy.nsnap")
    code, lines = run(
        capsys, "migrate", files.b, "--to", "2", "--out", out, "--key-file", files.key
    )
    assert code == ExitCode.OK
    size = files.b.stat().st_size
    assert lines == [
        f"{files.b} is at spec version 2 already: copied unchanged to {out} ({size} bytes)"
    ]
    assert out.read_bytes() == files.b.read_bytes()  # the same nonce: not encrypted again
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # The copy obeys the rules of any output: an existing one is replaced only with --force.
    code, line = fail(capsys, "migrate", files.raw, "--to", "2", "--out", out)
    assert code == ExitCode.USAGE
    assert "exists" in line
    assert run(capsys, "migrate", files.raw, "--to", "2", "--out", out, "--force")[0] == 0
    assert out.read_bytes() == files.raw.read_bytes()


def test_a_version_2_file_is_verified_before_it_is_copied(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = bytearray(files.plain.read_bytes())
    damaged[60] ^= 1
    path = files.path("damaged.nsnap")
    path.write_bytes(damaged)
    out = files.path("copy.nsnap")
    code, line = fail(capsys, "migrate", path, "--to", "2", "--out", out)
    assert code == ExitCode.DAMAGED
    assert "integrity check failed" in line
    assert not os.path.lexists(out)
    # An encrypted one needs its key to be verified, current or not.
    code, line = fail(capsys, "migrate", files.b, "--to", "2", "--out", out)
    assert code == ExitCode.KEY
    assert not os.path.lexists(out)
