"""A delta's canonical bytes, the digests that name states, and `make_delta`.

A delta is `[delta_spec_version, [snapshot_spec_version, base, target, taken_at, changes]]`
as msgpack (docs/FORMAT.md, "Deltas"). Each change's payload is written by the snapshot
encoder's own function for that field (`FIELD_ENCODERS`), so it is laid out exactly as the
snapshot body lays the field out. `changes` is packed once and its bytes kept on the delta
(`SnapshotDelta.encoded_changes`): the target's digest hashes them, and writing the delta
reuses them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, cast

import msgpack

from snapshot_schema.checks import as_frozen_map
from snapshot_schema.delta_records import (
    FIELDS_BY_NAME,
    Change,
    Patch,
    Replace,
    SnapshotDelta,
    Splice,
    StateRef,
    VersionedSnapshot,
    checked_changes,
)
from snapshot_schema.encoder import FIELD_ENCODERS, encode, pack
from snapshot_schema.framework_records import ClockReading
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.gc_pause import gc_paused
from snapshot_schema.transient import TransientSnapshot

OP_REPLACE, OP_PATCH, OP_SPLICE = 0, 1, 2
"""A change's `op` on the wire."""

DELTA_DIGEST_DOMAIN = b"nodesnap/delta/v1\n"
"""What a delta's target digest hashes first, so it can never equal another kind of hash."""


def root_ref_of_encoded(encoded: bytes, generation: int = 0) -> StateRef:
    """The name of the full snapshot whose canonical bytes are `encoded` (sequence 0)."""
    return StateRef(generation, 0, hashlib.sha256(encoded).digest())


def root_ref(snapshot: TransientSnapshot, generation: int = 0) -> StateRef:
    """The name of `snapshot` as a full snapshot of `generation`: it encodes the snapshot, so
    give `root_ref_of_encoded` the bytes when you have them."""
    return root_ref_of_encoded(encode(snapshot), generation)


def root_state(snapshot: TransientSnapshot, generation: int = 0) -> VersionedSnapshot:
    """`snapshot` named as the full snapshot of `generation`: where a chain of deltas starts."""
    return VersionedSnapshot(root_ref(snapshot, generation), snapshot)


def _payload(name: str, change: Change) -> Any:  # noqa: ANN401 - msgpack-ready values
    encode_field = FIELD_ENCODERS[name]
    match change:
        case Replace():
            return encode_field(change.value)
        case Patch():
            return [change.removed, encode_field(change.upserted)]
        case Splice():
            return [change.drop_front, change.keep, encode_field(change.appended)]


_OPS = {Replace: OP_REPLACE, Patch: OP_PATCH, Splice: OP_SPLICE}


def _packed(changes: FrozenMap[str, Change]) -> bytes:
    fields = sorted((FIELDS_BY_NAME[name] for name in changes), key=lambda field: field.id)
    with gc_paused():  # rows of large tables are packed as they are held (see `encoder.py`)
        return pack(
            [
                [
                    field.id,
                    _OPS[type(changes[field.name])],
                    _payload(field.name, changes[field.name]),
                ]
                for field in fields
            ]
        )


def encode_changes(changes: Mapping[str, Change]) -> bytes:
    """The canonical bytes of a delta's `changes`: an array of `[field_id, op, payload]`, field
    ids ascending. The changes are checked first, as `SnapshotDelta` checks them
    (`SnapshotValueError`); `changes_bytes` packs a delta's own, checked already, once."""
    held = cast(FrozenMap[str, Change], as_frozen_map(changes))
    return _packed(checked_changes(held, ("changes",)))


def changes_bytes(delta: SnapshotDelta) -> bytes:
    """The canonical bytes of `delta.changes`, packed once and then kept on the delta."""
    encoded = delta.encoded_changes
    if encoded is None:
        encoded = _packed(delta.changes)
        object.__setattr__(delta, "encoded_changes", encoded)  # a cache: not part of the value
    return encoded


def _ref(ref: StateRef) -> list[Any]:
    return [ref.generation, ref.sequence, ref.digest]


def encode_delta(delta: SnapshotDelta) -> bytes:
    """The canonical bytes of `delta` (docs/FORMAT.md, "Deltas")."""
    if type(delta) is not SnapshotDelta:
        raise TypeError(f"encode_delta() takes a SnapshotDelta, not {type(delta).__name__}")
    taken_at = delta.taken_at
    packer = msgpack.Packer(use_bin_type=True)
    # The changes are already packed: the envelope around them is written piece by piece.
    return b"".join(
        (
            packer.pack_array_header(2),
            packer.pack(delta.spec_version),
            packer.pack_array_header(5),
            packer.pack(delta.snapshot_spec_version),
            packer.pack(_ref(delta.base)),
            packer.pack(_ref(delta.target)),
            packer.pack([taken_at.monotonic_ns, taken_at.wall_ns]),
            changes_bytes(delta),
        )
    )


def delta_digest(base: StateRef, taken_at: ClockReading, encoded_changes: bytes) -> bytes:
    """The digest of the state a single delta leads to: SHA-256 over a domain tag, the base's
    digest, the time the delta was taken and its encoded changes. A state's digest is thus a
    hash chain rooted in a full snapshot's canonical bytes."""
    digest = hashlib.sha256(DELTA_DIGEST_DOMAIN)
    digest.update(base.digest)
    digest.update(pack([taken_at.monotonic_ns, taken_at.wall_ns]))
    digest.update(encoded_changes)
    return digest.digest()


def make_delta(
    base: StateRef, taken_at: ClockReading, changes: Mapping[str, Change]
) -> SnapshotDelta:
    """The single delta from the state `base` made of `changes` (by field name), taken at
    `taken_at`: its target is `base`'s next sequence, named by `delta_digest`.

    Costs in proportion to the changes alone: a node that tracks what changed calls this
    rather than `diff`. Raises `SnapshotValueError` (with the path into the changes) for a
    change that does not fit its field.
    """
    # Built (so its changes are checked, and held as the snapshot holds each value) before
    # they are packed; its target names the packed bytes, so it is set once they exist. The
    # delta is not shared yet, and the target is a valid successor of the base by construction.
    delta = SnapshotDelta(
        base=base, target=_successor(base, bytes(32)), taken_at=taken_at, changes=changes
    )
    encoded = _packed(delta.changes)
    object.__setattr__(delta, "target", _successor(base, delta_digest(base, taken_at, encoded)))
    object.__setattr__(delta, "encoded_changes", encoded)
    return delta


def _successor(base: StateRef, digest: bytes) -> StateRef:
    return StateRef(base.generation, base.sequence + 1, digest)
