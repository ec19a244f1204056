"""`ObjectStore`: one node's snapshots in S3-compatible object storage (or GCS, Azure: any
store `obstore` opens), with `DirectoryStore`'s interface and guarantees.

Layout under the node's prefix (the same names as a store directory's files):

    00000000000000000001.nsnap                          a generation's sealed snapshot
    00000000000000000001.journal/00000000000000000001.delta   its journal, one record per object
    quarantine/00000000000000000001.nsnap[.N]           what failed verification, moved aside
    quarantine/00000000000000000001.journal[.N]/…       its journal

The bytes are exactly those of a `DirectoryStore`'s files (docs/FORMAT.md §8): signed,
encrypted and compressed alike, verified alike on every load.

An object store has no lock and no rename. Instead, every object is created only if absent (a
conditional PUT): a generation or a journal record is never overwritten, and when two writers
of one node race for a name, one wins and the other gets `WriterConflictError` and refuses all
later writes. A PUT is atomic, so there are no temporary or torn objects; a PUT that fails may
still have landed, which is why a generation number is never reused and a journal whose append
failed takes no more appends. A read that fails (network, timeout, credentials, a 5xx) raises
`StoreReadError` and sets nothing aside: only what was read and failed verification is damage.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import re
import threading
from pathlib import PurePosixPath
from types import TracebackType

import attrs
from obstore.store import ObjectStore as ObstoreStore

from node_runtime.directory_store import (
    DEFAULT_JOURNAL_MAX_DELTAS,
    DEFAULT_KEEP_LAST,
    MAX_GENERATION,
    SEQUENCE_LIMIT,
)
from node_runtime.identity import Identity
from node_runtime.journal_chain import JournalChain
from node_runtime.journal_file import RecordFraming
from node_runtime.journal_replay import replay_records, stored_root
from node_runtime.object_storage.object_io import ObjectIO, ObjectTooLarge
from node_runtime.object_storage.object_journal import (
    ObjectJournalWriter,
    list_journal,
    read_object_records,
)
from node_runtime.peer_id import PeerId
from node_runtime.quarantine import QUARANTINE, QUARANTINED_NAME
from node_runtime.retention import beyond_limits
from node_runtime.sealed_file import (
    MAX_HEADER_BYTES,
    read_header,
    sealed_size_bound,
)
from node_runtime.snapshot_store import SnapshotRef, StoredSnapshot
from node_runtime.storage_errors import (
    CorruptFileError,
    DamagedFileError,
    JournalBaseMismatchError,
    SnapshotNotFoundError,
    SnapshotTooLargeError,
    StoreError,
    StoreFullError,
    UnsupportedContainerError,
    UntrustedFileError,
    WriterConflictError,
)
from node_runtime.store_files import JOURNAL_NAME, SNAPSHOT_NAME, journal_name, snapshot_name
from node_runtime.store_options import (
    Sealing,
    check_limits,
    journal_limits,
    prune_selection,
    report_replay,
    signer_of,
)
from snapshot_schema import (
    DEFAULT_MAX_SNAPSHOT_SIZE,
    SnapshotDecodeError,
    SnapshotError,
    TransientSnapshot,
    encode,
    root_ref_of_encoded,
)
from snapshot_schema.delta_records import SnapshotDelta

__all__ = ["ObjectStore"]

LOG = logging.getLogger(__name__)
_NODE_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")


class ObjectStore:
    """One node's snapshots under `prefix` in an object store (`obstore`'s S3Store, GCSStore,
    AzureStore, …). `ObjectStore(s3, "fleet/node-a")` alone is durable: an object exists only
    once its PUT succeeded.

    Options are `DirectoryStore`'s (`keep_last`, `max_bytes`, `signer`, `expected_signer`,
    `encryption_key`, `compress`, `read_only`, `max_snapshot_size`, `journal_max_deltas`,
    `journal_max_bytes`), meaning the same; there is no `fsync`. Many nodes share a bucket
    under their own prefixes (`list_fleet` lists them).
    """

    def __init__(
        self,
        store: ObstoreStore,
        prefix: str,
        *,
        keep_last: int | None = DEFAULT_KEEP_LAST,
        max_bytes: int | None = None,
        signer: Identity | None = None,
        expected_signer: PeerId | None = None,
        encryption_key: bytes | None = None,
        compress: bool = False,
        read_only: bool = False,
        max_snapshot_size: int = DEFAULT_MAX_SNAPSHOT_SIZE,
        journal_max_deltas: int = DEFAULT_JOURNAL_MAX_DELTAS,
        journal_max_bytes: int | None = None,
    ) -> None:
        if not _NODE_PREFIX.match(prefix):
            raise ValueError(
                f"prefix {prefix!r}: `/`-separated names of letters, digits, `.`, `_` and `-`"
            )
        check_limits(keep_last, max_bytes, journal_max_deltas, journal_max_bytes)
        self._sealing = Sealing.of(
            signer=signer,
            expected_signer=expected_signer,
            encryption_key=encryption_key,
            compress=compress,
            max_snapshot_size=max_snapshot_size,
        )
        self.prefix = prefix
        self.keep_last = keep_last
        self.max_bytes = max_bytes
        self.read_only = read_only
        self.journal_max_deltas = journal_max_deltas
        self.journal_max_bytes = journal_max_bytes
        self._io = ObjectIO(store, prefix)
        self._max_snapshot_size = max_snapshot_size
        self._lock = threading.Lock()
        self._closed = False
        self._conflict: WriterConflictError | None = None
        self._chain: JournalChain | None = None
        self._next_generation = 0 if read_only else self._first_free_generation()

    # Opening and closing.

    def close(self) -> None:
        """Stop saving and appending (nothing is held: objects are written whole)."""
        with self._lock:
            self._chain = None
            self._closed = True

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "writer"
        return f"ObjectStore({self.prefix!r}, {mode})"

    # Names.

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def _snapshot_key(self, generation: int) -> str:
        return self._key(snapshot_name(generation))

    def _journal(self, generation: int) -> str:
        return self._key(journal_name(generation))

    def _top_level(self) -> tuple[builtins.list[tuple[int, int]], builtins.list[int]]:
        """Generation and size of every snapshot object, newest first; and the generations
        that have a journal prefix."""
        listing = self._io.listing(self.prefix + "/")
        snapshots = []
        for entry in listing.objects:
            match = SNAPSHOT_NAME.match(PurePosixPath(entry.key).name)
            if match is not None:
                snapshots.append((int(match.group(1)), entry.size))
        journals = []
        for prefix in listing.prefixes:
            match = JOURNAL_NAME.match(PurePosixPath(prefix).name)
            if match is not None:
                journals.append(int(match.group(1)))
        return sorted(snapshots, reverse=True), journals

    def _first_free_generation(self) -> int:
        """One above the highest generation named under the prefix (snapshots, journals, the
        quarantine); a name at or above `SEQUENCE_LIMIT` counts only if its snapshot verifies
        (as in `DirectoryStore`)."""
        snapshots, journals = self._top_level()
        quarantined = []
        for entry in self._io.listing(self._key(QUARANTINE) + "/").objects:
            match = QUARANTINED_NAME.match(PurePosixPath(entry.key).name)
            if match is not None:
                quarantined.append(int(match.group(1)))
        names = [*(generation for generation, _ in snapshots), *journals, *quarantined]
        sequence = max((name for name in names if name < SEQUENCE_LIMIT), default=0)
        for generation, _ in snapshots:
            if generation < SEQUENCE_LIMIT:
                break
            try:
                self._load(generation, with_journal=False)
            except (SnapshotError, FileNotFoundError) as error:
                LOG.warning("generation %d does not verify, numbers nothing: %s", generation, error)
                continue
            return max(sequence, generation) + 1
        return sequence + 1

    # Listing.

    def list(self) -> builtins.list[SnapshotRef]:
        """Every generation whose snapshot header this build reads, oldest first, with the
        records of its journal up to any hole (time: the last record's). Not verified."""
        snapshots, _ = self._top_level()
        refs = []
        for generation, size in reversed(snapshots):
            key = self._snapshot_key(generation)
            try:
                header = read_header(self._io.get_start(key, MAX_HEADER_BYTES))
            except FileNotFoundError:
                continue
            except DamagedFileError:
                continue
            except SnapshotError as error:
                LOG.warning("leaving out %s: %s", key, error)
                continue
            listed = list_journal(self._io, self._journal(generation))
            wall_ns = header.created_wall_ns
            if listed.records:
                last = listed.records[-1].key
                # A record that does not read leaves the snapshot's time: the replay reports it.
                with contextlib.suppress(FileNotFoundError, SnapshotError):
                    last_header = read_header(self._io.get_start(last, MAX_HEADER_BYTES))
                    wall_ns = last_header.created_wall_ns
            path = PurePosixPath(key)
            refs.append(
                SnapshotRef(
                    generation, path, size, wall_ns, None, len(listed.records), listed.bytes
                )
            )
        return refs

    # Loading.

    def _read(self, generation: int) -> bytes:
        key = self._snapshot_key(generation)
        try:
            return self._io.get(key, sealed_size_bound(self._max_snapshot_size))
        except ObjectTooLarge as large:
            raise SnapshotTooLargeError(
                f"{key}: {large.size} bytes, more than any sealed snapshot of at most "
                f"{self._max_snapshot_size} bytes (max_snapshot_size)"
            ) from None

    def _verify(
        self,
        generation: int,
        data: bytes,
        *,
        with_journal: bool = True,
        until_wall_ns: int | None = None,
    ) -> StoredSnapshot:
        sealed = self._sealing.unseal_snapshot(data)
        if sealed.header.generation != generation:
            raise CorruptFileError(f"key says generation {generation}, its header another")
        root = stored_root(sealed, generation)
        path = PurePosixPath(self._snapshot_key(generation))
        if not with_journal:
            ref = SnapshotRef(generation, path, len(data), sealed.header.created_wall_ns, root.ref)
            return StoredSnapshot(ref, sealed.header, sealed.snapshot)
        listed = list_journal(self._io, self._journal(generation))
        framing = RecordFraming.of_snapshot(sealed.header)
        records = read_object_records(self._io, listed, framing, self._max_snapshot_size)
        replayed = replay_records(
            records,
            root,
            sealed.header,
            self._sealing.record_checks(),
            size=listed.listed_bytes,
            until_wall_ns=until_wall_ns,
        )
        report_replay(LOG, self._journal(generation), replayed.journal)
        journal = replayed.journal
        ref = SnapshotRef(
            generation,
            path,
            len(data),
            replayed.wall_ns,
            replayed.state.ref,
            journal.deltas,
            journal.bytes,
        )
        return StoredSnapshot(ref, sealed.header, replayed.state.snapshot, journal)

    def _load(self, generation: int, *, with_journal: bool = True) -> StoredSnapshot:
        return self._verify(generation, self._read(generation), with_journal=with_journal)

    def load(self, ref: SnapshotRef | int) -> StoredSnapshot:
        """The state of that generation, verified, with its journal's longest good prefix
        applied. Raises the snapshot's error if it does not verify (nothing is moved)."""
        generation = ref.generation if isinstance(ref, SnapshotRef) else ref
        try:
            return self._load(generation)
        except FileNotFoundError:
            raise SnapshotNotFoundError(
                f"{self.prefix}: no snapshot of generation {generation}"
            ) from None

    def _newest_valid(self, wall_ns: int | None) -> StoredSnapshot | None:
        snapshots, _ = self._top_level()
        for generation, _ in snapshots:
            key = self._snapshot_key(generation)
            try:
                if wall_ns is not None and self._taken_after(key, wall_ns):
                    continue
                data = self._read(generation)
                return self._verify(generation, data, until_wall_ns=wall_ns)
            except FileNotFoundError:
                continue  # removed by a writer while we looked
            except SnapshotTooLargeError as error:
                LOG.warning("skipping %s: %s", key, error)
            except (DamagedFileError, UntrustedFileError, SnapshotDecodeError) as error:
                self._set_aside(generation, error)
        return None

    def _taken_after(self, key: str, wall_ns: int) -> bool:
        """Whether the snapshot at `key` was taken after `wall_ns`, from its header alone (a
        header this build cannot read is left to the full verification to judge)."""
        try:
            header = read_header(self._io.get_start(key, MAX_HEADER_BYTES))
        except UnsupportedContainerError:
            return False
        return header.created_wall_ns > wall_ns

    def latest(self) -> StoredSnapshot | None:
        """The newest state that verifies (as `DirectoryStore.latest`): damaged or untrusted
        snapshots on the way are moved to `quarantine/` with their journals."""
        return self._newest_valid(None)

    def at(self, wall_ns: int) -> StoredSnapshot | None:
        """The newest verified state taken at or before `wall_ns` (ns since the epoch)."""
        return self._newest_valid(wall_ns)

    def _set_aside(self, generation: int, error: Exception) -> None:
        key = self._snapshot_key(generation)
        if self.read_only:
            LOG.warning("skipping %s: %s", key, error)
            return
        quarantine = self._key(QUARANTINE)
        taken = {PurePosixPath(entry.key).name for entry in self._io.walk(quarantine + "/")}
        taken |= {
            PurePosixPath(prefix).name for prefix in self._io.listing(quarantine + "/").prefixes
        }
        name, journal = snapshot_name(generation), journal_name(generation)
        counter = 0
        while name in taken or journal in taken:
            counter += 1
            name = f"{snapshot_name(generation)}.{counter}"
            journal = f"{journal_name(generation)}.{counter}"
        source_journal = self._journal(generation)
        for entry in self._io.walk(source_journal + "/"):  # first: never a journal left alone
            record = PurePosixPath(entry.key).name
            self._io.move(entry.key, f"{quarantine}/{journal}/{record}")
        self._io.move(key, f"{quarantine}/{name}")
        LOG.warning("moved %s to %s/%s: %s", key, quarantine, name, error)

    # Saving, appending and retention.

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.prefix}: opened read-only")
        if self._closed:
            raise StoreError(f"{self.prefix}: the store is closed")
        if self._conflict is not None:
            raise WriterConflictError(
                f"{self.prefix}: writes stopped after another writer won: {self._conflict}"
            )

    def save(self, snapshot: TransientSnapshot) -> SnapshotRef:
        """Seal and store `snapshot` as the next generation (an object created only if
        absent), then apply retention. Durable when it returns. Raises `StoreWriteError` if
        the PUT failed (the generation number is not used again), `WriterConflictError` if
        another writer created it, `SnapshotTooLargeError` above `max_snapshot_size`."""
        with self._lock:
            self._check_writable()
            generation = self._reserve_generation()
        encoded = encode(snapshot)
        try:
            data = self._sealing.seal_snapshot(snapshot, encoded, generation)
        except SnapshotTooLargeError as error:
            raise SnapshotTooLargeError(f"{self.prefix}: {error}: not saved") from None
        state = root_ref_of_encoded(encoded, generation)
        key = self._snapshot_key(generation)
        ref = SnapshotRef(
            generation, PurePosixPath(key), len(data), snapshot.taken_at.wall_ns, state
        )
        with self._lock:
            self._check_writable()
            self._chain = None
            try:
                self._io.create(key, data)
            except WriterConflictError as conflict:
                self._conflict = conflict
                raise
            self._start_chain(ref, PeerId.from_bytes(snapshot.framework.peer_id_bytes))
            self._retain_after(generation)
        return ref

    def _reserve_generation(self) -> int:
        generation = self._next_generation
        if generation > MAX_GENERATION:
            raise StoreFullError(
                f"{self.prefix}: every generation up to {MAX_GENERATION} is taken; start a "
                "new prefix"
            )
        self._next_generation = generation + 1  # taken even if the save fails
        return generation

    def _start_chain(self, ref: SnapshotRef, peer_id: PeerId) -> None:
        limits = journal_limits(ref.size, self.journal_max_deltas, self.journal_max_bytes)
        writer = ObjectJournalWriter(self._io, self._journal(ref.generation))
        self._chain = JournalChain(ref, peer_id, limits, writer)

    def append(self, delta: SnapshotDelta) -> SnapshotRef:
        """Append `delta` to the journal of the generation this instance saved last (as
        `DirectoryStore.append`): one object per record, created only if absent. A failed PUT
        raises `StoreWriteError` and stops appends to the generation until the next save."""
        with self._lock:
            self._check_writable()
            chain = self._chain
            if chain is None:
                raise JournalBaseMismatchError(
                    f"{self.prefix}: this store instance has saved no snapshot to append to: "
                    "save a full snapshot"
                )
            chain.check_base(delta)
            record = self._sealing.seal_record(delta, chain.peer_id)
            try:
                return chain.append(delta, record)
            except WriterConflictError as conflict:
                self._conflict = conflict
                raise

    def needs_full_snapshot(self) -> bool:
        """Whether the next save must be a full snapshot (as `DirectoryStore`'s)."""
        with self._lock:
            return self._chain is None or self._chain.needs_full_snapshot()

    def _generation_sizes(self, keep: int) -> builtins.list[tuple[int, int]]:
        """Generation and size (snapshot and journal) of every generation up to `keep`,
        newest first, from one listing of the prefix."""
        snapshots: dict[int, int] = {}
        journals: dict[int, int] = {}
        for entry in self._io.walk(self.prefix + "/"):
            parts = PurePosixPath(entry.key).relative_to(self.prefix).parts
            snapshot = SNAPSHOT_NAME.match(parts[0]) if len(parts) == 1 else None
            journal = JOURNAL_NAME.match(parts[0]) if len(parts) == 2 else None
            if snapshot is not None:
                snapshots[int(snapshot.group(1))] = entry.size
            elif journal is not None:
                generation = int(journal.group(1))
                journals[generation] = journals.get(generation, 0) + entry.size
        return [
            (generation, size + journals.get(generation, 0))
            for generation, size in sorted(snapshots.items(), reverse=True)
            if generation <= keep
        ]

    def _remove_generation(self, generation: int) -> None:
        """The journal's records first, then the snapshot: never a journal left alone."""
        journal = [entry.key for entry in self._io.walk(self._journal(generation) + "/")]
        self._io.delete(journal)
        self._io.delete([self._snapshot_key(generation)])

    def _retain_after(self, generation: int) -> None:
        # The save itself succeeded: a failure to prune must not turn it into an error.
        try:
            sizes = self._generation_sizes(generation)
            for old in beyond_limits(sizes, {generation}, self.keep_last, self.max_bytes):
                self._remove_generation(old)
        except StoreError as error:
            LOG.warning(
                "%s: retention failed, retrying after the next save: %s", self.prefix, error
            )

    def prune(self) -> builtins.list[SnapshotRef]:
        """Apply the retention policy now, as `DirectoryStore.prune`: every snapshot is
        verified first, damaged or untrusted ones are set aside, the newest of each signer is
        kept; the generations removed, newest first."""
        with self._lock:
            self._check_writable()
        verified: builtins.list[tuple[SnapshotRef, PeerId | None]] = []
        unusable: builtins.list[tuple[int, SnapshotError]] = []
        sizes = dict(self._generation_sizes(MAX_GENERATION))
        for generation, size in sizes.items():
            try:
                loaded = self._load(generation, with_journal=False)
            except FileNotFoundError:
                continue
            except SnapshotTooLargeError as error:
                LOG.warning("leaving generation %d in place: %s", generation, error)
                continue
            except (DamagedFileError, UntrustedFileError, SnapshotDecodeError) as error:
                unusable.append((generation, error))
                continue
            journal_bytes = size - loaded.ref.size
            verified.append(
                (attrs.evolve(loaded.ref, journal_bytes=journal_bytes), signer_of(loaded.header))
            )
        for generation, problem in unusable:
            self._set_aside(generation, problem)
        removed = prune_selection(verified, set(), self.keep_last, self.max_bytes)
        with self._lock:
            for ref in removed:
                self._remove_generation(ref.generation)
        return removed
