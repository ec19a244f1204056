"""What the schema tests share: docs/FORMAT.md's text, and bodies in the shapes decode sees."""

from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import msgpack

from snapshot_schema import SnapshotDecodeError, TransientSnapshot, structure_builder
from snapshot_schema.body_builder import build_snapshot
from snapshot_schema.encoder import encode_body

FORMAT_MD = (Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md").read_text(encoding="utf-8")


def format_section(number: int) -> str:
    """The text of FORMAT.md's section `number`, from its heading to the next one."""
    start = FORMAT_MD.index(f"\n## {number}. ")
    return FORMAT_MD[start : FORMAT_MD.index("\n## ", start + 1)]


def as_tuples(value: object) -> object:
    """Every list in `value` as a tuple: what msgpack decodes arrays to, and the plain layout
    `build_framework` takes."""
    if isinstance(value, list | tuple):
        return tuple(as_tuples(item) for item in value)
    return value


def body_lists(snapshot: TransientSnapshot) -> list[Any]:
    """`snapshot`'s body as msgpack decodes it with lists: plain values, ready to mutate."""
    body: list[Any] = msgpack.unpackb(msgpack.packb(encode_body(snapshot)))
    return body


def outcome(body: object, build: Callable[[Any], object] = build_snapshot) -> tuple[str, object]:
    """What `build` makes of `body`: `("built", value)` or `("refused", (path, reason))`."""
    try:
        built = build(body)
    except SnapshotDecodeError as error:
        return "refused", (error.path, error.reason)
    return "built", built


def walked_outcome(
    body: object, build: Callable[[Any], object] = build_snapshot
) -> tuple[str, object]:
    """`outcome` with every column test skipped: each structure walked value by value through
    the record constructors (`body_walk.py`)."""
    with mock.patch.object(structure_builder, "attempt", return_value=None):
        return outcome(body, build)
