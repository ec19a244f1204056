"""The object-store calls `ObjectStore` makes, over `obstore`, with its failures as ours.

Keys are `/`-separated paths relative to the obstore store (which may itself carry a prefix).
Reads that fail raise `StoreReadError`, writes `StoreWriteError`: a network failure is never
taken for a damaged object. A missing object is `FileNotFoundError`, as for a file.

Objects are only ever created, never overwritten: `create` is a conditional PUT that fails if
the key exists. A PUT that times out may still land, and obstore retries it: an "already exists"
answer to our own retry is told from another writer's object by comparing the bytes.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator

import attrs
import obstore
from obstore.exceptions import AlreadyExistsError, BaseError
from obstore.store import ObjectStore as ObstoreStore

from node_runtime.storage_errors import StoreReadError, StoreWriteError, WriterConflictError

_FAILURES = (BaseError, OSError)  # obstore's own errors; connection errors and timeouts


@attrs.frozen
class ObjectEntry:
    """A listed object: its key and size in bytes."""

    key: str
    size: int


@attrs.frozen
class Listing:
    """One level of a listing: the objects directly under a prefix, and the prefixes below."""

    objects: builtins.list[ObjectEntry]
    prefixes: builtins.list[str]


def _read_error(what: str, error: Exception) -> StoreReadError:
    return StoreReadError(f"{what} failed: {_describe(error)}")


def _describe(error: Exception) -> str:
    return str(error).split("\n", 1)[0] or type(error).__name__


class ObjectIO:
    """`obstore` calls on one store, as `ObjectStore` needs them."""

    def __init__(self, store: ObstoreStore, where: str) -> None:
        self.store = store
        self.where = where  # how messages name the store

    def get(self, key: str, max_size: int) -> bytes:
        """The object's bytes; `ObjectTooLarge`, with the body unread, above `max_size`."""
        try:
            result = obstore.get(self.store, key)
        except FileNotFoundError:
            raise
        except _FAILURES as error:
            raise _read_error(f"{self.where}: reading {key}", error) from None
        size = result.meta["size"]
        if size > max_size:
            raise ObjectTooLarge(size)  # dropped unread: the connection is not reused
        try:
            return bytes(result.bytes())
        except _FAILURES as error:
            raise _read_error(f"{self.where}: reading {key}", error) from None

    def get_start(self, key: str, length: int) -> bytes:
        """Up to the first `length` bytes of the object."""
        try:
            size = obstore.head(self.store, key)["size"]
            if size == 0:
                return b""
            return bytes(obstore.get_range(self.store, key, start=0, end=min(length, size)))
        except FileNotFoundError:
            raise
        except _FAILURES as error:
            raise _read_error(f"{self.where}: reading {key}", error) from None

    def stat(self, key: str) -> tuple[int, str] | None:
        """The object's size and entity tag (quotes removed); `None` if there is none."""
        try:
            meta = obstore.head(self.store, key)
        except FileNotFoundError:
            return None
        except _FAILURES as error:
            raise _read_error(f"{self.where}: looking for {key}", error) from None
        return meta["size"], str(meta.get("e_tag") or "").strip('"')

    def create(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, which must not exist: `WriterConflictError` if another
        writer's object is there, `StoreWriteError` if the PUT failed (it may have landed)."""
        try:
            obstore.put(self.store, key, data, mode="create", use_multipart=False)
        except AlreadyExistsError:
            if not self._holds(key, data):
                raise WriterConflictError(
                    f"{self.where}: {key} was written by another writer"
                ) from None
        except _FAILURES as error:
            raise StoreWriteError(
                f"{self.where}: writing {key} failed: {_describe(error)}"
            ) from None

    def _holds(self, key: str, data: bytes) -> bool:
        """Whether `key` holds exactly `data` (our own PUT, retried after it landed)."""
        try:
            return bytes(obstore.get(self.store, key).bytes()) == data
        except _FAILURES as error:
            raise StoreWriteError(
                f"{self.where}: {key} exists, and reading it back failed: {_describe(error)}"
            ) from None

    def listing(self, prefix: str) -> Listing:
        """The objects directly under `prefix` and the prefixes one level below it."""
        try:
            result = obstore.list_with_delimiter(self.store, prefix or None)
        except _FAILURES as error:
            raise _read_error(f"{self.where}: listing {prefix or '/'}", error) from None
        objects = [ObjectEntry(meta["path"], meta["size"]) for meta in result["objects"]]
        return Listing(objects, builtins.list(result["common_prefixes"]))

    def walk(self, prefix: str) -> Iterator[ObjectEntry]:
        """Every object under `prefix`, at any depth, in key order."""
        try:
            for chunk in obstore.list(self.store, prefix or None, chunk_size=1000):
                for meta in chunk:
                    yield ObjectEntry(meta["path"], meta["size"])
        except _FAILURES as error:
            raise _read_error(f"{self.where}: listing {prefix or '/'}", error) from None

    def move(self, source: str, target: str) -> None:
        """Copy `source` to `target`, then delete `source`. (S3 has no conditional copy: the
        caller picks a `target` no object holds.)"""
        try:
            obstore.copy(self.store, source, target)
            obstore.delete(self.store, source)
        except _FAILURES as error:
            raise StoreWriteError(
                f"{self.where}: moving {source} to {target} failed: {_describe(error)}"
            ) from None

    def delete(self, keys: builtins.list[str]) -> None:
        if not keys:
            return
        try:
            obstore.delete(self.store, keys)
        except _FAILURES as error:
            raise StoreWriteError(
                f"{self.where}: deleting {keys[0]}… failed: {_describe(error)}"
            ) from None


class ObjectTooLarge(Exception):
    """An object larger than the caller's bound; its body was not read."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(size)
