"""Records of a delta: what changed between two snapshots, and which states it joins.

A state is named by a `StateRef`: the generation it belongs to, its sequence in that
generation's chain (0 for a full snapshot) and a digest. A full snapshot's digest is the
SHA-256 of its canonical bytes; the state a delta leads to is named by the delta (see
`delta_digest`), so a chain of deltas is checked link by link without re-encoding any state.

A `SnapshotDelta` holds at most one change per field (`DELTA_FIELDS`): a `Replace` (any field),
a `Patch` (keyed fields: maps, sets, peer tables) or a `Splice` (sequences).
"""

from __future__ import annotations

import enum
from typing import Any, cast

import attrs

from snapshot_schema.checks import (
    Path,
    as_frozen_map,
    as_tuple,
    check_instance,
    check_tuple,
    check_u32,
    check_u64,
)
from snapshot_schema.column_checks import column
from snapshot_schema.delta_values import held_value, key_check
from snapshot_schema.errors import SnapshotError, SnapshotValueError
from snapshot_schema.framework_records import ClockReading
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.reprs import bytes_repr
from snapshot_schema.transient import TransientSnapshot
from snapshot_schema.version import CURRENT_SNAPSHOT_SPEC_VERSION

DELTA_SPEC_VERSION = 1
"""The delta spec version this build writes and applies (docs/FORMAT.md, "Deltas")."""

DIGEST_BYTES = 32


class FullSnapshotNeeded(SnapshotError):
    """A delta that cannot be applied here: the caller needs a full snapshot instead."""


class DeltaBaseMismatchError(FullSnapshotNeeded):
    """The delta was made from another state than the one it is applied to (or merged after)."""


class DeltaApplyError(FullSnapshotNeeded, SnapshotValueError):
    """The delta names this base but does not fit it (a splice past the end, a patch of a
    table that is not sorted by peer); `path` locates the field."""


class FieldKind(enum.Enum):
    """How a field may change in a delta."""

    VALUE = "value"
    """Replaced whole."""
    SEQUENCE = "sequence"
    """Replaced, or spliced: the target keeps a run of the base and appends after it."""
    MAP = "map"
    """Replaced, or patched by key (`FrozenMap`)."""
    SET = "set"
    """Replaced, or patched by member (`frozenset`)."""
    OPTIONAL_SET = "optional_set"
    """Replaced (by a set or `None`), or patched when both sides are sets."""
    TABLE = "table"
    """Replaced, or patched by peer (`RecordTable` keyed by `peer_id`, sorted by it)."""


@attrs.frozen(weakref_slot=False)
class DeltaField:
    """A field a delta can change: its id on the wire, its path in `TransientSnapshot`, kind."""

    id: int
    path: tuple[str, ...]
    kind: FieldKind

    @property
    def name(self) -> str:
        """The field's last path element (`"address_book"`): how `SnapshotDelta.changes` keys it."""
        return self.path[-1]


_F = ("framework",)
_G = ("framework", "peer_governor")

DELTA_FIELDS: tuple[DeltaField, ...] = (
    DeltaField(1, ("frontier",), FieldKind.SEQUENCE),
    DeltaField(2, ("slot_table",), FieldKind.MAP),
    DeltaField(3, ("pending_async",), FieldKind.MAP),
    DeltaField(4, ("execution_state",), FieldKind.MAP),
    DeltaField(5, (*_F, "counters"), FieldKind.MAP),
    DeltaField(6, (*_F, "fired_phases"), FieldKind.SEQUENCE),
    DeltaField(7, (*_F, "address_book"), FieldKind.TABLE),
    DeltaField(8, (*_G, "blocklist"), FieldKind.SET),
    DeltaField(9, (*_G, "allowlist"), FieldKind.OPTIONAL_SET),
    DeltaField(10, (*_G, "health"), FieldKind.TABLE),
    DeltaField(11, (*_G, "failure_threshold"), FieldKind.VALUE),
    DeltaField(12, (*_G, "ip_allow"), FieldKind.VALUE),
    DeltaField(13, (*_G, "ip_deny"), FieldKind.VALUE),
    DeltaField(14, (*_F, "backoff_table"), FieldKind.TABLE),
    DeltaField(15, (*_F, "pending_outbound"), FieldKind.SEQUENCE),
    DeltaField(16, (*_F, "peer_id_bytes"), FieldKind.VALUE),
    DeltaField(17, (*_F, "next_command_id"), FieldKind.VALUE),
    DeltaField(18, (*_F, "next_exec_id"), FieldKind.VALUE),
    DeltaField(19, (*_F, "peer_records"), FieldKind.TABLE),
    DeltaField(20, (*_F, "extensions"), FieldKind.MAP),
    DeltaField(21, ("bus",), FieldKind.VALUE),
    DeltaField(22, ("ingress",), FieldKind.SEQUENCE),
    DeltaField(23, ("wire_states",), FieldKind.MAP),
    DeltaField(24, ("pending_completions",), FieldKind.SEQUENCE),
)
"""Every field of `TransientSnapshot` but `taken_at` (which every delta carries), in wire order."""

FIELDS_BY_NAME: FrozenMap[str, DeltaField] = FrozenMap((f.name, f) for f in DELTA_FIELDS)
FIELDS_BY_ID: FrozenMap[int, DeltaField] = FrozenMap((f.id, f) for f in DELTA_FIELDS)


def _check_digest(value: object, path: Path) -> None:
    if type(value) is not bytes or len(value) != DIGEST_BYTES:
        raise SnapshotValueError(f"expected a {DIGEST_BYTES}-byte digest", path)


@attrs.frozen(weakref_slot=False)
class StateRef:
    """Which state: its generation, its sequence in the generation's chain, and its digest."""

    generation: int
    sequence: int
    digest: bytes = attrs.field(repr=bytes_repr)

    def __attrs_post_init__(self) -> None:
        check_u64(self.generation, ("generation",))
        check_u64(self.sequence, ("sequence",))
        _check_digest(self.digest, ("digest",))

    def __str__(self) -> str:
        """`generation 3, sequence 2, digest 0a1b2c3d4e5f6071…`: how errors name a state."""
        digest = self.digest.hex()[:16]
        return f"generation {self.generation}, sequence {self.sequence}, digest {digest}…"


@attrs.frozen(weakref_slot=False)
class Replace:
    """The field's new value, exactly as `TransientSnapshot` holds it."""

    value: Any


@attrs.frozen(weakref_slot=False)
class Patch:
    """Entries removed (by key, ascending) and entries added or replaced.

    `upserted` is held as the field holds its entries: a `FrozenMap` (maps), a `frozenset`
    (sets), a `RecordTable` sorted by peer (tables). Removing a key the base lacks is no change,
    so patches compose; a key is never both removed and upserted.
    """

    removed: tuple[Any, ...]
    upserted: Any


@attrs.frozen(weakref_slot=False)
class Splice:
    """The target is `base[drop_front : drop_front + keep]` followed by `appended` (a queue
    that sent from its front and queued at its back)."""

    drop_front: int
    keep: int
    appended: Any

    def __attrs_post_init__(self) -> None:
        check_u64(self.drop_front, ("drop_front",))
        check_u64(self.keep, ("keep",))


Change = Replace | Patch | Splice

_ALLOWED: dict[FieldKind, tuple[type[Any], ...]] = {
    FieldKind.VALUE: (Replace,),
    FieldKind.SEQUENCE: (Replace, Splice),
    FieldKind.MAP: (Replace, Patch),
    FieldKind.SET: (Replace, Patch),
    FieldKind.OPTIONAL_SET: (Replace, Patch),
    FieldKind.TABLE: (Replace, Patch),
}


def _first_out_of_order(keys: tuple[Any, ...]) -> int | None:
    return next((i for i in range(1, len(keys)) if not keys[i - 1] < keys[i]), None)


def _upserted_keys(field: DeltaField, upserted: Any) -> Any:  # noqa: ANN401 - keys of any kind
    """The keys a patch's `upserted` holds: a map's keys, a set's members, a table's peers."""
    if field.kind is FieldKind.TABLE:
        return frozenset(column(upserted.rows, 0))
    return upserted.keys() if field.kind is FieldKind.MAP else upserted


def _checked_patch(field: DeltaField, patch: Patch, path: Path) -> Patch:
    upserted = held_value(field.path, patch.upserted, (*path, "upserted"))
    if upserted is None:  # an allowlist patch adds members: only a replacement drops the list
        raise SnapshotValueError("a patch's upserted members are a set", (*path, "upserted"))
    if field.kind is FieldKind.TABLE:
        index = _first_out_of_order(column(upserted.rows, 0))
        if index is not None:
            raise SnapshotValueError(
                "a patch's rows must be in ascending peer order",
                (*path, "upserted", index, "peer_id"),
            )
    removed = cast(tuple[Any, ...], as_tuple(patch.removed))
    check_tuple(removed, key_check(field.name), (*path, "removed"))
    index = _first_out_of_order(removed)
    if index is not None:
        raise SnapshotValueError(
            "removed keys must be unique and in ascending order", (*path, "removed", index)
        )
    if removed:
        upserted_keys = _upserted_keys(field, upserted)
        for index, key in enumerate(removed):
            if key in upserted_keys:
                raise SnapshotValueError(
                    "a key is never both removed and upserted", (*path, "removed", index)
                )
    return Patch(removed, upserted)


def _checked_change(field: DeltaField, change: Change, path: Path) -> Change:
    """`change` with its values as the snapshot holds them, each checked as the field is."""
    if type(change) not in _ALLOWED[field.kind]:
        raise SnapshotValueError(
            f"a {field.kind.value} field cannot take a `{type(change).__name__}`", path
        )
    match change:
        case Replace():
            return Replace(held_value(field.path, change.value, (*path, "value")))
        case Splice():
            appended = held_value(field.path, change.appended, (*path, "appended"))
            return Splice(change.drop_front, change.keep, appended)
        case Patch():
            return _checked_patch(field, change, path)


def checked_changes(changes: FrozenMap[str, Change], path: Path) -> FrozenMap[str, Change]:
    """`changes` with each change checked, and its values held, as `SnapshotDelta` holds them;
    `SnapshotValueError` located under `path` for the first that does not fit its field."""
    if type(changes) is not FrozenMap:
        raise SnapshotValueError(f"expected `FrozenMap`, got `{type(changes).__name__}`", path)
    checked: dict[str, Change] = {}
    for name, change in changes.items():
        field = FIELDS_BY_NAME.get(name) if type(name) is str else None
        if field is None:
            raise SnapshotValueError(f"expected a delta field name, got {name!r}", path)
        checked[name] = _checked_change(field, change, (*path, name))
    return FrozenMap(checked)


@attrs.frozen(kw_only=True, weakref_slot=False)
class SnapshotDelta:
    """The changes that turn the state `base` into the state `target`, taken at `taken_at`.

    `changes` maps a field's name (`DeltaField.name`) to its change; a field left out is the
    same in both. Each change is checked with the snapshot's own rules for its field and held
    as the snapshot holds that field (`SnapshotValueError`, with the path, for one that does
    not fit), so any delta that exists can be encoded and applied to a base it fits.

    Make one with `diff`, or `make_delta` from changes already known; combine two with
    `merge`; use one with `apply`.
    """

    base: StateRef
    target: StateRef
    taken_at: ClockReading
    changes: FrozenMap[str, Change] = attrs.field(factory=FrozenMap, converter=as_frozen_map)
    snapshot_spec_version: int = CURRENT_SNAPSHOT_SPEC_VERSION
    spec_version: int = DELTA_SPEC_VERSION
    encoded_changes: bytes | None = attrs.field(init=False, default=None, eq=False, repr=False)
    """The canonical bytes of `changes`, once computed (by `make_delta` or the encoder), so a
    delta's changes are packed once however often it is named and written."""

    def __attrs_post_init__(self) -> None:
        check_instance(self.base, StateRef, ("base",))
        check_instance(self.target, StateRef, ("target",))
        check_instance(self.taken_at, ClockReading, ("taken_at",))
        if self.target.generation != self.base.generation:
            raise SnapshotValueError("a delta stays within one generation", ("target",))
        if self.target.sequence <= self.base.sequence:
            raise SnapshotValueError(
                f"the target's sequence ({self.target.sequence}) must follow the base's "
                f"({self.base.sequence})",
                ("target", "sequence"),
            )
        object.__setattr__(self, "changes", checked_changes(self.changes, ("changes",)))
        check_u32(self.snapshot_spec_version, ("snapshot_spec_version",))
        if self.spec_version != DELTA_SPEC_VERSION:
            raise SnapshotValueError(
                f"expected delta spec version {DELTA_SPEC_VERSION}, got {self.spec_version!r}",
                ("spec_version",),
            )
        if self.snapshot_spec_version != CURRENT_SNAPSHOT_SPEC_VERSION:
            raise SnapshotValueError(
                f"expected snapshot spec version {CURRENT_SNAPSHOT_SPEC_VERSION}, "
                f"got {self.snapshot_spec_version!r}",
                ("snapshot_spec_version",),
            )

    @property
    def steps(self) -> int:
        """How many single deltas this one stands for (more than one once merged)."""
        return self.target.sequence - self.base.sequence


@attrs.frozen(weakref_slot=False)
class VersionedSnapshot:
    """A snapshot and the name of its state, so deltas chain without re-encoding it.

    `apply` to a `VersionedSnapshot` checks the delta's base against `ref` alone and gives the
    target as a `VersionedSnapshot` named `delta.target`. Build the first with `root_state`.
    """

    ref: StateRef
    snapshot: TransientSnapshot

    def __attrs_post_init__(self) -> None:
        check_instance(self.ref, StateRef, ("ref",))
        check_instance(self.snapshot, TransientSnapshot, ("snapshot",))
