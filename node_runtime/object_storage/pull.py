"""`pull`: the newest verified state of a node, from its object store prefix alone, written
into a local store directory that a node restores from as it would after any restart."""

from __future__ import annotations

from pathlib import Path

from obstore.store import ObjectStore as ObstoreStore

from node_runtime.directory_store import DirectoryStore
from node_runtime.durable_io import write_atomically
from node_runtime.object_storage.object_io import ObjectIO
from node_runtime.object_storage.object_journal import list_journal
from node_runtime.object_storage.object_store import ObjectStore
from node_runtime.peer_id import PeerId
from node_runtime.snapshot_store import StoredSnapshot
from node_runtime.storage_errors import StoreError
from node_runtime.store_files import journal_name, snapshot_name
from snapshot_schema import DEFAULT_MAX_SNAPSHOT_SIZE

__all__ = ["pull"]

_ATTEMPTS = 3  # a writer may prune or append between reading and copying: try again


def pull(
    store: ObstoreStore,
    prefix: str,
    directory: str | Path,
    *,
    expected_signer: PeerId | None = None,
    encryption_key: bytes | None = None,
    max_snapshot_size: int = DEFAULT_MAX_SNAPSHOT_SIZE,
) -> StoredSnapshot | None:
    """Copy the newest state of `prefix` that verifies (its snapshot and its journal's good
    records, bytes unchanged) into `directory` (a store directory, created if need be), and
    return it as that directory loads it; `None` when the prefix holds no state that
    verifies. Refused (`StoreError`) if `directory` already holds that generation."""
    target = Path(directory)
    remote = ObjectStore(
        store,
        prefix,
        read_only=True,
        expected_signer=expected_signer,
        encryption_key=encryption_key,
        max_snapshot_size=max_snapshot_size,
    )
    io = ObjectIO(store, prefix)
    for _ in range(_ATTEMPTS):
        newest = remote.latest()
        if newest is None:
            return None
        generation = newest.ref.generation
        snapshot = io.get(f"{prefix}/{snapshot_name(generation)}", newest.ref.size)
        listed = list_journal(io, f"{prefix}/{journal_name(generation)}")
        wanted = listed.records[: newest.journal.deltas]
        if len(wanted) < newest.journal.deltas:
            continue  # pruned meanwhile
        records = [io.get(entry.key, entry.size) for entry in wanted]
        _write(target, generation, snapshot, b"".join(records))
        copied = DirectoryStore(
            target,
            read_only=True,
            expected_signer=expected_signer,
            encryption_key=encryption_key,  # read back as sealed: an encrypted node's needs it
            max_snapshot_size=max_snapshot_size,
        )
        local = copied.load(generation)
        if local.ref.state == newest.ref.state:
            return local
    raise StoreError(f"{prefix}: the newest state kept changing while it was copied")


def _write(directory: Path, generation: int, snapshot: bytes, journal: bytes) -> None:
    with DirectoryStore(directory, keep_last=None) as local:  # creates it safely, 0700
        path = local.path / snapshot_name(generation)
        if path.exists():
            raise StoreError(f"{path} exists: pull into an empty directory")
        if journal:
            write_atomically(local.path / journal_name(generation), journal)
        write_atomically(path, snapshot)
