"""`nodesnap store` on object storage, run as an operator would against a real S3 server
(SeaweedFS, started by the test setup): the connection settings in the environment, `ls` and
`verify` of a node's URL, `fleet`, `pull` and `push`, `ls` of a replicated directory, and one
line with an exit code for every failure (unreachable server, bad URL, obstore missing)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import obstore
import pytest
from cli_support import IDENTITY, KEY, OTHER, Files, build_files, run, snapshots
from obstore.store import S3Store
from storage.fault_proxy import FaultProxy
from storage.s3_fixtures import S3Bucket

from node_runtime import DirectoryStore
from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.main import main
from node_runtime.cli.object_store_cli import target_text
from node_runtime.object_storage import FleetNode, list_fleet
from node_runtime.replication_watermark import WATERMARK_NAME
from snapshot_schema import diff
from snapshot_schema.delta_records import VersionedSnapshot

NODE = str(IDENTITY.peer_id)
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens there


def name(generation: int) -> str:
    return f"{generation:020d}.nsnap"


def record(generation: int, sequence: int) -> str:
    return f"{generation:020d}.journal/{sequence:020d}.delta"


@pytest.fixture
def files(tmp_path: Path) -> Files:
    """cli_support's files; `store` holds A (generation 1) and B (generation 2), signed."""
    return build_files(tmp_path)


@pytest.fixture
def journaled(tmp_path: Path) -> Path:
    """A store holding A as generation 1 and, in its journal, the delta from A to B."""
    a, b = snapshots()
    with DirectoryStore(tmp_path / "journaled", signer=IDENTITY, fsync=False) as store:
        saved = store.save(a)
        assert saved.state is not None
        store.append(diff(VersionedSnapshot(saved.state, a), b))
    return tmp_path / "journaled"


@pytest.fixture
def bucket(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> str:
    """`s3://BUCKET`, reached through the environment as the docs tell an operator to set it."""
    _connect(monkeypatch, s3_bucket.server.endpoint)
    return f"s3://{s3_bucket.name}"


def _connect(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "any")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "any")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")


def keys(s3: S3Store, prefix: str) -> list[str]:
    return sorted(meta["path"] for meta in obstore.list(s3, prefix + "/").collect())


def fails(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """`main(args)` that must fail: its exit code and its one line on stderr (stdout empty)."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("nodesnap: error: ")
    assert " — " in lines[0]
    return code, lines[0]


# push


def test_push_ships_the_directory_and_says_what_it_sent_and_the_lag_left(
    files: Files, bucket: str, s3_bucket: S3Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    sizes = [(files.store / name(generation)).stat().st_size for generation in (1, 2)]
    with DirectoryStore(files.store, signer=IDENTITY, fsync=False):  # the node runs meanwhile
        code, lines = run(capsys, "store", "push", files.store, f"{bucket}/fleet/node-a")
    assert code == ExitCode.OK
    assert lines == [
        f"sent 2 objects ({sum(sizes)} bytes); 0 were there already",
        "0 generations, 0 bytes behind",
    ]
    assert keys(s3_bucket.store, "fleet/node-a") == [
        f"fleet/node-a/{name(1)}",
        f"fleet/node-a/{name(2)}",
    ]
    code, lines = run(capsys, "store", "push", files.store, f"{bucket}/fleet/node-a")
    assert lines[0] == "sent 0 objects (0 bytes); 0 were there already"
    # A watermark that does not parse: every object may have been sent, each is checked for.
    (files.store / WATERMARK_NAME).write_text("{not json")
    assert main(["store", "push", str(files.store), f"{bucket}/fleet/node-a"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "sent 0 objects (0 bytes); 2 were there already"
    assert "set aside as .replication.json.corrupt" in captured.err


def test_push_to_another_target_than_the_directory_replicates_to_is_refused(
    files: Files, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", files.store, f"{bucket}/fleet/node-a")
    code, line = fails(capsys, "store", "push", files.store, f"{bucket}/fleet/node-b")
    assert code == ExitCode.USAGE
    assert line == (
        f"nodesnap: error: {files.store} is replicated to {bucket}/fleet/node-a, not "
        f"{bucket}/fleet/node-b — push to that, or remove {files.store / WATERMARK_NAME} to "
        f"replicate to {bucket}/fleet/node-b from the start"
    )


def test_push_over_another_writers_objects_is_a_writer_conflict(
    files: Files, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", files.store, f"{bucket}/fleet/node-a")
    other = tmp_path / "other"
    with DirectoryStore(other, fsync=False) as store:
        store.save(snapshots()[0])  # generation 1 too, unsigned: other bytes
    code, line = fails(capsys, "store", "push", other, f"{bucket}/fleet/node-a")
    assert code == ExitCode.LOCKED
    assert f"fleet/node-a/{name(1)} was written by another writer" in line
    assert line.endswith("another writer writes under that prefix: give each node its own")


def test_a_failed_push_exits_unreadable_and_what_landed_before_stays_shipped(
    files: Files, bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", files.store, f"{bucket}/fleet/node-a")
    with DirectoryStore(files.store, signer=IDENTITY, fsync=False) as store:
        store.save(snapshots()[1])  # generation 3, not shipped yet
    size = (files.store / name(3)).stat().st_size
    monkeypatch.setenv("AWS_ENDPOINT_URL", CLOSED_PORT)
    code, line = fails(capsys, "store", "push", files.store, f"{bucket}/fleet/node-a")
    assert code == ExitCode.UNREADABLE
    assert f"fleet/node-a: writing fleet/node-a/{name(3)} failed: " in line
    assert "after 2 retries" in line  # the command's few retries, not obstore's ten
    code, lines = run(capsys, "store", "ls", files.store)
    assert lines[-1] == f"replicated to {bucket}/fleet/node-a: 1 generations, {size} bytes behind"
    main(["store", "ls", "--json", str(files.store)])
    rows = json.loads(capsys.readouterr().out)
    assert [row["shipped"] for row in rows] == [True, True, False]


# ls DIR of a replicated directory


def test_ls_of_a_directory_that_is_not_replicated_says_nothing_of_replication(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(run(capsys, "store", "ls", files.store)[1]) == 2
    main(["store", "ls", "--json", str(files.store)])
    assert [row["shipped"] for row in json.loads(capsys.readouterr().out)] == [None, None]


def test_ls_of_a_directory_whose_watermark_does_not_parse_counts_everything_left_and_keeps_it(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    (files.store / WATERMARK_NAME).write_text("{not json")
    size = sum((files.store / name(generation)).stat().st_size for generation in (1, 2))
    _, lines = run(capsys, "store", "ls", files.store)
    assert lines[-1].startswith(
        f"replicated to an unknown target ({files.store / WATERMARK_NAME}: "
    )
    assert lines[-1].endswith(f"): 2 generations, {size} bytes behind")
    assert (files.store / WATERMARK_NAME).read_text() == "{not json"  # read-only: not set aside


# ls URL and verify URL


def test_ls_of_a_url_prints_what_ls_of_the_directory_pushed_there_prints(
    journaled: Path, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{bucket}/fleet/node-a"
    run(capsys, "store", "push", journaled, url)
    _, local = run(capsys, "store", "ls", journaled)
    code, remote = run(capsys, "store", "ls", url)
    assert code == ExitCode.OK
    assert remote == local[:-1]  # without the line on replication
    assert "  journal 1 deltas " in remote[0]
    main(["store", "ls", "--json", str(journaled)])
    local_rows = json.loads(capsys.readouterr().out)
    main(["store", "ls", "--json", url])
    remote_rows = json.loads(capsys.readouterr().out)
    assert remote_rows[0]["path"] == f"{url}/{name(1)}"
    assert remote_rows[0]["journal"]["path"] == f"{url}/{name(1)[:-6]}.journal"
    assert (local_rows[0]["shipped"], remote_rows[0]["shipped"]) == (True, None)
    for rows in (local_rows, remote_rows):
        del rows[0]["path"], rows[0]["journal"]["path"], rows[0]["shipped"]
    assert remote_rows == local_rows


def test_ls_of_a_url_shows_what_does_not_read_and_a_hole_in_a_journal(
    journaled: Path, bucket: str, s3_bucket: S3Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{bucket}/node"
    run(capsys, "store", "push", journaled, url)
    _, [before] = run(capsys, "store", "ls", url)
    first = obstore.get(s3_bucket.store, f"node/{record(1, 1)}").bytes()
    obstore.put(s3_bucket.store, f"node/{record(1, 3)}", first)  # record 2 missing
    obstore.put(s3_bucket.store, f"node/{name(2)}", b"\x89NSN")
    code, lines = run(capsys, "store", "ls", url)
    assert code == ExitCode.OK
    assert lines == [
        f"{before}, then DAMAGED: record 2 is missing; the 1 listed after it are not applied",
        "2  -  4  DAMAGED: file of 4 bytes ends inside the magic",
    ]


def test_ls_and_verify_of_an_empty_prefix_say_there_are_no_snapshots(
    bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "store", "ls", f"{bucket}/none") == (
        ExitCode.OK,
        [f"no snapshots in {bucket}/none"],
    )
    assert run(capsys, "store", "ls", "--json", f"{bucket}/none") == (ExitCode.OK, ["[]"])
    assert run(capsys, "store", "verify", f"{bucket}/none") == (
        ExitCode.OK,
        [f"no snapshots in {bucket}/none"],
    )


def test_verify_of_a_url_verifies_every_generation_and_journal(
    journaled: Path, files: Files, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", journaled, f"{bucket}/journaled")
    code, lines = run(capsys, "store", "verify", f"{bucket}/journaled", "--peer", NODE)
    assert code == ExitCode.OK
    journal = f"{bucket}/journaled/{name(1)[:-6]}.journal"
    assert lines[0] == (
        f"OK {bucket}/journaled/{name(1)} generation 1, spec 2, peer {NODE}, signed"
    )
    assert lines[1].startswith(f"OK {journal} 1 deltas, ")
    _, local = run(capsys, "store", "verify", journaled, "--peer", NODE)
    assert lines[1].split(", ")[1] == local[1].split(", ")[1]  # the same bytes
    code, lines = run(
        capsys, "store", "verify", f"{bucket}/journaled", "--peer", str(OTHER.peer_id)
    )
    assert code == ExitCode.UNTRUSTED
    assert lines[0].startswith(f"UNTRUSTED {bucket}/journaled/{name(1)}: sealed by {NODE}, ")


def test_verify_of_a_url_reports_damage_and_the_quarantine_and_moves_nothing(
    journaled: Path, bucket: str, s3_bucket: S3Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", journaled, f"{bucket}/node")
    obstore.put(s3_bucket.store, f"node/{record(1, 1)}", b"\x89NSNAP\r\n" + bytes(200))
    obstore.put(s3_bucket.store, f"node/quarantine/{name(7)}", b"set aside")
    before = keys(s3_bucket.store, "node")
    code = main(["store", "verify", f"{bucket}/node"])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert code == ExitCode.DAMAGED
    assert lines[0].startswith(f"OK {bucket}/node/{name(1)} generation 1")
    assert lines[1].startswith(
        f"DAMAGED {bucket}/node/{name(1)[:-6]}.journal: 0 deltas apply, then record 0 at offset 0: "
    )
    assert lines[2] == f"1 objects in {bucket}/node/quarantine (set aside earlier, not checked)"
    assert captured.err.startswith("nodesnap: warning: node/")  # the store's own warning
    assert keys(s3_bucket.store, "node") == before
    _, listed = run(capsys, "store", "ls", f"{bucket}/node")
    assert listed[0].endswith(
        f"  journal 0 deltas 0 bytes, then DAMAGED: node/{record(1, 1)}: sealed-file container "
        "version 0; this build reads version 1"
    )


# fleet


def test_fleet_lists_each_node_with_its_newest_state(
    files: Files,
    journaled: Path,
    bucket: str,
    s3_bucket: S3Bucket,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(capsys, "store", "push", files.store, f"{bucket}/fleet/node-a")
    run(capsys, "store", "push", journaled, f"{bucket}/fleet/node-b")
    obstore.put(s3_bucket.store, "fleet/node-c/notes.txt", b"no snapshot here")
    size_b = (journaled / name(1)).stat().st_size
    journal_b = (journaled / f"{name(1)[:-6]}.journal").stat().st_size
    code, lines = run(capsys, "store", "fleet", f"{bucket}/fleet")
    assert code == ExitCode.OK
    assert lines == [
        f"fleet/node-a  2  2025-11-24T16:00:05.000000000Z  "
        f"{(files.store / name(2)).stat().st_size}  journal 0 deltas 0 bytes",
        f"fleet/node-b  1  2025-11-24T16:00:05.000000000Z  {size_b}  "
        f"journal 1 deltas {journal_b} bytes",
        "fleet/node-c  no snapshots",
    ]
    main(["store", "fleet", "--json", f"{bucket}/fleet/"])
    rows = json.loads(capsys.readouterr().out)
    assert rows[1] == {
        "prefix": "fleet/node-b",
        "url": f"{bucket}/fleet/node-b",
        "generations": "1",
        "generation": "1",
        "created": "2025-11-24T16:00:05.000000000Z",
        "size": str(size_b),
        "journal_deltas": "1",
        "journal_bytes": str(journal_b),
    }
    assert rows[2]["generation"] is None
    assert rows[2]["generations"] == "0"


def test_list_fleet_is_the_api_behind_the_command(
    files: Files, bucket: str, s3_bucket: S3Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", files.store, f"{bucket}/node-a")
    [node] = list_fleet(s3_bucket.store, "")
    assert isinstance(node, FleetNode)
    assert (node.prefix, node.generations) == ("node-a", 2)
    assert node.newest is not None
    assert node.newest.generation == 2
    with pytest.raises(ValueError, match="node-a holds snapshots: it is a node's prefix"):
        list_fleet(s3_bucket.store, "node-a")
    _, lines = run(capsys, "store", "fleet", bucket)  # the bucket's top level
    assert [line.split("  ")[:2] for line in lines] == [["node-a", "2"]]


def test_fleet_of_a_nodes_prefix_is_refused_and_of_nothing_says_so(
    files: Files, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", files.store, f"{bucket}/fleet/node-a")
    code, line = fails(capsys, "store", "fleet", f"{bucket}/fleet/node-a")
    assert code == ExitCode.USAGE
    assert line == (
        f"nodesnap: error: {bucket}/fleet/node-a holds snapshots: it is a node's prefix, not a "
        f"fleet's — list it with `nodesnap store ls {bucket}/fleet/node-a`"
    )
    assert run(capsys, "store", "fleet", f"{bucket}/empty") == (
        ExitCode.OK,
        [f"no nodes in {bucket}/empty"],
    )


def test_fleet_in_a_bucket_that_does_not_exist_names_the_bucket(
    bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, line = fails(capsys, "store", "fleet", "s3://no-such-bucket/fleet")
    assert code == ExitCode.UNREADABLE
    assert line.startswith(
        'nodesnap: error: S3Store(bucket="no-such-bucket")/fleet: listing fleet/ failed: '
    )
    assert "404 Not Found" in line


# pull


def test_pull_restores_the_newest_verified_state_into_a_new_directory(
    journaled: Path, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", journaled, f"{bucket}/node")
    target = tmp_path / "restored"
    code, lines = run(capsys, "store", "pull", f"{bucket}/node", target, "--peer", NODE)
    assert code == ExitCode.OK
    assert lines == [
        f"pulled generation 1 and 1 journal deltas into {target}: the state of "
        "2025-11-24T16:00:05.000000000Z"
    ]
    with DirectoryStore(journaled, read_only=True) as source, DirectoryStore(target) as pulled:
        expected, restored = source.latest(), pulled.latest()
    assert expected is not None
    assert restored is not None
    assert restored.snapshot == expected.snapshot
    assert (target / name(1)).read_bytes() == (journaled / name(1)).read_bytes()


def test_pull_refuses_a_directory_that_holds_snapshots(
    files: Files, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "push", files.store, f"{bucket}/node")
    before = sorted(path.name for path in files.store.iterdir())
    code, line = fails(capsys, "store", "pull", f"{bucket}/node", files.store)
    assert code == ExitCode.USAGE
    assert line == (
        f"nodesnap: error: {files.store} holds snapshots already — pull into a new directory, "
        "or one without snapshots"
    )
    assert sorted(path.name for path in files.store.iterdir()) == before


def test_pull_of_a_prefix_without_a_snapshot_that_verifies_says_so(
    files: Files,
    bucket: str,
    s3_bucket: S3Bucket,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, line = fails(capsys, "store", "pull", f"{bucket}/nothing", tmp_path / "new")
    assert code == ExitCode.UNREADABLE
    assert line == (
        f"nodesnap: error: {bucket}/nothing: no snapshot there verifies — check the URL; "
        f"`nodesnap store verify {bucket}/nothing` says what is there"
    )
    run(capsys, "store", "push", files.store, f"{bucket}/node")
    before = keys(s3_bucket.store, "node")
    wrong_peer = ["--peer", str(OTHER.peer_id)]  # signed by another node: nothing to restore
    code = main(["store", "pull", f"{bucket}/node", str(tmp_path / "new"), *wrong_peer])
    lines = capsys.readouterr().err.splitlines()
    assert code == ExitCode.UNREADABLE
    assert keys(s3_bucket.store, "node") == before  # untrusted, yet not set aside: read-only
    assert lines[0].startswith(f"nodesnap: warning: skipping node/{name(2)}: sealed by {NODE}")
    assert lines[-1].startswith(f"nodesnap: error: {bucket}/node: no snapshot there verifies")


def test_pull_of_an_encrypted_node_needs_its_key(
    bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with DirectoryStore(tmp_path / "sealed", encryption_key=KEY, fsync=False) as store:
        store.save(snapshots()[0])
    run(capsys, "store", "push", tmp_path / "sealed", f"{bucket}/node")
    code, line = fails(capsys, "store", "pull", f"{bucket}/node", tmp_path / "new")
    assert code == ExitCode.KEY
    assert line.endswith(" — pass the --key-file the file was sealed with")
    key_file = tmp_path / "key.hex"
    key_file.write_text(KEY.hex())
    code, lines = run(
        capsys, "store", "pull", f"{bucket}/node", tmp_path / "new", "--key-file", key_file
    )
    assert code == ExitCode.OK
    assert lines[0].startswith(f"pulled generation 1 and 0 journal deltas into {tmp_path / 'new'}")


# The connection settings and failures.


READ_FAILED = (
    "check the URL, the connection settings (AWS_ENDPOINT_URL, credentials) and that the server "
    "is reachable, then retry"
)
WRITE_FAILED = "check that the store can be written to, then retry"


@pytest.mark.parametrize(
    "command",
    [
        ["ls", "s3://{bucket}/node"],
        ["verify", "s3://{bucket}/node"],
        ["fleet", "s3://{bucket}/fleet"],
        ["pull", "s3://{bucket}/node", "{tmp}/new"],
        ["push", "{store}", "s3://{bucket}/node"],
    ],
)
def test_an_unreachable_server_is_one_line_and_exit_unreadable(
    command: list[str],
    files: Files,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _connect(monkeypatch, CLOSED_PORT)
    argv = [part.format(bucket="nodes", tmp=tmp_path, store=files.store) for part in command]
    code, line = fails(capsys, "store", *argv)
    assert code == ExitCode.UNREADABLE
    assert "error sending request" in line
    assert line.endswith(f" — {WRITE_FAILED if command[0] == 'push' else READ_FAILED}")


def test_aws_timeout_bounds_each_request_of_a_silent_server(
    files: Files,
    s3_bucket: S3Bucket,
    fault_proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _connect(monkeypatch, fault_proxy.endpoint)
    monkeypatch.setenv("AWS_TIMEOUT", "200ms")
    fault_proxy.hang()
    code, line = fails(capsys, "store", "ls", f"s3://{s3_bucket.name}/node")
    assert code == ExitCode.UNREADABLE
    assert "after 2 retries" in line
    assert fault_proxy.received == {"GET": 3}  # the first try and 2 retries, each timed out


def test_a_plain_http_endpoint_needs_aws_allow_http(
    bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ALLOW_HTTP")
    code, line = fails(capsys, "store", "ls", f"{bucket}/node")
    assert code == ExitCode.USAGE
    assert line.startswith("nodesnap: error: AWS_ENDPOINT_URL=http://127.0.0.1:")
    assert line.endswith(
        "is plain http, which obstore refuses by default — set AWS_ALLOW_HTTP=true to allow it "
        "(a local test server), or use https"
    )
    for true in ("1", "yes", "on", "y", "TRUE"):  # obstore's other spellings of true
        monkeypatch.setenv("AWS_ALLOW_HTTP", true)
        assert run(capsys, "store", "ls", f"{bucket}/node") == (
            ExitCode.OK,
            [f"no snapshots in {bucket}/node"],
        )


def test_credentials_come_from_the_environment(
    bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, line = fails(capsys, "store", "ls", f"{bucket}/node")
    assert code == ExitCode.USAGE
    assert line.startswith(
        f"nodesnap: error: {bucket}/node: cannot open the store: Generic S3 error: Missing "
        "SecretAccessKey — "
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://bucket", "s3://bucket names no node prefix — write s3://bucket/PREFIX, "),
        ("http://host/node", "http://host/node: not an object store URL — write SCHEME://"),
        ("s3:///node", "s3:///node: not an object store URL — "),
        ("s3://bucket/a b", "s3://bucket/a b: prefix 'a b' is not a node's or a fleet's — "),
        ("s3://bucket/a//b", "s3://bucket/a//b: prefix 'a//b' is not a node's or a fleet's — "),
    ],
)
def test_a_url_that_names_no_node_is_a_usage_error(
    url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, line = fails(capsys, "store", "ls", url)
    assert code == ExitCode.USAGE
    assert line.startswith(f"nodesnap: error: {message}")


@pytest.mark.parametrize(
    "command",
    [
        ["ls", "s3://bucket/node"],
        ["verify", "s3://bucket/node"],
        ["fleet", "s3://bucket/fleet"],
        ["pull", "s3://bucket/node", "new"],
        ["push", "store", "s3://bucket/node"],
    ],
)
def test_without_obstore_a_url_says_what_to_install_and_directories_still_work(
    command: list[str],
    files: Files,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for module in [name for name in sys.modules if name.partition(".")[0] == "obstore"]:
        monkeypatch.setitem(sys.modules, module, None)  # importing it fails as if absent
    monkeypatch.delitem(sys.modules, "node_runtime.cli.object_store_commands", raising=False)
    code, line = fails(capsys, "store", *command)
    assert code == ExitCode.USAGE
    assert line == (
        "nodesnap: error: object store URLs need the obstore package, which is not installed "
        "— install nodesnap[s3]: pip install 'nodesnap[s3]'"
    )
    (files.store / WATERMARK_NAME).write_text("{}")  # a replicated directory needs no obstore
    assert run(capsys, "store", "ls", files.store)[0] == ExitCode.OK


def test_the_extra_the_message_names_installs_obstore() -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    [requirement] = project["project"]["optional-dependencies"]["s3"]
    assert requirement.startswith("obstore")


def test_the_store_help_lists_the_object_store_actions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["store", "--help"])
    out = capsys.readouterr().out
    for action in ("fleet", "pull", "push"):
        assert f"    {action} " in out
    with pytest.raises(SystemExit):
        main(["store", "ls", "--help"])
    assert "DIR|URL" in capsys.readouterr().out


def test_a_replication_target_reads_as_the_url_it_names() -> None:
    assert target_text('S3Store(bucket="snapshots")/fleet/node-a') == "s3://snapshots/fleet/node-a"
    assert target_text('GCSStore(bucket="snapshots")/node') == "gs://snapshots/node"
    assert (
        target_text('AzureStore(container_name="c")/node') == 'AzureStore(container_name="c")/node'
    )
