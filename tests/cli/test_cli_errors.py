"""Every bad input, through a real `python -m node_runtime` process: one line on stderr saying
what is wrong and what to do, the documented exit code, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import (
    IDENTITY,
    KEY,
    OTHER,
    PEERS,
    Files,
    S,
    assert_error,
    build_files,
    newer_container,
    newer_spec,
    nodesnap,
    seal_version_1,
    snapshots,
    version_1_golden,
    with_digest,
)

from node_runtime import DirectoryStore, read_header, seal
from node_runtime.cli.exit_codes import ExitCode
from snapshot_schema import (
    AddressBookEntrySnapshot,
    ClockReading,
    FrameworkSnapshot,
    TransientSnapshot,
    encode,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    files = build_files(tmp_path_factory.mktemp("cli-errors"))
    a = files.a.read_bytes()
    files.path("torn.nsnap").write_bytes(a[:-40])
    altered = bytearray(a)
    altered[100] ^= 1
    files.path("altered.nsnap").write_bytes(altered)
    files.path("junk.snapshot").write_bytes(b"not a snapshot at all")
    # Signed body edited, digest recomputed: only the signature can tell.
    forged = bytearray(a)
    forged[read_header(a).header_length + 3] ^= 1
    files.path("forged.nsnap").write_bytes(with_digest(forged))
    # Ciphertext edited, digest recomputed (unsigned, so no signature fails first).
    tampered = bytearray(seal(snapshots()[1], generation=3, encryption_key=KEY))
    tampered[-40] ^= 1
    files.path("tampered.nsnap").write_bytes(with_digest(tampered))
    files.path("newer-container.nsnap").write_bytes(newer_container(files))
    files.path("newer-spec.snapshot").write_bytes(newer_spec(files))
    files.path("wrong.key").write_bytes(bytes(reversed(KEY)))
    files.path("short.key").write_text("abcd\n")
    # An address `decode` accepts (non-empty bytes) but the address book refuses at restore.
    refused = TransientSnapshot(
        taken_at=ClockReading(1_000 * S, 1_764_000_000 * S),
        framework=FrameworkSnapshot(
            peer_id_bytes=IDENTITY.peer_id.to_bytes(),
            address_book=(AddressBookEntrySnapshot(PEERS[0].to_bytes(), (b"\xff\xff",)),),
        ),
    )
    files.path("refused.snapshot").write_bytes(encode(refused))
    files.path("existing.out").write_bytes(b"keep me")
    old = version_1_golden("typical", IDENTITY.peer_id)  # as a version 1 build sealed it
    files.path("old.nsnap").write_bytes(seal_version_1(old, generation=1, signer=IDENTITY))
    return files


Args = Callable[[Files], list[str | Path]]

CASES: list[tuple[str, Args, ExitCode, tuple[str, ...]]] = [
    # A file missing or unreadable.
    ("missing file", lambda f: ["inspect", f.path("nope.nsnap")], ExitCode.UNREADABLE,
     ("nope.nsnap", "No such file")),
    ("a directory", lambda f: ["inspect", f.store], ExitCode.UNREADABLE,
     ("is a directory, not a regular file", "name a regular file")),
    ("missing key file", lambda f: ["inspect", f.b, "--key-file", f.path("nope.key")],
     ExitCode.UNREADABLE, ("nope.key",)),
    ("missing identity", lambda f: ["replay", f.a, "--identity", f.path("nope.pem")],
     ExitCode.UNREADABLE, ("nope.pem",)),
    ("unwritable output", lambda f: ["migrate", f.raw, "--to", "2", "--out",
     f.path("no/such/dir.snapshot")], ExitCode.UNREADABLE, ("dir.snapshot",)),
    ("keygen under a file", lambda f: ["keygen", "--out", f.path("existing.out/keys/node.pem")],
     ExitCode.UNREADABLE, ("existing.out/keys/node.pem: Not a directory",)),
    ("missing store", lambda f: ["store", "ls", f.path("nowhere")], ExitCode.UNREADABLE,
     ("no snapshot store",)),
    ("not a store", lambda f: ["store", "verify", f.root], ExitCode.UNREADABLE,
     ("not a snapshot store",)),
    ("prune a missing store", lambda f: ["store", "prune", f.path("nowhere"), "--keep-last",
     "1"], ExitCode.UNREADABLE, ("no snapshot store",)),
    # Damaged.
    ("truncated", lambda f: ["inspect", f.path("torn.nsnap")], ExitCode.DAMAGED,
     ("torn.nsnap", "header says")),
    ("altered", lambda f: ["diff", f.a, f.path("altered.nsnap")], ExitCode.DAMAGED,
     ("integrity check failed",)),
    ("not a snapshot", lambda f: ["inspect", f.path("junk.snapshot")], ExitCode.DAMAGED,
     ("junk.snapshot",)),
    ("state a node refuses", lambda f: ["replay", f.path("refused.snapshot"), "--identity",
     f.identity], ExitCode.DAMAGED, ("refused.snapshot", "addresses")),
    # Untrusted.
    ("raw file, signature demanded", lambda f: ["inspect", f.raw, "--peer",
     str(IDENTITY.peer_id)], ExitCode.UNTRUSTED, ("carries no signature",)),
    ("signed by another node", lambda f: ["inspect", f.a, "--peer", str(OTHER.peer_id)],
     ExitCode.UNTRUSTED, ("expected", "--peer")),
    ("forged signature", lambda f: ["inspect", f.path("forged.nsnap")], ExitCode.UNTRUSTED,
     ("signature does not verify",)),
    ("tampered ciphertext", lambda f: ["inspect", f.path("tampered.nsnap"), "--key-file",
     f.key], ExitCode.UNTRUSTED, ("decryption failed",)),
    # Unsupported versions.
    ("newer container", lambda f: ["inspect", f.path("newer-container.nsnap")],
     ExitCode.UNSUPPORTED, ("container version 2",)),
    ("newer spec", lambda f: ["inspect", f.path("newer-spec.snapshot")], ExitCode.UNSUPPORTED,
     ("newer than this build",)),
    ("migrate to an older version", lambda f: ["migrate", f.path("old.nsnap"), "--to", "1",
     "--out", f.path("m.nsnap")], ExitCode.UNSUPPORTED, ("cannot write spec version 1",
     "--to 2")),
    # Keys and identities.
    ("no key for an encrypted file", lambda f: ["diff", f.a, f.b], ExitCode.KEY,
     ("b.nsnap", "encryption key is required", "--key-file")),
    ("wrong key", lambda f: ["inspect", f.b, "--key-file", f.path("wrong.key")], ExitCode.KEY,
     ("another key",)),
    ("malformed key file", lambda f: ["inspect", f.b, "--key-file", f.path("short.key")],
     ExitCode.KEY, ("not an encryption key",)),
    ("identity of another node", lambda f: ["replay", f.a, "--identity", f.other_identity],
     ExitCode.KEY, ("belongs to", "--identity")),
    ("not an identity file", lambda f: ["replay", f.a, "--identity", f.key], ExitCode.KEY,
     ("not a usable key file",)),
    ("migrate a signed file without identity", lambda f: ["migrate", f.path("old.nsnap"),
     "--to", "2", "--out", f.path("m.nsnap")], ExitCode.KEY, ("is signed", "--identity")),
    ("migrate signing as another node", lambda f: ["migrate", f.path("old.nsnap"), "--to", "2",
     "--out",
     f.path("m.nsnap"), "--identity", f.other_identity], ExitCode.KEY, ("cannot sign",)),
    # Limits.
    ("snapshot above --max-size", lambda f: ["inspect", f.a, "--max-size", "100"],
     ExitCode.TOO_LARGE, ("a snapshot of", "raise --max-size")),
    # Outputs that must not be replaced, and limits that must be given.
    ("keygen over a file", lambda f: ["keygen", "--out", f.path("existing.out")],
     ExitCode.USAGE, ("exists", "--force")),
    ("keygen into a directory", lambda f: ["keygen", "--out", f.store, "--force"],
     ExitCode.USAGE, ("store names a directory", "name a file to write in it")),
    ("keygen into a directory yet to be made", lambda f: ["keygen", "--out",
     f"{f.path('new')}/"], ExitCode.USAGE, ("new/ names a directory",)),
    ("migrate over a file", lambda f: ["migrate", f.raw, "--to", "2", "--out",
     f.path("existing.out")], ExitCode.USAGE, ("exists", "--force")),
    ("migrate over its input", lambda f: ["migrate", f.raw, "--to", "2", "--out", f.raw],
     ExitCode.USAGE, ("input file", "--in-place")),
    ("prune without a limit", lambda f: ["store", "prune", f.store], ExitCode.USAGE,
     ("--keep-last",)),
    ("demo with too many nodes", lambda f: ["demo", "--dir", f.path("demo"), "--nodes", "9"],
     ExitCode.USAGE, ("--nodes 9 is over 8",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "fragments"),
    [pytest.param(args, code, fragments, id=name) for name, args, code, fragments in CASES],
)
def test_a_bad_input_is_one_line_and_an_exit_code(
    files: Files, args: Args, code: ExitCode, fragments: tuple[str, ...]
) -> None:
    assert_error(nodesnap(*args(files)), code, *fragments)
    assert files.path("existing.out").read_bytes() == b"keep me"
    assert not files.path("m.nsnap").exists()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no command"),
        pytest.param(["frobnicate"], id="unknown command"),
        pytest.param(["inspect", "x", "--peer", "not-a-peer"], id="bad PeerId"),
        pytest.param(["replay", "x", "--identity", "k", "--downtime", "-1"], id="bad downtime"),
        pytest.param(["store", "prune", "d", "--keep-last", "0"], id="keep-last 0"),
        pytest.param(["migrate", "x", "--to", "2"], id="no output"),
    ],
)
def test_a_usage_error_exits_1_with_the_usage(args: list[str]) -> None:
    result = nodesnap(*args)
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    assert result.stderr.startswith("usage: nodesnap")
    error = result.stderr.splitlines()[-1]
    assert error.startswith("nodesnap")
    assert " error: " in error
    assert error.endswith(" --help`")


def test_validate_reports_every_file_and_exits_with_the_most_severe(files: Files) -> None:
    result = nodesnap(
        "validate",
        files.a,
        files.b,
        files.path("torn.nsnap"),
        files.path("forged.nsnap"),
        files.path("nope.nsnap"),
        files.path("newer-container.nsnap"),
    )
    assert result.returncode == ExitCode.UNTRUSTED, result.stdout
    assert result.stderr == ""
    labels = [line.split(" ", 2)[:2] for line in result.stdout.splitlines()]
    assert labels == [
        ["OK", str(files.a)],
        ["KEY", f"{files.b}:"],
        ["DAMAGED", f"{files.path('torn.nsnap')}:"],
        ["UNTRUSTED", f"{files.path('forged.nsnap')}:"],
        ["UNREADABLE", f"{files.path('nope.nsnap')}:"],
        ["UNSUPPORTED", f"{files.path('newer-container.nsnap')}:"],
    ]


def test_prune_refuses_a_store_another_process_writes(tmp_path: Path) -> None:
    files = build_files(tmp_path)
    with DirectoryStore(files.store, fsync=False):
        result = nodesnap("store", "prune", files.store, "--keep-last", "1")
    assert_error(result, ExitCode.LOCKED, "another process writes this store")
    assert len(list(files.store.glob("*.nsnap"))) == 2


def test_store_verify_reports_damage_and_moves_nothing(tmp_path: Path) -> None:
    files = build_files(tmp_path)
    newest = files.store / f"{2:020d}.nsnap"
    newest.write_bytes(newest.read_bytes()[:-1])
    result = nodesnap("store", "verify", files.store, "--peer", str(IDENTITY.peer_id))
    assert result.returncode == ExitCode.DAMAGED
    assert result.stderr == ""
    assert [line.split(" ")[0] for line in result.stdout.splitlines()] == ["OK", "DAMAGED"]
    assert newest.exists()
    assert not (files.store / "quarantine").exists()


def test_store_verify_of_an_empty_store_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = nodesnap("store", "verify", tmp_path / "empty")
    assert result.returncode == ExitCode.OK
    assert result.stdout == f"no snapshots in {tmp_path / 'empty'}\n"
