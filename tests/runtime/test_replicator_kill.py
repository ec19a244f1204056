"""A replicator killed (SIGKILL) at random moments, over and over, while a busy node autosaves:
the watermark never marks complete what did not land, each kill costs at most the one upload it
cut short, and once it is let finish the object store holds exactly the local history and a
fresh machine restores the state the local store holds (a real SeaweedFS server)."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import obstore
import pytest
from journal_support import ChangingNode, append_step
from obstore.store import S3Store
from storage.fault_proxy import FaultProxy
from storage.s3_fixtures import S3Bucket

from node_runtime import DirectoryStore
from node_runtime.journal_file import RecordFraming, read_records
from node_runtime.object_storage import ObjectStore, Replicator, pull
from node_runtime.replication_watermark import Status, load_watermark
from node_runtime.sealed_file import read_header
from node_runtime.store_files import stored_files
from snapshot_schema.delta_records import VersionedSnapshot

READY_TIMEOUT = 60.0
KILLS = 100


def replicate_forever(directory: str, endpoint: str, bucket: str, ready: Event) -> None:
    """The replicator's process: one pass after another until it is killed."""
    store = S3Store(
        bucket,
        endpoint=endpoint,
        access_key_id="any",
        secret_access_key="any",
        region="us-east-1",
        client_options={"allow_http": True, "timeout": "5s"},
        virtual_hosted_style_request=False,
    )
    replicator = Replicator(directory, store, PREFIX, batch_size=2)
    ready.set()
    while True:
        replicator.run_once()


PREFIX = "fleet/busy-node"


class BusyNode:
    """A node autosaving into `directory` from a thread: deltas, and a full snapshot when the
    store asks for one (every few deltas), with retention on."""

    def __init__(self, directory: Path) -> None:
        self.store = DirectoryStore(directory, fsync=False, keep_last=2, journal_max_deltas=4)
        self.node = ChangingNode()
        self.tip: VersionedSnapshot | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            state = self.node.tick()
            if self.tip is None or self.store.needs_full_snapshot():
                ref = self.store.save(state)
                assert ref.state is not None
                self.tip = VersionedSnapshot(ref.state, state)
            else:
                self.tip = append_step(self.store, self.tip, state)
            time.sleep(0.05)  # 20 saves a second: far busier than any autosave

    def __enter__(self) -> BusyNode:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join()
        self.store.close()


def _object(s3: S3Store, key: str) -> bytes | None:
    try:
        return bytes(obstore.get(s3, key).bytes())
    except FileNotFoundError:
        return None


def _local_records(snapshot: Path) -> list[bytes] | None:
    journal = snapshot.with_suffix(".journal")
    try:
        header = read_header(snapshot.read_bytes())
        data = journal.read_bytes()
        with journal.open("rb") as file:
            framing = RecordFraming.of_snapshot(header)
            return [record.data for record in read_records(file, len(data), framing, 2**30)]
    except FileNotFoundError:
        return None


def _check_marked_complete_landed(
    directory: Path, s3: S3Store, verified: set[tuple[int, int]]
) -> int:
    """Every item the watermark marks complete (and not in `verified` yet) is in the object
    store, with the local bytes where the local file still exists; adds them to `verified`.
    The number of items checked."""
    watermark = load_watermark(directory, set_aside=False)
    if watermark is None:
        return 0
    checked = 0
    for generation, mark in watermark.generations.items():
        snapshot = directory / f"{generation:020d}.nsnap"
        if mark.snapshot is Status.COMPLETE and (generation, 0) not in verified:
            landed = _object(s3, f"{PREFIX}/{snapshot.name}")
            assert landed is not None, f"generation {generation} marked complete, not there"
            if snapshot.exists():
                assert landed == snapshot.read_bytes()
            verified.add((generation, 0))
            checked += 1
        local = _local_records(snapshot) if snapshot.exists() else None
        for sequence in range(1, mark.records + 1):
            if (generation, sequence) in verified:
                continue
            key = f"{PREFIX}/{generation:020d}.journal/{sequence:020d}.delta"
            landed = _object(s3, key)
            assert landed is not None, f"{key} marked complete, not there"
            if local is not None:
                assert landed == local[sequence - 1]
            verified.add((generation, sequence))
            checked += 1
    return checked


@pytest.mark.slow
def test_a_replicator_killed_100_times_leaves_a_complete_consistent_replica(
    tmp_path: Path, s3_bucket: S3Bucket, fault_proxy: FaultProxy
) -> None:
    rng = random.Random(15)
    directory = tmp_path / "node"
    kills = checked = 0
    # Processes forked from a server that has imported everything: each starts in
    # milliseconds, so the kills land while it works, not while it imports.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["node_runtime.object_storage", "test_replicator_kill"])
    verified: set[tuple[int, int]] = set()
    with BusyNode(directory):
        while kills < KILLS:
            ready = context.Event()
            arguments = (str(directory), fault_proxy.endpoint, s3_bucket.name, ready)
            process = context.Process(target=replicate_forever, args=arguments)
            process.start()
            assert ready.wait(READY_TIMEOUT)
            time.sleep(rng.uniform(0.0, 0.1))
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            process.join()
            kills += 1
            checked += _check_marked_complete_landed(directory, s3_bucket.store, verified)
    assert checked > 100  # the replicas were checked as they grew, not only at the end
    through_proxy = s3_bucket.store_at(fault_proxy.endpoint)
    report = Replicator(directory, through_proxy, PREFIX).run_once()
    assert report.lag.generations == 0
    _check_marked_complete_landed(directory, s3_bucket.store, verified)

    # The object store holds exactly the local history that retention kept...
    for generation, path in stored_files(directory):
        assert _object(s3_bucket.store, f"{PREFIX}/{path.name}") == path.read_bytes()
        records = _local_records(path) or []
        remote = sorted(
            meta["path"]
            for meta in obstore.list(
                s3_bucket.store, f"{PREFIX}/{generation:020d}.journal/"
            ).collect()
        )
        assert [_object(s3_bucket.store, key) for key in remote] == records
    # ...each upload was sent once, plus at most the one each kill cut short...
    objects = sum(len(chunk) for chunk in obstore.list(s3_bucket.store, PREFIX + "/"))
    puts = fault_proxy.forwarded.get("PUT", 0)
    assert puts <= objects + kills
    # ...and a fresh machine restores the state the local store holds.
    with DirectoryStore(directory, read_only=True) as local:
        expected = local.latest()
    assert expected is not None
    remote_latest = ObjectStore(s3_bucket.store, PREFIX, read_only=True).latest()
    assert remote_latest is not None
    assert remote_latest.snapshot == expected.snapshot
    pulled = pull(s3_bucket.store, PREFIX, tmp_path / "fresh")
    assert pulled is not None
    assert pulled.snapshot == expected.snapshot
