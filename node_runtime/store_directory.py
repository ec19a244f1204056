"""A store directory's safety on open: its mode, the writer lock, a crashed save's leftovers."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
from pathlib import Path

from node_runtime.durable_io import TEMPORARY_PREFIX
from node_runtime.storage_errors import InsecureStoreError, StoreLockedError

LOG = logging.getLogger("node_runtime.directory_store")  # what a store reports, in one place

LOCK_FILE = ".lock"
"""The writer lock's name in a store directory."""
_LOCK_OPEN = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def check_directory_mode(path: Path) -> None:
    """Refuse a store directory group or others may write (`InsecureStoreError`)."""
    # Whoever can write the directory can plant, swap or delete snapshots: refuse rather
    # than tighten, since the mode may be shared on purpose and is the owner's to change.
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InsecureStoreError(
            f"{path}: the store directory is writable by group or others "
            f"(mode {mode:04o}), who could plant or remove snapshots; run `chmod go-w` on it"
        )


def take_writer_lock(path: Path) -> int:
    """The descriptor of the store's `.lock`, flock-ed (held until it is closed) and holding
    this process's pid; `StoreLockedError` naming the holder when another writer has it."""
    lock_path = path / LOCK_FILE
    unsafe = InsecureStoreError(
        f"{lock_path}: not a regular file (a symbolic link is never followed); remove it"
    )
    try:
        descriptor = os.open(lock_path, _LOCK_OPEN, 0o600)
    except OSError as error:
        # ELOOP: a symbolic link; EISDIR: a directory; ENXIO: a socket.
        if error.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise unsafe from None
        raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise unsafe
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(descriptor)
        raise StoreLockedError(
            f"{path}: another writer (pid {holder}) holds this store; "
            "open it with read_only=True to inspect it"
        ) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    return descriptor


def remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files of saves that never completed (the caller holds the lock)."""
    for entry in path.iterdir():
        if entry.name.startswith(TEMPORARY_PREFIX):
            LOG.warning("removing %s, left by an interrupted save", entry)
            entry.unlink(missing_ok=True)
