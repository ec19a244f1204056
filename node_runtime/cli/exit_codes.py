"""Exit codes, and how every refusal the library raises becomes one line for the operator.

A script tells failures apart by the exit code alone; a person reads one line saying what is
wrong and what to do about it. Nothing else reaches the terminal: no traceback, ever.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

from node_runtime.component_errors import RestoreValueError
from node_runtime.errors import IdentityKeyError, PeerIdMismatchError
from node_runtime.storage_errors import (
    DamagedFileError,
    EncryptionKeyError,
    InsecureStoreError,
    SignerMismatchError,
    SnapshotTooLargeError,
    StoreError,
    StoreLockedError,
    StoreReadError,
    StoreWriteError,
    UnsupportedContainerError,
    UntrustedFileError,
    WriterConflictError,
)
from snapshot_schema import IncompatibleSnapshotVersion, SnapshotDecodeError, SnapshotError


class ExitCode(enum.IntEnum):
    """What the process exit status means (also in `nodesnap --help` and docs/cli.md). The
    names are the labels `validate` and `store verify` print for each file."""

    OK = 0
    USAGE = 1
    """Bad command line, or an output that exists and was not to be replaced."""
    UNREADABLE = 2
    """A file or directory is missing, unreadable or unwritable; an object store could not be
    read or written."""
    DAMAGED = 3
    """Not an intact snapshot: torn, truncated, altered, or not a snapshot at all."""
    UNTRUSTED = 4
    """Intact but not trustworthy: signature missing, invalid or by another node; decryption
    failed."""
    UNSUPPORTED = 5
    """A container or spec version this build cannot read or write."""
    KEY = 6
    """Missing or wrong encryption key, unusable identity key, identity of another node."""
    LOCKED = 7
    """Another process writes the store; another writer's objects under a node's prefix."""
    TOO_LARGE = 8
    """A snapshot above the size limit (`--max-size`): maybe fine for a reader with a larger
    one."""


INTERRUPTED = 128 + 2
"""The exit status after Ctrl-C, as a shell reports a process killed by SIGINT."""

# Most severe first, for commands that check many files and exit once. Problems with a file
# (possibly an attack, then an accident) rank above problems with the reader (a key or a build
# the operator can supply).
_SEVERITY = (
    ExitCode.UNTRUSTED,
    ExitCode.DAMAGED,
    ExitCode.UNREADABLE,
    ExitCode.KEY,
    ExitCode.UNSUPPORTED,
    ExitCode.TOO_LARGE,
    ExitCode.LOCKED,
    ExitCode.USAGE,
    ExitCode.OK,
)

EPILOG = """\
exit codes:
  0  success
  1  usage error (bad arguments; an output exists and --force was not given); a demo check failed
  2  a file or directory is missing, unreadable, unwritable or not a regular file; an object
     store could not be read or written (unreachable, timed out, refused)
  3  damaged: torn, truncated, altered, or not a snapshot
  4  untrusted: signature missing, invalid or by another node; decryption failed; a store
     others may write
  5  unsupported: a container or spec version this build cannot read or write
  6  key problem: missing or wrong --key-file, bad --identity, identity of another node
  7  the store is locked by another writer; another writer wrote under the object store prefix
  8  too large: a snapshot above the size limit (--max-size)
commands that check several files exit with the most severe code: 4, 3, 2, 6, 5, 8.
"""


def most_severe(codes: list[ExitCode]) -> ExitCode:
    """The code a multi-file command exits with (`OK` for none)."""
    return min(codes, key=_SEVERITY.index, default=ExitCode.OK)


class CliError(Exception):
    """A refusal to report as `nodesnap: error: <what> — <what to do>` and exit `code`."""

    def __init__(self, code: ExitCode, what: str, todo: str) -> None:
        self.code = code
        self.what = what
        self.todo = todo
        super().__init__(f"{what} — {todo}")


def classify(error: SnapshotError | OSError) -> tuple[ExitCode, str]:
    """The exit code for `error` and what the operator should do about it."""
    # Subclasses before their bases: `SignerMismatchError` is an `UntrustedFileError`, and
    # `SnapshotDecodeError` a plain `SnapshotError`.
    if isinstance(error, OSError):
        return ExitCode.UNREADABLE, "check the path and its permissions"
    if isinstance(error, StoreError):
        return _classify_store_error(error)
    if isinstance(error, SnapshotTooLargeError):
        return ExitCode.TOO_LARGE, "if you trust the file, raise --max-size above its size"
    if isinstance(error, DamagedFileError | SnapshotDecodeError | RestoreValueError):
        return ExitCode.DAMAGED, "do not use this file: take another generation or a backup"
    if isinstance(error, SignerMismatchError):
        return ExitCode.UNTRUSTED, "check --peer, or where the file came from"
    if isinstance(error, UntrustedFileError):
        return ExitCode.UNTRUSTED, "do not use this file: check where it came from"
    if isinstance(error, UnsupportedContainerError | IncompatibleSnapshotVersion):
        return ExitCode.UNSUPPORTED, "read it with a nodesnap build that supports that version"
    if isinstance(error, EncryptionKeyError):
        return ExitCode.KEY, "pass the --key-file the file was sealed with"
    if isinstance(error, IdentityKeyError):
        return ExitCode.KEY, "pass an identity key file written by `nodesnap keygen`"
    if isinstance(error, PeerIdMismatchError):
        return ExitCode.KEY, "pass the --identity of the node that took the snapshot"
    return ExitCode.DAMAGED, "do not use this file"


def _classify_store_error(error: StoreError) -> tuple[ExitCode, str]:
    """`classify` for a store's failure, which is about no one file's content."""
    if isinstance(error, StoreLockedError):
        return ExitCode.LOCKED, "another process writes this store: stop it or retry later"
    if isinstance(error, InsecureStoreError):
        return ExitCode.UNTRUSTED, "check that no one else changed the store, then fix that"
    if isinstance(error, WriterConflictError):
        return ExitCode.LOCKED, "another writer writes under that prefix: give each node its own"
    if isinstance(error, StoreReadError):
        return ExitCode.UNREADABLE, (
            "check the URL, the connection settings (AWS_ENDPOINT_URL, credentials) and that "
            "the server is reachable, then retry"
        )
    if isinstance(error, StoreWriteError):
        return ExitCode.UNREADABLE, "check that the store can be written to, then retry"
    return ExitCode.UNREADABLE, "check the store's path"


def naming(path: str | os.PathLike[str], reason: str) -> str:
    """`reason` naming `path` once: the library's errors about a file often name it already."""
    text = os.fspath(path)
    for named in {text, os.fspath(Path(text))}:  # as given, and as the library spells it
        if reason.startswith((f"{named}: ", f"{named} is ")):
            return reason
    return f"{text}: {reason}"


def file_error(path: str, error: SnapshotError | OSError) -> CliError:
    """`error`, raised while reading or writing `path`, as a `CliError` that names the path."""
    code, todo = classify(error)
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return CliError(code, naming(path, reason), todo)
