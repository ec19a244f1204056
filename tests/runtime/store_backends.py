"""The stores the contract suite (`test_store_contract.py`) runs against, each with the means
to damage what it holds the way its medium can be damaged: `DirectoryStore` in a temporary
directory, `ObjectStore` in a bucket of a real SeaweedFS server started by the test setup."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import obstore
from obstore.store import S3Store

from node_runtime import DirectoryStore, JournalStore
from node_runtime.journal_file import RecordFraming, read_records
from node_runtime.object_storage import ObjectStore
from node_runtime.sealed_file import read_header

_PREFIXES = itertools.count(1)


class OpenedStore(JournalStore, Protocol):
    """A store that closes itself at the end of a `with` block."""

    def __enter__(self) -> JournalStore: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class Backend(Protocol):
    """A kind of store, and raw access to its bytes (names relative to the store's root:
    `00000000000000000001.nsnap`, `quarantine/…`)."""

    name: str

    def open(self, **options: Any) -> OpenedStore: ...

    def names(self) -> set[str]:
        """Every stored name, journal records included (a directory's journal is one name)."""
        ...

    def snapshot(self, generation: int) -> bytes: ...

    def put_snapshot(self, generation: int, data: bytes) -> None: ...

    def records(self, generation: int) -> list[bytes]:
        """The journal's records, in order."""
        ...

    def put_records(self, generation: int, records: list[bytes]) -> None:
        """Replace the journal by `records` (a directory's: their bytes end to end)."""
        ...


def snapshot_name(generation: int) -> str:
    return f"{generation:020d}.nsnap"


class DirectoryBackend:
    name = "directory"

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self, **options: Any) -> OpenedStore:
        return DirectoryStore(self.path, fsync=False, **options)

    def names(self) -> set[str]:
        return {
            str(Path(root, name).relative_to(self.path))
            for root, _, files in os.walk(self.path)
            for name in files
            if not name.startswith(".")
        }

    def snapshot(self, generation: int) -> bytes:
        return (self.path / snapshot_name(generation)).read_bytes()

    def put_snapshot(self, generation: int, data: bytes) -> None:
        (self.path / snapshot_name(generation)).write_bytes(data)

    def _journal(self, generation: int) -> Path:
        return self.path / f"{generation:020d}.journal"

    def records(self, generation: int) -> list[bytes]:
        header = read_header(self.snapshot(generation))
        data = self._journal(generation).read_bytes()
        with self._journal(generation).open("rb") as file:
            framing = RecordFraming.of_snapshot(header)
            return [record.data for record in read_records(file, len(data), framing, 2**30)]

    def put_records(self, generation: int, records: list[bytes]) -> None:
        self._journal(generation).write_bytes(b"".join(records))


class ObjectBackend:
    name = "object"

    def __init__(self, s3: S3Store) -> None:
        self.s3 = s3
        self.prefix = f"node-{next(_PREFIXES)}"

    def open(self, **options: Any) -> OpenedStore:
        return ObjectStore(self.s3, self.prefix, **options)

    def _keys(self, under: str = "") -> list[str]:
        return sorted(
            meta["path"] for meta in obstore.list(self.s3, f"{self.prefix}/{under}").collect()
        )

    def names(self) -> set[str]:
        return {key.removeprefix(f"{self.prefix}/") for key in self._keys()}

    def snapshot(self, generation: int) -> bytes:
        return bytes(obstore.get(self.s3, f"{self.prefix}/{snapshot_name(generation)}").bytes())

    def put_snapshot(self, generation: int, data: bytes) -> None:
        obstore.put(self.s3, f"{self.prefix}/{snapshot_name(generation)}", data)

    def _journal(self, generation: int) -> str:
        return f"{generation:020d}.journal/"

    def records(self, generation: int) -> list[bytes]:
        keys = self._keys(self._journal(generation))
        return [bytes(obstore.get(self.s3, key).bytes()) for key in keys]

    def put_records(self, generation: int, records: list[bytes]) -> None:
        keys = self._keys(self._journal(generation))
        if keys:
            obstore.delete(self.s3, keys)
        for number, record in enumerate(records, 1):
            key = f"{self.prefix}/{self._journal(generation)}{number:020d}.delta"
            obstore.put(self.s3, key, record)
