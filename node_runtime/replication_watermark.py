"""How far a store directory has been replicated: the watermark a `Replicator` keeps beside
the snapshots, `.replication.json`, and what local retention must keep because of it.

Per generation it records the snapshot's status (`pending`, `uploading`, `complete`) and how
many of its journal's records are complete, plus how many after those are being uploaded. An
item is marked `uploading` before its upload starts and `complete` after the object
store confirmed it, so a replicator killed at any moment knows exactly which items may or may
not have landed: those it checks for before it sends anything. `done` marks a generation whose
snapshot and whole journal are shipped and which will not grow again (a newer one exists).

The file is JSON, replaced atomically (see `save_watermark` on durability); one that does not
parse is set aside (`.replication.json.corrupt`) and replication resumes with every item
checked for, not resent.
"""

from __future__ import annotations

import json
import logging
import os
from enum import Enum
from pathlib import Path
from typing import Any

import attrs

from node_runtime.durable_io import write_atomically

LOG = logging.getLogger(__name__)

WATERMARK_NAME = ".replication.json"
FORMAT = 1


class Status(Enum):
    PENDING = "pending"
    UPLOADING = "uploading"
    COMPLETE = "complete"


@attrs.frozen
class GenerationMark:
    """One generation's progress."""

    snapshot: Status = Status.PENDING
    records: int = 0
    """Journal records complete, in order from the first."""
    uploading: int = 0
    """Records after the complete ones that may have been sent (`records + 1` onwards)."""
    done: bool = False


@attrs.frozen
class Watermark:
    """The target replicated to, and each generation's progress (absent: pending)."""

    target: str
    generations: dict[int, GenerationMark] = attrs.field(factory=dict)
    lost: frozenset[int] = frozenset()
    """Generations removed locally before they were shipped: given up on, never waited for."""

    def mark(self, generation: int) -> GenerationMark:
        return self.generations.get(generation, GenerationMark())

    def with_mark(self, generation: int, mark: GenerationMark) -> Watermark:
        return attrs.evolve(self, generations={**self.generations, generation: mark})

    def floor(self) -> int:
        """The oldest generation not yet done: local retention keeps it and everything newer
        (a generation the replicator has not seen yet is newer than every known one)."""
        open_ones = [
            generation
            for generation, mark in self.generations.items()
            if not mark.done and generation not in self.lost
        ]
        known = [*self.generations, *self.lost]
        return min(open_ones, default=max(known, default=-1) + 1)


def watermark_path(directory: Path) -> Path:
    return directory / WATERMARK_NAME


def _to_json(watermark: Watermark) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "target": watermark.target,
        "lost": sorted(watermark.lost),
        "generations": {
            str(generation): {
                "snapshot": mark.snapshot.value,
                "records": mark.records,
                "uploading": mark.uploading,
                "done": mark.done,
            }
            for generation, mark in sorted(watermark.generations.items())
        },
    }


def _from_json(parsed: object) -> Watermark:
    if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
        raise ValueError("not a format-1 replication watermark")
    value: dict[str, Any] = parsed
    generations = {}
    for key, mark in value["generations"].items():
        records, uploading = mark["records"], mark["uploading"]
        if not all(isinstance(count, int) and count >= 0 for count in (records, uploading)):
            raise ValueError(f"generation {key}: bad record counts")
        generations[int(key)] = GenerationMark(
            Status(mark["snapshot"]), records, uploading, bool(mark["done"])
        )
    lost = frozenset(int(generation) for generation in value["lost"])
    return Watermark(str(value["target"]), generations, lost)


class WatermarkCorruptError(ValueError):
    """The watermark did not parse."""


def load_watermark(directory: Path, *, set_aside: bool = True) -> Watermark | None:
    """The directory's watermark; `None` if there is none. One that does not parse raises
    `WatermarkCorruptError`, set aside first (`.replication.json.corrupt`, with a warning)
    unless `set_aside` is false: whoever replicates must then check for every item before
    sending it."""
    path = watermark_path(directory)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return _from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as error:
        if set_aside:
            aside = path.with_name(WATERMARK_NAME + ".corrupt")
            LOG.warning("%s does not parse (%s): set aside as %s", path, error, aside.name)
            os.replace(path, aside)
        raise WatermarkCorruptError(f"{path}: {error}") from None


def save_watermark(directory: Path, watermark: Watermark) -> None:
    """Replace the watermark atomically. Only its creation is fsynced (so that local retention
    never forgets a replica exists); updates are not: a process crash keeps them (the kernel
    has them), and a power cut that reverts or garbles one costs checks, never a skipped item
    (an item whose mark was lost is created only if absent, and an unreadable file makes every
    item be checked for). Syncing twice per batch would cost more than the uploads."""
    path = watermark_path(directory)
    text = json.dumps(_to_json(watermark), indent=1, sort_keys=True)
    write_atomically(path, text.encode(), durable=not path.exists())


def replication_floor(directory: Path) -> int | None:
    """The oldest generation replication still needs (local retention keeps it and newer
    ones); `None` without replication. A watermark that cannot be read protects everything
    (0): losing unshipped history is worse than keeping a little more."""
    try:
        watermark = load_watermark(directory, set_aside=False)
    except (OSError, ValueError):
        return 0
    return None if watermark is None else watermark.floor()
