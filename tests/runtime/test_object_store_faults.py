"""`ObjectStore` when the object store misbehaves (a real SeaweedFS server behind a
fault-injecting proxy): a 5xx, a timeout, a slow server, a server killed mid-upload, another
writer. A save that fails raises a typed error and leaves the store as it was; a read that fails
raises `StoreReadError` and sets nothing aside; two writers never both win."""

from __future__ import annotations

import itertools

import obstore
import pytest
from journal_support import ChangingNode, append_step, journal
from storage.fault_proxy import FaultProxy
from storage.s3_fixtures import S3Bucket

from node_runtime import StoreReadError, StoreWriteError, WriterConflictError, seal
from node_runtime.object_storage import ObjectStore

_PREFIXES = itertools.count(1)


@pytest.fixture
def prefix() -> str:
    return f"faults/node-{next(_PREFIXES)}"


def _names(bucket: S3Bucket, prefix: str) -> list[str]:
    listed = obstore.list(bucket.store, prefix + "/").collect()
    return sorted(meta["path"].removeprefix(prefix + "/") for meta in listed)


def test_a_server_error_fails_the_save_and_keeps_what_was_stored(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy, prefix: str
) -> None:
    node = ChangingNode()
    proxied = s3_bucket.store_at(fault_proxy.endpoint, max_retries=1)
    with ObjectStore(proxied, prefix) as store:
        first = store.save(node.step())
        fault_proxy.fail_with(503, method="PUT")
        with pytest.raises(StoreWriteError, match="503"):
            store.save(node.step())
        fault_proxy.clear()
        third = store.save(node.step())
    assert third.generation == first.generation + 2  # the failed number is never reused
    assert _names(s3_bucket, prefix) == [f"{1:020d}.nsnap", f"{3:020d}.nsnap"]
    assert fault_proxy.received["PUT"] >= 2 + 2  # obstore retried the 503 once


def test_a_silent_server_times_out_instead_of_hanging(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy, prefix: str
) -> None:
    proxied = s3_bucket.server.s3_store(
        s3_bucket.name, endpoint=fault_proxy.endpoint, timeout="300ms", max_retries=0
    )
    with ObjectStore(proxied, prefix) as store:
        fault_proxy.hang(method="PUT")
        with pytest.raises(StoreWriteError):
            store.save(ChangingNode().snapshot())
        fault_proxy.clear()
        assert store.latest() is None


def test_an_upload_that_lands_after_its_timeout_costs_a_generation_number_only(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy, prefix: str
) -> None:
    """A slow server: the PUT lands, but answers after the timeout (obstore does not resend
    a PUT that timed out). The save fails; the next one takes the next number."""
    node = ChangingNode()
    proxied = s3_bucket.server.s3_store(
        s3_bucket.name, endpoint=fault_proxy.endpoint, timeout="500ms", max_retries=2
    )
    with ObjectStore(proxied, prefix) as store:
        fault_proxy.delay(1.0, method="PUT", times=1)
        with pytest.raises(StoreWriteError):
            store.save(node.step())
        fault_proxy.clear()
        newer = node.step()
        ref = store.save(newer)
        latest = store.latest()
    assert ref.generation == 2
    assert latest is not None
    assert latest.snapshot == newer
    assert _names(s3_bucket, prefix) == [f"{1:020d}.nsnap", f"{2:020d}.nsnap"]


def test_an_object_already_holding_the_bytes_being_saved_is_our_own_resent_upload(
    s3_bucket: S3Bucket, prefix: str
) -> None:
    """When obstore resends a PUT that had landed (after a 5xx or a dropped connection), the
    server answers that the object exists: the store compares the bytes and carries on."""
    snapshot = ChangingNode().snapshot()
    with ObjectStore(s3_bucket.store, prefix) as store:  # generation 1 is next
        landed = seal(snapshot, generation=1)  # what our first, "failed" PUT had stored
        obstore.put(s3_bucket.store, f"{prefix}/{1:020d}.nsnap", landed)
        ref = store.save(snapshot)
    assert ref.generation == 1


def test_a_server_killed_mid_upload_leaves_no_partial_object(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy, prefix: str
) -> None:
    node = ChangingNode()
    proxied = s3_bucket.store_at(fault_proxy.endpoint, max_retries=0)
    with ObjectStore(proxied, prefix) as store:
        states = journal(store, node, 1)
        fault_proxy.drop_after(64, method="PUT")
        with pytest.raises(StoreWriteError):
            store.save(node.step())
        fault_proxy.clear()
    assert _names(s3_bucket, prefix) == [
        f"{1:020d}.journal/{1:020d}.delta",
        f"{1:020d}.nsnap",
    ]
    latest = ObjectStore(s3_bucket.store, prefix, read_only=True).latest()
    assert latest is not None
    assert latest.snapshot == states[-1]


def test_a_failed_append_stops_appends_until_the_next_full_snapshot(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy, prefix: str
) -> None:
    node = ChangingNode()
    proxied = s3_bucket.store_at(fault_proxy.endpoint, max_retries=0)
    with ObjectStore(proxied, prefix) as store:
        states = journal(store, node, 1)
        tip = store.latest()
        assert tip is not None
        fault_proxy.fail_with(500, method="PUT", times=1)
        with pytest.raises(StoreWriteError, match="appends to this generation stopped"):
            append_step(store, tip.versioned, node.step())
        assert store.needs_full_snapshot()
        ref = store.save(node.step())
    assert ref.generation == 2
    latest = ObjectStore(s3_bucket.store, prefix, read_only=True).latest()
    assert latest is not None
    assert latest.ref.generation == 2
    assert states[-1] != latest.snapshot


def test_an_unreachable_server_is_a_read_error_and_nothing_is_set_aside(
    s3_bucket: S3Bucket, fault_proxy: FaultProxy, prefix: str
) -> None:
    with ObjectStore(s3_bucket.store, prefix) as store:
        journal(store, ChangingNode(), 2)
    proxied = s3_bucket.store_at(fault_proxy.endpoint, max_retries=0)
    reader = ObjectStore(proxied, prefix)
    fault_proxy.fail_with(500, method="GET")
    with pytest.raises(StoreReadError):
        reader.latest()
    fault_proxy.clear()
    assert not any(name.startswith("quarantine/") for name in _names(s3_bucket, prefix))
    latest = reader.latest()
    assert latest is not None
    assert latest.journal.deltas == 2


def test_two_writers_of_one_node_never_both_win(s3_bucket: S3Bucket, prefix: str) -> None:
    node = ChangingNode()
    first = ObjectStore(s3_bucket.store, prefix)
    second = ObjectStore(s3_bucket.store, prefix)  # both think generation 1 is next
    winner = first.save(node.step())
    with pytest.raises(WriterConflictError, match="another writer"):
        second.save(node.step())
    with pytest.raises(WriterConflictError, match="writes stopped"):
        second.save(node.step())  # fenced: it never writes again
    latest = ObjectStore(s3_bucket.store, prefix, read_only=True).latest()
    assert latest is not None
    assert latest.ref == winner


def test_a_killed_server_fails_saves_fast_and_a_restarted_one_serves_what_was_stored(
    s3_bucket: S3Bucket, prefix: str
) -> None:
    node = ChangingNode()
    store = ObjectStore(s3_bucket.server.s3_store(s3_bucket.name, max_retries=0), prefix)
    states = journal(store, node, 2)
    s3_bucket.server.kill()
    try:
        with pytest.raises(StoreWriteError):
            store.save(node.step())
        with pytest.raises(StoreReadError):
            store.latest()
    finally:
        s3_bucket.server.restart()
    latest = store.latest()
    assert latest is not None
    assert latest.snapshot == states[-1]
    assert store.save(node.step()).generation == 3  # 2 was spent on the failed save
