"""What the delta codec tests share: deltas written by hand (independent of `encode_delta`) and
the place of each delta field in a snapshot body."""

from typing import Any

import attrs
import msgpack

from snapshot_schema import FrameworkSnapshot, PeerGovernorSnapshot, TransientSnapshot
from snapshot_schema.delta_records import DeltaField

BASE_DIGEST = bytes(range(32))
TARGET_DIGEST = bytes(range(32, 64))
BASE = [7, 3, BASE_DIGEST]
TARGET = [7, 4, TARGET_DIGEST]
TAKEN_AT = [11, 12]

_RECORDS = {
    (): TransientSnapshot,
    ("framework",): FrameworkSnapshot,
    ("framework", "peer_governor"): PeerGovernorSnapshot,
}


def body_indices(field: DeltaField) -> tuple[int, ...]:
    """The positions of `field` in a snapshot body: its path as array indices (§3's order is
    the records' field order)."""
    indices = []
    for depth, name in enumerate(field.path):
        names = [f.name for f in attrs.fields(_RECORDS[field.path[:depth]])]
        indices.append(names.index(name))
    return tuple(indices)


def field_of(body: Any, field: DeltaField) -> Any:
    """The plain value of `field` in a snapshot body."""
    for index in body_indices(field):
        body = body[index]
    return body


def with_field(body: list[Any], field: DeltaField, value: object) -> list[Any]:
    """`body` (lists, as `body_lists` gives) with `field` set to `value`, in place."""
    *outer, last = body_indices(field)
    container = body
    for index in outer:
        container = container[index]
    container[last] = value
    return body


def delta_bytes(
    changes: list[Any],
    *,
    version: object = 1,
    snapshot_version: object = 2,
    base: object = BASE,
    target: object = TARGET,
    taken_at: object = TAKEN_AT,
) -> bytes:
    """A delta written by hand: `[version, [snapshot_version, base, target, taken_at, changes]]`."""
    body = [snapshot_version, base, target, taken_at, changes]
    return msgpack.packb([version, body], use_bin_type=True)
