"""What each command prints when all is well. Mostly in-process (`main(argv)`), for speed; a few
through a real process, to prove the console script and `python -m node_runtime` work."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import attrs
import pytest
from cli_support import (
    IDENTITY,
    OTHER,
    PEERS,
    Files,
    S,
    build_files,
    newer_container,
    nodesnap,
    run,
    snapshots,
)

from node_runtime import (
    DirectoryStore,
    Identity,
    ManualClock,
    Multiaddr,
    Node,
    PeerId,
)
from node_runtime.cli import inspect as inspect_command
from node_runtime.cli.exit_codes import EPILOG, ExitCode, most_severe
from node_runtime.cli.main import COMMANDS, main
from snapshot_schema import ClockReading, TypedBusSnapshot, encode

NODE = str(IDENTITY.peer_id)


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return build_files(tmp_path)


def files_identity(root: Path) -> Path:
    """IDENTITY's key file under `root`."""
    path = root / "node.pem"
    IDENTITY.save(path)
    return path


def fields(lines: list[str]) -> dict[str, str]:
    """`inspect`'s `name  value` lines as a mapping."""
    return {line[:14].strip(): line[14:] for line in lines if not line.startswith(" ")}


def test_inspect_shows_the_header_and_a_summary(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "inspect", files.a)
    assert code == ExitCode.OK
    shown = fields(lines)
    assert shown["format"] == "sealed, container version 1"
    assert shown["peer"] == NODE
    assert shown["generation"] == "1"
    assert shown["created"] == "2025-11-24T16:00:00.000000000Z"
    assert shown["flags"] == "signed,compressed"
    assert shown["verified"] == "integrity, signature, decodes"
    assert "  address book  2 peers, 2 addresses (1 expiring)" in lines
    assert "  outbound      2 envelopes (10 bytes, 0 redelivered)" in lines


def test_inspect_an_encrypted_file_without_its_key_shows_the_verified_header(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "inspect", files.b)
    assert code == ExitCode.OK
    shown = fields(lines)
    assert shown["flags"] == "signed,encrypted"
    assert shown["verified"] == "integrity, signature"
    assert shown["state"] == "encrypted: pass --key-file to show it"
    code, lines = run(capsys, "inspect", files.b, "--key-file", files.key)
    assert fields(lines)["verified"] == "integrity, signature, decrypted"
    assert "  backoff       2 peers, 2 still waiting" in lines


def test_inspect_a_raw_snapshot(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "inspect", files.raw)
    assert code == ExitCode.OK
    assert fields(lines)["format"].startswith("raw encoded snapshot")
    assert fields(lines)["verified"] == "decodes"


def test_inspect_json_is_the_full_content_with_text_for_peers_and_addresses(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["inspect", "--json", str(files.b), "--key-file", str(files.key)])
    document = json.loads(capsys.readouterr().out)
    assert code == ExitCode.OK
    assert list(document) == ["file", "size", "format", "header", "verified", "journal", "snapshot"]
    assert document["header"]["generation"] == "2"
    assert document["header"]["flags"] == ["signed", "encrypted"]
    framework = document["snapshot"]["framework"]
    assert framework["peer_id_bytes"] == NODE
    assert framework["counters"] == {"dials_failed": "4"}
    book = {entry["peer_id"]: entry["addresses"] for entry in framework["address_book"]}
    assert book[str(PEERS[0])] == ["/ip4/10.0.0.1/tcp/4001", "/ip4/10.0.0.9/udp/4001/quic-v1"]
    assert framework["peer_governor"]["blocklist"] == [str(PEERS[3])]
    assert [entry["envelope_bytes"] for entry in framework["pending_outbound"]] == [
        b"world".hex(),
        b"again".hex(),
    ]
    # Without the key: the header, and no state.
    main(["inspect", "--json", str(files.b)])
    assert json.loads(capsys.readouterr().out)["snapshot"] is None


def test_validate_prints_one_ok_line_per_file(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(
        capsys, "validate", files.a, files.b, files.plain, "--key-file", files.key, "--peer", NODE
    )
    assert code == ExitCode.UNTRUSTED  # the plain file is not signed, and --peer demands it
    assert lines == [
        f"OK {files.a} generation 1, spec 2, peer {NODE}, signed,compressed",
        f"OK {files.b} generation 2, spec 2, peer {NODE}, signed,encrypted",
        f"UNTRUSTED {files.plain}: the file is not signed and a signature is required",
    ]
    code, lines = run(capsys, "validate", files.raw, files.plain)
    assert code == ExitCode.OK
    assert lines == [
        f"OK {files.raw} raw snapshot, spec 2, unsigned",
        f"OK {files.plain} generation 1, spec 2, peer {NODE}, plain",
    ]


def test_validate_ranks_file_problems_above_reader_problems(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    torn = files.path("torn.nsnap")
    torn.write_bytes(files.a.read_bytes()[:50])
    assert run(capsys, "validate", files.b, files.raw)[0] == ExitCode.KEY
    assert run(capsys, "validate", files.b, torn)[0] == ExitCode.DAMAGED


def test_validate_ranks_a_file_too_large_to_read_below_every_other_problem(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = files.path("newer.nsnap")
    newer.write_bytes(newer_container(files))
    code, lines = run(capsys, "validate", "--max-size", "100", files.a, newer)
    assert [line.split(" ", 1)[0] for line in lines] == ["TOO_LARGE", "UNSUPPORTED"]
    assert code == ExitCode.UNSUPPORTED
    assert run(capsys, "validate", "--max-size", "100", files.raw, files.a)[0] == (
        ExitCode.TOO_LARGE
    )


def test_the_severity_order_is_the_one_the_help_and_the_docs_state() -> None:
    in_help = re.search(r"most severe code: ([0-9, ]+)\.", EPILOG)
    documented = Path(__file__).resolve().parents[2].joinpath("docs", "cli.md").read_text()
    in_docs = re.search(r"in this order: ([^(]+)\(", documented)
    assert in_help is not None
    assert in_docs is not None
    order = [ExitCode(int(code)) for code in re.findall(r"\d+", in_help.group(1))]
    assert [int(code) for code in re.findall(r"\d+", in_docs.group(1))] == order
    # Each code outranks every code after it.
    assert [most_severe(order[rank:]) for rank in range(len(order))] == order


def test_diff_reports_changes_by_component(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "diff", files.a, files.b, "--key-file", files.key)
    assert code == ExitCode.OK
    # The third failure's delay is jittered: only that it is a delay is known.
    lines = [
        re.sub(r"attempts 3, retry in [0-9.]+ s", "attempts 3, retry in …", line) for line in lines
    ]
    assert lines == [
        f"a: {files.a} (generation 1, taken 2025-11-24T16:00:00.000000000Z)",
        f"b: {files.b} (generation 2, taken 2025-11-24T16:00:05.000000000Z)",
        "time:",
        "  b taken 5.000 s after a",
        "address book:",
        f"  ~ peer {PEERS[0]} +/ip4/10.0.0.9/udp/4001/quic-v1 (expires in 2m00s)",
        "counters:",
        "  dials_failed 0 -> 4 (+4)",
        "policy:",
        f"  + blocked {PEERS[3]}",
        "  + ip allow 10.0.0.0/8",
        "health:",
        f"  + {PEERS[1]} failures 1, up",
        f"  + {PEERS[2]} failures 3, down",
        "backoff:",
        f"  + {PEERS[1]} attempts 1, retry in 10.000 s",
        f"  + {PEERS[2]} attempts 3, retry in …",
        "outbound:",
        "  + queued <5 bytes 616761696e>",
        "  - sent <5 bytes 68656c6c6f>",
        "peer records:",
        f"  ~ {PEERS[0]} metadata AgentVersion 'go-libp2p/0.36.2' (str) -> "
        "'go-libp2p/0.37.0' (str)",
        f"  ~ {PEERS[0]} latency unknown -> 20.000 ms",
        "extensions:",
        "  + libp2p/pubsub-blacklist (4 bytes)",
        "ids:",
        "  next command id 0 -> 1",
    ]


def test_diff_covers_policy_lifecycle_bus_and_the_node_itself(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    a = snapshots()[0]
    dropped = PeerId.from_bytes(a.framework.address_book[1].peer_id)
    framework = attrs.evolve(
        a.framework,
        peer_governor=attrs.evolve(a.framework.peer_governor, allowlist=[PEERS[0].to_bytes()]),
        fired_phases=("started",),
        address_book=a.framework.address_book[:1],
        peer_id_bytes=OTHER.peer_id.to_bytes(),
    )
    edited = attrs.evolve(
        a, framework=framework, bus=TypedBusSnapshot({"ping": (3,)}), taken_at=ClockReading(1, 2)
    )
    files.path("edited.snapshot").write_bytes(encode(edited))
    code, lines = run(capsys, "diff", files.raw, files.path("edited.snapshot"))
    assert code == ExitCode.OK
    assert lines[2:] == [
        "time:",
        "  b taken 1764000000.000 s before a",
        "node:",
        f"  peer {NODE} -> {OTHER.peer_id}",
        "address book:",
        f"  - peer {dropped}",
        "policy:",
        "  allowlist open -> of 1 peers",
        "lifecycle:",
        "  pending phases none -> started",
        "bus and execution:",
        "  $.bus.event_subscriptions.ping: <missing> != (3,)",
    ]


def test_diff_of_a_snapshot_with_itself(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "diff", files.a, files.raw)
    assert code == ExitCode.OK
    assert lines[-1] == "no differences"


def test_replay_says_what_the_node_would_do_next(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("replay", files.b, "--identity", files.identity, "--key-file", files.key)
    code, lines = run(capsys, *args)
    assert code == ExitCode.OK
    assert (
        lines[0]
        == f"restored {NODE} as at 2025-11-24T16:00:05.000000000Z (0.000 s after the snapshot)"
    )
    # The down peer (3 failures) is not held back by policy: its backoff alone holds it, and
    # its retry is a probe. Its delay is jittered: only that it is a delay is known.
    lines = [
        re.sub(r"retry in [0-9.]+ s \(failed attempts: 3", "retry in … (3", line) for line in lines
    ]
    assert lines[1:9] == [
        "restore: nothing dropped or repaired",
        "ready to dial: 1 peers",
        f"  {PEERS[0]} (2 addresses)",
        "backing off: 2 peers",
        f"  {PEERS[1]} retry in 10.000 s (failed attempts: 1)",
        f"  {PEERS[2]} retry in … (3; down, so the retry is a probe)",
        "held back by policy: 1 peers",
        f"  {PEERS[3]} (blocked)",
    ]
    assert "outbound: 2 envelopes queued, 2 flagged for redelivery" in lines
    # After an hour down the backoff deadlines have passed: the retries are staggered instead.
    # The addresses given a TTL (10 and 2 minutes) expired while the node was down.
    code, lines = run(capsys, *args, "--downtime", "3600", "--limit", "1")
    assert lines[0].endswith("(3600.000 s after the snapshot)")
    assert lines[1] == "restore: expired_addresses_dropped +2"
    assert lines[2:4] == ["ready to dial: 1 peers", f"  {PEERS[0]} (1 addresses)"]
    assert lines[4] == "backing off: 2 peers"
    assert lines[6] == "  … and 1 more (--limit 0 lists all)"
    assert lines[7:9] == ["held back by policy: 1 peers", f"  {PEERS[3]} (blocked)"]


def test_replay_lists_a_down_peer_whose_backoff_passed_as_ready_to_probe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    node.add_peer_address(PEERS[0], Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001"))
    for _ in range(3):
        node.record_dial_failure(PEERS[0])
    retry = node.backoff.next_ready_ns(PEERS[0].to_bytes())
    assert retry is not None
    clock.advance(retry - clock.monotonic_ns())
    assert node.may_dial(PEERS[0])  # down, and probed now that its backoff has passed
    path = tmp_path / "down.snapshot"
    path.write_bytes(encode(node.snapshot()))
    code, lines = run(capsys, "replay", path, "--identity", files_identity(tmp_path))
    assert code == ExitCode.OK
    assert lines[2:6] == [
        "ready to dial: 1 peers",
        f"  {PEERS[0]} (1 addresses; down, so this dial is a probe)",
        "backing off: 0 peers",
        "held back by policy: 0 peers",
    ]


def test_keygen_writes_a_private_key_file_and_prints_its_peer_id(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    out = files.path("new.pem")
    code, lines = run(capsys, "keygen", "--out", out)
    assert code == ExitCode.OK
    assert lines == [str(Identity.load(out).peer_id)]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    code, replaced = run(capsys, "keygen", "--out", out, "--force")
    assert replaced != lines
    assert replaced == [str(Identity.load(out).peer_id)]


def test_store_ls(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    sizes = [path.stat().st_size for path in sorted(files.store.glob("*.nsnap"))]
    (files.store / f"{3:020d}.nsnap").write_bytes(b"\x89NSN")
    code, lines = run(capsys, "store", "ls", files.store)
    assert code == ExitCode.OK
    assert lines == [
        f"1  2025-11-24T16:00:00.000000000Z  {sizes[0]}  signed",
        f"2  2025-11-24T16:00:05.000000000Z  {sizes[1]}  signed",
        "3  -  4  DAMAGED: file of 4 bytes ends inside the magic",
    ]
    main(["store", "ls", "--json", str(files.store)])
    rows = json.loads(capsys.readouterr().out)
    assert [row["generation"] for row in rows] == ["1", "2", "3"]
    assert [row["size"] for row in rows] == [*map(str, sizes), "4"]
    assert rows[1]["header"]["peer_id"] == NODE
    assert rows[2]["header"] is None
    assert rows[2]["problem"].startswith("DAMAGED: ")


def test_store_verify(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "store", "verify", files.store, "--peer", NODE)
    assert code == ExitCode.OK
    assert [line.split(" ")[0] for line in lines] == ["OK", "OK"]
    assert lines[1].endswith(f"generation 2, spec 2, peer {NODE}, signed")


def test_store_prune(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    with DirectoryStore(files.store, signer=IDENTITY, fsync=False) as store:
        store.save(store.load(1).snapshot)  # generation 3
    size = (files.store / f"{1:020d}.nsnap").stat().st_size
    code, lines = run(capsys, "store", "prune", files.store, "--keep-last", "2")
    assert code == ExitCode.OK
    assert lines == [f"removed generation 1 ({size} bytes)", "kept 2 snapshots, removed 1"]
    code, lines = run(capsys, "store", "prune", files.store, "--max-bytes", "0")
    assert lines[-1] == "kept 1 snapshots, removed 1"
    assert sorted(path.name for path in files.store.glob("*.nsnap")) == [f"{3:020d}.nsnap"]


def test_every_command_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    names = [module.__name__.rsplit(".", 1)[1] for module in COMMANDS]
    for name in names:
        with pytest.raises(SystemExit) as exited:
            main([name, "--help"])
        assert exited.value.code == 0
        assert "exit codes:" in capsys.readouterr().out


def test_the_console_script_and_python_m_run_the_cli(files: Files) -> None:
    script = Path(sys.executable).parent / "nodesnap"
    version = subprocess.run(
        [script, "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert version.stdout.startswith("nodesnap ")
    result = nodesnap("inspect", "--json", files.a)
    assert result.returncode == ExitCode.OK
    assert json.loads(result.stdout)["header"]["peer_id"] == NODE
    result = nodesnap("--help")
    assert result.returncode == ExitCode.OK
    assert "7  the store is locked by another writer" in result.stdout
    assert os.fspath(files.a) not in result.stdout


def test_prune_sets_damaged_files_aside_and_says_so(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    newest = files.store / f"{2:020d}.nsnap"
    newest.write_bytes(newest.read_bytes()[:-1])
    code = main(["store", "prune", str(files.store), "--keep-last", "1"])
    captured = capsys.readouterr()
    assert code == ExitCode.OK
    assert captured.out == "kept 1 snapshots, removed 0\n"
    assert captured.err.startswith(f"nodesnap: warning: moved {newest} to ")
    code, lines = run(capsys, "store", "verify", files.store)
    assert code == ExitCode.OK
    assert lines[-1] == f"1 files in {files.store / 'quarantine'} (set aside earlier, not checked)"


def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path: Path) -> None:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    for index in range(200):
        node.outbound.enqueue(index.to_bytes(2, "big") * 500)
    big = tmp_path / "big.snapshot"
    big.write_bytes(encode(node.snapshot()))  # about 400 kB of JSON: more than a pipe holds
    with subprocess.Popen(
        [sys.executable, "-m", "node_runtime", "inspect", "--json", str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.read(1) == b"{"
        process.stdout.close()
        assert process.wait(timeout=60) == 128 + 13
        assert process.stderr.read() == b""


def test_keygen_creates_missing_parent_directories_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path.chmod(0o755)
    out = tmp_path / "keys" / "node" / "node.pem"
    previous = os.umask(0o022)
    try:
        code, lines = run(capsys, "keygen", "--out", out)
    finally:
        os.umask(previous)
    assert code == ExitCode.OK
    assert lines == [str(Identity.load(out).peer_id)]
    for directory in (tmp_path / "keys", tmp_path / "keys" / "node"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # an existing one is left alone


def test_store_ls_of_an_empty_directory_says_there_are_no_snapshots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "store"
    empty.mkdir(mode=0o700)
    assert run(capsys, "store", "ls", empty) == (ExitCode.OK, [f"no snapshots in {empty}"])
    assert run(capsys, "store", "ls", "--json", empty) == (ExitCode.OK, ["[]"])
    # A store whose snapshots were all removed keeps its lock: still a store, still empty.
    DirectoryStore(empty, fsync=False).close()
    assert run(capsys, "store", "ls", empty) == (ExitCode.OK, [f"no snapshots in {empty}"])


def test_store_prune_of_an_empty_directory_opens_no_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "store"
    empty.mkdir(mode=0o700)
    code, lines = run(capsys, "store", "prune", empty, "--keep-last", "1")
    assert (code, lines) == (ExitCode.OK, [f"no snapshots in {empty}"])
    assert list(empty.iterdir()) == []  # no lock left behind


@pytest.mark.parametrize(
    "action", [["ls"], ["ls", "--json"], ["verify"], ["prune", "--max-bytes", "0"]]
)
def test_store_commands_refuse_a_directory_that_holds_no_store(
    files: Files, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    before = sorted(files.root.iterdir())
    code = main(["store", action[0], str(files.root), *action[1:]])
    captured = capsys.readouterr()
    assert code == ExitCode.UNREADABLE
    assert captured.out == ""
    assert captured.err == (
        f"nodesnap: error: {files.root}: not a snapshot store: none of its {len(before)} "
        "entries is a snapshot file, .lock or quarantine/ — check the store's path\n"
    )
    assert sorted(files.root.iterdir()) == before


def test_the_exit_code_table_in_the_docs_and_the_help_lists_every_code() -> None:
    documented = Path(__file__).resolve().parents[2].joinpath("docs", "cli.md").read_text()
    table = documented.split("## Exit codes")[1].split("\n\n")[1]
    rows = [line.split("|")[1:3] for line in table.splitlines()[2:]]
    assert [int(code) for code, _ in rows] == [code.value for code in ExitCode]
    assert rows[ExitCode.TOO_LARGE][1].strip() == "too large"
    help_lines = EPILOG.splitlines()
    for code in ExitCode:
        assert any(line.startswith(f"  {code.value}  ") for line in help_lines), code


def test_ctrl_c_ends_a_command_with_a_line_saying_what_it_interrupted(
    files: Files, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(args: object) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr(inspect_command, "run", interrupted)
    assert main(["inspect", str(files.a)]) == 128 + 2
    assert capsys.readouterr().err == "nodesnap: interrupted: inspect stopped\n"
