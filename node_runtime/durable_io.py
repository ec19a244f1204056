"""Atomic, durable file writes: a reader sees the old file or the new one, never a part of one.

The sequence: a new temporary file in the target's directory (created with its final mode, never
briefly wider), every byte written and fsync-ed, renamed over the target, then the directory
fsync-ed so the rename itself survives a power loss. On any failure the temporary file is removed
and the error propagates; the target is untouched.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TEMPORARY_PREFIX = ".tmp-"
"""Temporary files start with this: a writer that finds one left by a crash may remove it."""


def fsync_directory(directory: Path) -> None:
    """Make the directory's entries (a rename, a new or removed file) durable."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_all(descriptor: int, data: bytes | memoryview) -> None:
    """Write every byte of `data` (`os.write` may write fewer than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def write_atomically(target: Path, data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Replace `target` with `data` atomically; with `durable`, also survive a power loss."""
    temporary = target.with_name(f"{TEMPORARY_PREFIX}{target.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            write_all(descriptor, data)
            if durable:
                os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_directory(target.parent)
