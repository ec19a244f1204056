"""`Replicator`: ships a store directory's generations and journals to an object store, in the
background, resumably.

What to ship comes from the directory itself (every snapshot file, every complete journal
record), in order: oldest generation first, a snapshot before its journal, records in order.
It goes out in batches of at most `batch_size` objects: the batch is marked `uploading` in the
watermark (`replication_watermark`) before anything is sent and `complete` once every
object landed. Killed at any moment, a replicator therefore resumes with the items it may have
sent checked for first (found and identical: complete, not sent again) and never marks
complete what did not land. The bytes are shipped as they are stored (signed, encrypted,
compressed alike), so an `ObjectStore` on the same prefix reads exactly the local state.

Back-pressure: memory holds one batch; the rest waits on disk, where local retention keeps
every generation not yet shipped. `lag()` says how far behind the object store is.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import attrs
from obstore.store import ObjectStore as ObstoreStore

from node_runtime.object_storage.object_io import ObjectIO
from node_runtime.object_storage.object_journal import record_key
from node_runtime.replication_plan import Item, Lag, plan
from node_runtime.replication_watermark import (
    GenerationMark,
    Status,
    Watermark,
    WatermarkCorruptError,
    load_watermark,
    save_watermark,
)
from node_runtime.storage_errors import StoreError, WriterConflictError
from node_runtime.store_files import journal_name, snapshot_name, stored_files
from snapshot_schema import DEFAULT_MAX_SNAPSHOT_SIZE

__all__ = ["Lag", "ReplicationReport", "ReplicationTargetError", "Replicator"]

LOG = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 16


class ReplicationTargetError(StoreError):
    """The directory is already replicated to another target (its watermark names it)."""


@attrs.frozen
class ReplicationReport:
    """What one `run_once` did: objects and bytes sent, objects found already there (sent
    before a crash), and the lag left."""

    sent: int = 0
    sent_bytes: int = 0
    found: int = 0
    lag: Lag = attrs.field(factory=Lag)


class Replicator:
    """Replicates the store directory `directory` to `prefix` in the object store `store`.

    `run_once()` ships everything pending now and returns; `start()` runs it in a background
    thread every `interval` seconds and whenever `notify()` is called (after a save, say);
    `stop()` ends it. A target other than the one the directory's watermark names is refused
    (`ReplicationTargetError`): remove `.replication.json` to start over elsewhere.
    """

    def __init__(
        self,
        directory: str | Path,
        store: ObstoreStore,
        prefix: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        interval: float = 5.0,
        max_snapshot_size: int = DEFAULT_MAX_SNAPSHOT_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.directory = Path(directory)
        self.prefix = prefix.strip("/")
        self.target = f"{store!r}/{self.prefix}"
        self.batch_size = batch_size
        self.interval = interval
        self._io = ObjectIO(store, self.prefix)
        self._max_snapshot_size = max_snapshot_size
        self._lock = threading.Lock()  # one run at a time
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: Exception | None = None

    # The watermark.

    def _watermark(self) -> Watermark:
        try:
            watermark = load_watermark(self.directory)
        except WatermarkCorruptError:
            # Replaced at once: without a watermark, local retention would keep nothing back.
            watermark = Watermark(self.target, self._everything_maybe_sent())
            save_watermark(self.directory, watermark)
            return watermark
        if watermark is None:
            return Watermark(self.target)
        if watermark.target != self.target:
            raise ReplicationTargetError(
                f"{self.directory} is replicated to {watermark.target}, not {self.target}"
            )
        return watermark

    def _everything_maybe_sent(self) -> dict[int, GenerationMark]:
        return {
            generation: GenerationMark(Status.UPLOADING, 0, 2**62)
            for generation, _ in stored_files(self.directory)
        }

    def lag(self) -> Lag:
        """How far the object store is behind the directory now."""
        return plan(self.directory, self._watermark(), self._max_snapshot_size).lag

    # Shipping.

    def _key(self, item: Item) -> str:
        if item.sequence == 0:
            return f"{self.prefix}/{snapshot_name(item.generation)}"
        return record_key(f"{self.prefix}/{journal_name(item.generation)}", item.sequence)

    def _landed(self, key: str, data: bytes) -> bool:
        """Whether `key` already holds `data` (sent before a crash); `WriterConflictError` if
        it holds something else. A plain PUT's entity tag is its MD5: no download needed."""
        stat = self._io.stat(key)
        if stat is None:
            return False
        size, etag = stat
        if size == len(data) and (
            etag == hashlib.md5(data).hexdigest()  # noqa: S324 (S3's checksum, not security)
            or (len(etag) != 32 and self._io.get(key, size) == data)
        ):
            return True
        raise WriterConflictError(f"{self.target}: {key} holds other bytes than the local copy")

    @staticmethod
    def _marked(watermark: Watermark, batch: list[Item], status: Status) -> Watermark:
        for item in batch:
            mark = watermark.mark(item.generation)
            if item.sequence == 0:
                mark = attrs.evolve(mark, snapshot=status)
            elif status is Status.UPLOADING:
                mark = attrs.evolve(
                    mark, uploading=max(mark.uploading, item.sequence - mark.records)
                )
            else:
                mark = attrs.evolve(
                    mark, records=item.sequence, uploading=max(mark.uploading - 1, 0)
                )
            watermark = watermark.with_mark(item.generation, mark)
        return watermark

    def run_once(self) -> ReplicationReport:
        """Ship everything pending now, batch by batch; what was done and the lag left.
        Raises the `StoreError` that stopped it (what landed before is marked complete)."""
        with self._lock:
            sent = sent_bytes = found = 0
            progress = plan(self.directory, self._watermark(), self._max_snapshot_size)
            watermark, items = progress.watermark, iter(progress.items)
            while True:
                batch = [item for _, item in zip(range(self.batch_size), items, strict=False)]
                if not batch:
                    break
                watermark = self._marked(watermark, batch, Status.UPLOADING)
                save_watermark(self.directory, watermark)
                shipped: list[Item] = []
                try:
                    for item in batch:
                        key, data = self._key(item), item.read()
                        if item.maybe_sent and self._landed(key, data):
                            found += 1
                        else:
                            self._io.create(key, data)
                            sent += 1
                            sent_bytes += len(data)
                        shipped.append(item)
                finally:
                    watermark = self._marked(watermark, shipped, Status.COMPLETE)
                    save_watermark(self.directory, watermark)
            final = plan(self.directory, watermark, self._max_snapshot_size)
            save_watermark(self.directory, final.watermark)
            return ReplicationReport(sent, sent_bytes, found, final.lag)

    # In the background.

    def start(self) -> None:
        """Run in a background thread until `stop()`: every `interval` seconds and on
        `notify()`. A failure is logged, kept in `last_error`, and retried next time."""
        if self._thread is not None:
            raise RuntimeError("the replicator is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="nodesnap-replicator", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Something was saved: ship it now rather than at the next interval."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background thread after the batch in flight."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
                self.last_error = None
            except (StoreError, OSError) as error:
                self.last_error = error
                LOG.warning("replication to %s failed, retrying: %s", self.target, error)
            self._wake.wait(self.interval)
            self._wake.clear()
