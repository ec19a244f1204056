"""Which generations a store's retention limits keep, and removing the others' files.

A generation is its snapshot and its journal: counted together, removed together.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from node_runtime.store_files import journal_beside


def beyond_limits(
    candidates: Iterable[tuple[int, int]],
    protected: set[int],
    keep_last: int | None,
    max_bytes: int | None,
) -> set[int]:
    """Of `candidates` (generation and size, newest first), the generations the limits do not
    keep. The kept ones form an unbroken run of the newest; `protected` ones are kept in any
    case (and count towards the limits)."""
    kept_count = 0
    kept_bytes = 0
    full = False
    beyond: set[int] = set()
    for generation, size in candidates:
        if generation not in protected:
            full = full or (
                (keep_last is not None and kept_count >= keep_last)
                or (max_bytes is not None and kept_bytes + size > max_bytes)
            )
            if full:
                beyond.add(generation)
                continue
        kept_count += 1
        kept_bytes += size
    return beyond


def remove_generation(snapshot_path: Path) -> None:
    """Remove a generation's files: the journal first, so that a crash in between leaves a
    snapshot alone (an older state, still whole), never a journal without its snapshot."""
    journal_beside(snapshot_path).unlink(missing_ok=True)
    snapshot_path.unlink(missing_ok=True)
