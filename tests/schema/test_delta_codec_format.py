"""docs/FORMAT.md §12 leaves nothing to guess: its field table, op table and key table are the
decoder's, and its error paths are exactly the paths `decode_delta` reports."""

import re
from typing import Any

import msgpack
import pytest
from delta_support import BASE, TAKEN_AT, TARGET, field_of
from schema_support import FORMAT_MD, as_tuples, body_lists
from test_format_spec import FULL, documented_paths, pattern, poisoned, positions

from snapshot_schema import SnapshotDecodeError, decode_delta, render_path
from snapshot_schema.delta_decoder import ALLOWED_OPS
from snapshot_schema.delta_encoder import OP_PATCH, OP_REPLACE, OP_SPLICE
from snapshot_schema.delta_records import DELTA_FIELDS, FIELDS_BY_ID, FIELDS_BY_NAME, FieldKind

OPS = {"replace": OP_REPLACE, "patch": OP_PATCH, "splice": OP_SPLICE}


def delta_section(heading: str = "") -> str:
    """§12 (the last section of FORMAT.md), or its subsection `heading` (`"12.2"`)."""
    section = FORMAT_MD[FORMAT_MD.index("\n## 12. ") :]
    if not heading:
        return section
    start = section.index(f"\n### {heading} ")
    end = section.find("\n### ", start + 1)
    return section[start : end if end != -1 else None]


def test_the_field_table_is_the_decoders() -> None:
    """Id, name, path, kind and ops of every field, and no other row."""
    rows = re.findall(
        r"^\| (\d+) \| `(\w+)` \| `\$([\w.]+)` \| ([\w ]+) \| ([\w, ]+) \|$",
        delta_section("12.2"),
        re.M,
    )
    documented = [
        (int(field_id), name, tuple(path.split(".")[1:]), kind, ops)
        for field_id, name, path, kind, ops in rows
    ]
    expected = [
        (
            field.id,
            field.name,
            field.path,
            field.kind.value.replace("_", " "),
            ", ".join(op for op, code in OPS.items() if code in ALLOWED_OPS[field.kind]),
        )
        for field in DELTA_FIELDS
    ]
    assert documented == expected


def test_the_op_table_numbers_the_ops_as_the_decoder_does() -> None:
    rows = re.findall(r"^\| (\d) \| (\w+) \| ", delta_section("12.3"), re.M)
    assert {name: int(code) for code, name in rows} == OPS


def test_the_key_table_names_every_keyed_field_once() -> None:
    named = re.findall(
        r"`(\w+)`", " ".join(re.findall(r"^\| ([^|]+) \|", delta_section("12.4"), re.M))
    )
    keyed = {field.name for field in DELTA_FIELDS if field.kind is FieldKind.MAP}
    sets = {
        field.name
        for field in DELTA_FIELDS
        if field.kind in (FieldKind.SET, FieldKind.OPTIONAL_SET)
    }
    assert sorted(named) == sorted(keyed | sets)
    assert "every table" in delta_section("12.4")


# Error paths (§12.7): every path a decode error can carry.


def documented_delta_paths() -> list[str]:
    block = re.search(r"```text\n(\$.*?)```", delta_section("12.7"), re.S)
    assert block is not None
    return [line.split()[0] for line in block.group(1).splitlines()]


FULL_BODY = body_lists(FULL)


def plain(name: str) -> Any:
    return field_of(FULL_BODY, FIELDS_BY_NAME[name])


# A delta with every op, a patch of the key with the most parts (a `SiteExec`) and a field of
# each kind, whose values (from `FULL`) fill every field.
RICH_CHANGES = [
    [FIELDS_BY_NAME["frontier"].id, OP_SPLICE, [1, 1, plain("frontier")]],
    [FIELDS_BY_NAME["slot_table"].id, OP_PATCH, [[[0, 1]], plain("slot_table")]],
    *(
        [field.id, OP_REPLACE, plain(field.name)]
        for field in DELTA_FIELDS
        if field.name not in ("frontier", "slot_table")
    ),
]


def payload_path_is_documented(path: tuple[Any, ...], listed: set[str]) -> bool:
    """A path inside a payload continues as §7 continues past the field's own path."""
    _, index, _, *rest = path
    field_id, op, _ = RICH_CHANGES[index]
    inner = {OP_PATCH: "upserted", OP_SPLICE: "appended"}.get(op)
    if inner is not None:
        if not rest or rest[0] != inner:
            return False
        rest = rest[1:]
    return pattern(render_path((*FIELDS_BY_ID[field_id].path, *rest))) in listed


def test_every_error_path_is_listed_and_every_listed_path_occurs() -> None:
    body = as_tuples([2, BASE, TARGET, TAKEN_AT, RICH_CHANGES])
    head = {pattern(path) for path in documented_delta_paths()}
    snapshot_paths = {pattern(path) for path in documented_paths()}
    reported = set()
    for at in positions(body):
        with pytest.raises(SnapshotDecodeError) as caught:
            decode_delta(msgpack.packb([1, poisoned(body, at)]))
        path = caught.value.path
        rendered = pattern(render_path(path))
        reported.add(rendered)
        if rendered not in head:  # inside a field's value: as §7 goes on past the field
            assert path[2:3] == ("payload",), rendered
            assert payload_path_is_documented(path, snapshot_paths), rendered
    assert len(documented_delta_paths()) == len(head)
    assert head <= reported
