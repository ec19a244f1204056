"""`Replicator`: a store directory shipped to a real S3-compatible server (SeaweedFS, started by
the test setup), resumable from its watermark, with local retention keeping what has not
shipped, and `pull` restoring the newest verified state on a machine that has only the bucket."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import obstore
import pytest
from journal_support import IDENTITY, ChangingNode, journal
from obstore.store import S3Store
from storage.fault_proxy import FaultProxy
from storage.s3_fixtures import S3Bucket

from node_runtime import DirectoryStore, StoreError
from node_runtime.object_storage import (
    Lag,
    ObjectStore,
    ReplicationTargetError,
    Replicator,
    pull,
)
from node_runtime.object_storage.object_io import ObjectIO
from node_runtime.replication_watermark import WATERMARK_NAME, replication_floor

_PREFIXES = itertools.count(1)


@pytest.fixture
def s3(request: pytest.FixtureRequest) -> S3Store:
    store: S3Store = request.getfixturevalue("s3_bucket").store
    return store


@pytest.fixture
def prefix() -> str:
    return f"replicated/node-{next(_PREFIXES)}"


def _keys(s3: S3Store, prefix: str) -> list[str]:
    return sorted(meta["path"] for meta in obstore.list(s3, prefix + "/").collect())


def test_the_object_store_holds_the_local_state_once_replicated(
    tmp_path: Path, s3: S3Store, prefix: str
) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, signer=IDENTITY) as local:
        journal(local, node, 3)
        journal(local, node, 2)
        replicator = Replicator(tmp_path, s3, prefix, batch_size=3)
        assert replicator.lag() == Lag(2, sum(p.stat().st_size for p in tmp_path.glob("0*")))
        report = replicator.run_once()
        assert (report.sent, report.found, report.lag) == (2 + 3 + 2, 0, Lag())
        expected = local.latest()
    assert expected is not None
    remote = ObjectStore(s3, prefix, read_only=True, expected_signer=IDENTITY.peer_id)
    latest = remote.latest()
    assert latest is not None
    assert latest.snapshot == expected.snapshot
    assert latest.ref.state == expected.ref.state
    for generation in (1, 2):
        name = f"{generation:020d}.nsnap"
        assert ObjectIO(s3, prefix).get(f"{prefix}/{name}", 2**20) == (tmp_path / name).read_bytes()


def test_only_what_is_new_is_sent_again(tmp_path: Path, s3: S3Store, prefix: str) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False) as local:
        journal(local, node, 2)
        replicator = Replicator(tmp_path, s3, prefix)
        assert replicator.run_once().sent == 3
        assert replicator.run_once().sent == 0
        journal(local, node, 1)
        report = replicator.run_once()
    assert (report.sent, report.lag) == (2, Lag())


def test_local_retention_keeps_what_has_not_shipped(
    tmp_path: Path, s3: S3Store, prefix: str
) -> None:
    node = ChangingNode()
    with DirectoryStore(tmp_path, fsync=False, keep_last=1) as local:
        journal(local, node, 1)
        replicator = Replicator(tmp_path, s3, prefix)
        replicator.run_once()  # generation 1 shipped while the newest: it may still grow
        for _ in range(3):
            journal(local, node, 1)  # generations 2-4, none shipped
        assert [ref.generation for ref in local.list()] == [1, 2, 3, 4]
        assert replicator.lag().generations == 3
        replicator.run_once()  # 1-3 done; 4 shipped, the newest
        journal(local, node, 0)
        assert [ref.generation for ref in local.list()] == [4, 5]
        assert replicator.lag() == Lag(1, (tmp_path / f"{5:020d}.nsnap").stat().st_size)


def test_a_lost_watermark_is_resumed_by_checking_not_resending(
    tmp_path: Path, s3: S3Store, prefix: str
) -> None:
    with DirectoryStore(tmp_path, fsync=False) as local:
        journal(local, ChangingNode(), 2)
    Replicator(tmp_path, s3, prefix).run_once()
    (tmp_path / WATERMARK_NAME).write_text("{not json")
    replicator = Replicator(tmp_path, s3, prefix)
    assert replicator.lag() == Lag(1, sum(p.stat().st_size for p in tmp_path.glob("0*")))
    assert (tmp_path / (WATERMARK_NAME + ".corrupt")).exists()
    assert replication_floor(tmp_path) == 1  # replaced at once: retention still keeps it
    report = replicator.run_once()
    assert (report.sent, report.found) == (0, 3)


def test_a_batch_cut_short_marks_complete_only_what_landed(
    tmp_path: Path, s3: S3Store, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DirectoryStore(tmp_path, fsync=False) as local:
        journal(local, ChangingNode(), 4)
    real_create = ObjectIO.create
    calls = itertools.count()

    def failing_create(self: ObjectIO, key: str, data: bytes) -> None:
        if next(calls) == 2:
            raise StoreError("the network went away")
        real_create(self, key, data)

    monkeypatch.setattr(ObjectIO, "create", failing_create)
    with pytest.raises(StoreError, match="network"):
        Replicator(tmp_path, s3, prefix, batch_size=4).run_once()
    mark = json.loads((tmp_path / WATERMARK_NAME).read_text())["generations"]["1"]
    assert (mark["snapshot"], mark["records"], mark["uploading"]) == ("complete", 1, 2)
    assert len(_keys(s3, prefix)) == 2
    monkeypatch.setattr(ObjectIO, "create", real_create)
    report = Replicator(tmp_path, s3, prefix).run_once()
    assert (report.sent, report.found, report.lag) == (3, 0, Lag())


def test_another_target_is_refused(tmp_path: Path, s3: S3Store, prefix: str) -> None:
    with DirectoryStore(tmp_path, fsync=False) as local:
        local.save(ChangingNode().snapshot())
    Replicator(tmp_path, s3, prefix).run_once()
    with pytest.raises(ReplicationTargetError, match="replicated to"):
        Replicator(tmp_path, s3, prefix + "-elsewhere").run_once()


def test_pull_restores_the_newest_verified_state_on_a_fresh_machine(
    tmp_path: Path, s3: S3Store, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    node = ChangingNode()
    origin = tmp_path / "origin"
    with DirectoryStore(origin, fsync=False, signer=IDENTITY) as local:
        journal(local, node, 2)
        journal(local, node, 3)
        expected = local.latest()
    Replicator(origin, s3, prefix).run_once()
    fresh = tmp_path / "fresh"
    pulled = pull(s3, prefix, fresh, expected_signer=IDENTITY.peer_id)
    assert expected is not None
    assert pulled is not None
    assert pulled.snapshot == expected.snapshot
    assert pulled.ref.state == expected.ref.state
    with DirectoryStore(fresh, expected_signer=IDENTITY.peer_id, read_only=True) as restored:
        latest = restored.latest()
    assert latest is not None
    assert latest.snapshot == expected.snapshot
    with pytest.raises(StoreError, match="empty directory"):
        pull(s3, prefix, fresh)
    with caplog.at_level(logging.WARNING):
        assert pull(s3, "nothing/here", tmp_path / "none") is None


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_in_the_background_a_notify_ships_at_once_and_a_failure_is_retried(
    tmp_path: Path, s3_bucket: S3Bucket, fault_proxy: FaultProxy, prefix: str
) -> None:
    node = ChangingNode()
    proxied = s3_bucket.store_at(fault_proxy.endpoint, max_retries=0)
    replicator = Replicator(tmp_path, proxied, prefix, interval=600.0)  # only notify() wakes it
    with DirectoryStore(tmp_path, fsync=False) as local:
        local.save(node.step())
        replicator.start()
        try:
            assert _wait_for(lambda: replicator.lag() == Lag())
            fault_proxy.fail_with(503, method="PUT")
            local.save(node.step())
            replicator.notify()
            assert _wait_for(lambda: replicator.last_error is not None)
            assert replicator.lag().generations == 1
            fault_proxy.clear()
            replicator.notify()
            assert _wait_for(lambda: replicator.last_error is None)
            assert replicator.lag() == Lag()
        finally:
            replicator.stop(timeout=30)
    assert len(_keys(s3_bucket.store, prefix)) == 2
