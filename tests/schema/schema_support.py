"""What the schema tests share: docs/FORMAT.md's text, and bodies in the shapes decode sees."""

from pathlib import Path
from typing import Any

import msgpack

from snapshot_schema import TransientSnapshot
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
