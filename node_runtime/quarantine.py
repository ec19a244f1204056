"""`quarantine/`: where a store moves a generation whose snapshot fails verification."""

from __future__ import annotations

import os
import re
from pathlib import Path

from node_runtime.durable_io import fsync_directory
from node_runtime.store_files import journal_beside

QUARANTINE = "quarantine"
QUARANTINED_NAME = re.compile(r"^(\d{20})\.nsnap(?:\.\d+)?$")  # `.N` when set aside twice


def set_aside(directory: Path, path: Path, *, durable: bool) -> Path:
    """Move the snapshot at `path` and its journal, if any, into `directory/quarantine/`,
    never over an earlier one (`NAME.N`, its journal `NAME.journal.N`); where it went."""
    quarantine = directory / QUARANTINE
    quarantine.mkdir(mode=0o700, exist_ok=True)
    journal = journal_beside(path)
    target = quarantine / path.name
    counter = 0
    while os.path.lexists(target) or os.path.lexists(journal_beside(target)):
        counter += 1
        target = quarantine / f"{path.name}.{counter}"
    if os.path.lexists(journal):
        os.replace(journal, journal_beside(target))  # first: never a journal left alone
    os.replace(path, target)  # moves a link or a FIFO itself, never what it points to
    if durable:
        fsync_directory(quarantine)
        fsync_directory(directory)
    return target
