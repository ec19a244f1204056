"""The exceptions sealed snapshot files and snapshot stores raise, one class per refusal.

Two families matter to a store scanning for the newest usable snapshot:
- `DamagedFileError`: the bytes are not what a writer completed (torn, truncated, flipped bits,
  not a sealed file at all). Such a file is moved aside and the next newest is tried.
- `UntrustedFileError`: the bytes are intact but cannot be trusted (a signature that is missing,
  invalid or by another peer; ciphertext that fails authentication). Also moved aside.
A third, `SnapshotTooLargeError`, is about this reader's size limit: the file may be fine for a
reader with a larger one, so a store skips it with a warning and leaves it in place.
Everything else (a container or spec version this build does not know, a missing or wrong key)
says the reader, not the file, is the problem: it is raised and the file is left where it is.
"""

from __future__ import annotations

from snapshot_schema.delta_records import FullSnapshotNeeded
from snapshot_schema.errors import SnapshotError


class SealedFileError(SnapshotError):
    """Base class of every refusal to read a sealed snapshot file."""


class DamagedFileError(SealedFileError):
    """The file is not intact: never use it."""


class NotSealedFileError(DamagedFileError):
    """The bytes do not start with the sealed-file magic."""


class TruncatedFileError(DamagedFileError):
    """The file is shorter than its header says: a torn or interrupted write."""


class CorruptFileError(DamagedFileError):
    """The integrity check failed, a header field is malformed, or bytes trail the file."""


class DecompressionError(DamagedFileError):
    """The compressed body does not inflate to exactly the length the header states."""


class HeaderMismatchError(DamagedFileError):
    """The header disagrees with the snapshot inside (spec version, PeerId, length)."""


class ContentKindError(DamagedFileError):
    """An intact sealed file of the other kind: a journal's delta record where a snapshot was
    expected (under a snapshot's name), or a snapshot inside a journal."""


class JournalFramingError(CorruptFileError):
    """A journal record's header cannot be one of that journal's (wrong magic, flags,
    generation or PeerId, or lengths that do not fit together): reading stops before it."""


class NotRegularFileError(DamagedFileError):
    """Under a snapshot's name is a directory, FIFO, socket, device or symbolic link: never
    followed, never read."""


class UntrustedFileError(SealedFileError):
    """The file is intact but its origin or content cannot be verified: never use it."""


class SignatureMissingError(UntrustedFileError):
    """A signature was demanded and the file carries none."""


class SignatureInvalidError(UntrustedFileError):
    """The signature does not verify under the key of the PeerId in the header."""


class SignerMismatchError(UntrustedFileError):
    """The file was sealed by another node than the one expected."""


class DecryptionError(UntrustedFileError):
    """Authenticated decryption failed: the ciphertext or header was altered."""


class EncryptionMissingError(UntrustedFileError):
    """Encryption was demanded (a store given an `encryption_key`) and the file is in plain
    text: anyone who can write the directory could have made it."""


class SnapshotTooLargeError(SealedFileError):
    """The file holds, or could only hold, a snapshot above this reader's `max_snapshot_size`.
    Refused before the body is read; a reader with a larger limit may read it."""


class UnsupportedContainerError(SealedFileError):
    """A container version or flag this build does not know (written by a newer build)."""

    def __init__(self, found: int, supported: int, detail: str = "") -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            detail or f"sealed-file container version {found}; this build reads version {supported}"
        )

    def __reduce__(self) -> tuple[type[UnsupportedContainerError], tuple[int, int, str]]:
        return (type(self), (self.found, self.supported, str(self)))


class EncryptionKeyError(SealedFileError):
    """The file is encrypted and no key, or a key other than the one it was sealed with, was
    given. The file may be fine: supply the right key."""


class StoreError(SnapshotError):
    """Base class of snapshot-store failures that are not about one file's content."""


class StoreLockedError(StoreError):
    """Another writer holds the store: two writers would interleave generations."""


class InsecureStoreError(StoreError):
    """The store directory is writable by group or others, or its lock file is a symbolic link
    or not a regular file: someone else could plant, swap or remove snapshots."""


class StoreFullError(StoreError):
    """No generation number is left above the newest snapshot that verifies (sealed files hold
    64-bit generations). Stray files never cause it: only a snapshot that verifies does."""


class StoreWriteError(StoreError):
    """Saving failed (disk full, I/O error, …). The previous snapshots are intact and no partial
    file is left behind; `errno` is the operating system's error number when there is one."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        self.errno = errno
        super().__init__(message)

    def __reduce__(self) -> tuple[type[StoreWriteError], tuple[str, int | None]]:
        return (type(self), (str(self), self.errno))


class WriterConflictError(StoreWriteError):
    """Another writer saved under a name this store was about to create (an object store has
    no lock: each generation and journal record is created only if absent). Two writers of one
    node never both win; the store that lost refuses every later save and append, and the node
    must stop writing or be restarted against the store as the other writer left it."""


class StoreReadError(StoreError):
    """The store could not be read (the object store was unreachable, timed out, refused the
    credentials or answered with a server error). Nothing was judged or set aside: what could
    not be read is not taken for damage."""


class AutosaveError(StoreError):
    """A save failed with an error that is neither a store error nor an `OSError` (a bug in a
    store, a value the encoder refuses): the original exception is its `__cause__`."""


class SnapshotNotFoundError(StoreError, LookupError):
    """The store holds no snapshot with the generation asked for."""


class JournalBaseMismatchError(StoreError, FullSnapshotNeeded):
    """`append` refused a delta that does not follow the journal's tip: its base is another
    state, no generation was saved by this store instance yet, or appends to the generation
    stopped after a failed append could not be undone. Save a full snapshot instead."""


class JournalFullError(StoreError, FullSnapshotNeeded):
    """`append` refused a delta that would take the journal past `journal_max_deltas` or
    `journal_max_bytes`. Save a full snapshot (a new generation) instead."""
