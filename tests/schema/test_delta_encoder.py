"""A delta's canonical bytes, the digests naming states, and `make_delta`'s checks."""

import hashlib
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings

from snapshot_schema import (
    DELTA_FIELDS,
    AddressBookEntrySnapshot,
    ClockReading,
    FrameworkSnapshot,
    Patch,
    PendingOutboundEntry,
    Replace,
    SnapshotDelta,
    SnapshotValueError,
    Splice,
    StateRef,
    TransientSnapshot,
    delta_digest,
    encode,
    encode_changes,
    encode_delta,
    make_delta,
    root_ref,
    root_ref_of_encoded,
    root_state,
)
from snapshot_schema.delta_encoder import OP_PATCH, OP_REPLACE, OP_SPLICE
from snapshot_schema.delta_records import Change
from snapshot_schema.encoder import FIELD_ENCODERS, encode_body
from snapshot_schema.strategies import transient_snapshots

PEER_A = bytes.fromhex("1220") + bytes(32)
PEER_B = bytes.fromhex("1220") + bytes(31) + b"\x01"
PEER_C = bytes.fromhex("1220") + bytes(31) + b"\x02"
BASE = StateRef(7, 3, bytes(range(32)))
TAKEN_AT = ClockReading(monotonic_ns=5_000, wall_ns=1_700_000_000_000_000_000)


def _snapshot() -> TransientSnapshot:
    return TransientSnapshot(taken_at=TAKEN_AT, framework=FrameworkSnapshot(peer_id_bytes=PEER_A))


def _body_value(body: list[Any], path: tuple[str, ...]) -> object:
    """The value at a field's place in `encode_body`'s layout (fields in declared order)."""
    transient = [
        "frontier",
        "slot_table",
        "pending_async",
        "execution_state",
        "framework",
        "bus",
        "ingress",
        "wire_states",
        "pending_completions",
    ]
    framework = [
        "counters",
        "fired_phases",
        "address_book",
        "peer_governor",
        "backoff_table",
        "pending_outbound",
        "peer_id_bytes",
        "next_command_id",
        "next_exec_id",
        "peer_records",
        "extensions",
    ]
    governor = ["blocklist", "allowlist", "health", "failure_threshold", "ip_allow", "ip_deny"]
    value: Any = body[1 + transient.index(path[0])]
    for names, step in zip((framework, governor), path[1:], strict=False):
        value = value[names.index(step)]
    return value


def _field_value(snapshot: TransientSnapshot, path: tuple[str, ...]) -> object:
    value: object = snapshot
    for step in path:
        value = getattr(value, step)
    return value


@settings(max_examples=30)
@given(transient_snapshots())
def test_each_field_is_written_by_the_same_function_as_in_the_snapshot_body(
    snapshot: TransientSnapshot,
) -> None:
    body = encode_body(snapshot)
    for field in DELTA_FIELDS:
        written = FIELD_ENCODERS[field.name](_field_value(snapshot, field.path))
        assert written == _body_value(body, field.path), field.name


def test_the_wire_ids_follow_the_snapshot_body_order() -> None:
    assert [field.id for field in DELTA_FIELDS] == list(range(1, len(DELTA_FIELDS) + 1))


def test_a_full_snapshot_is_named_by_the_hash_of_its_canonical_bytes() -> None:
    snapshot = _snapshot()
    digest = hashlib.sha256(encode(snapshot)).digest()
    assert root_ref(snapshot, 4) == StateRef(4, 0, digest)
    assert root_ref_of_encoded(encode(snapshot), 4) == StateRef(4, 0, digest)
    assert root_state(snapshot, 4).ref == StateRef(4, 0, digest)
    assert root_state(snapshot).snapshot == snapshot
    assert root_ref(snapshot).generation == 0


def test_make_delta_names_the_next_state_by_the_digest_chain() -> None:
    changes = {"next_command_id": Replace(9)}
    delta = make_delta(BASE, TAKEN_AT, changes)
    encoded = msgpack.packb([[17, OP_REPLACE, 9]])
    expected = hashlib.sha256(
        b"nodesnap/delta/v1\n"
        + BASE.digest
        + msgpack.packb([TAKEN_AT.monotonic_ns, TAKEN_AT.wall_ns])
        + encoded
    ).digest()
    assert delta.base == BASE
    assert delta.target == StateRef(7, 4, expected)
    assert delta.taken_at == TAKEN_AT
    assert delta.encoded_changes == encoded
    assert delta_digest(BASE, TAKEN_AT, encoded) == expected


def test_the_digest_depends_on_the_base_the_time_and_the_changes() -> None:
    encoded = encode_changes({"next_command_id": Replace(9)})
    digest = delta_digest(BASE, TAKEN_AT, encoded)
    other_base = StateRef(7, 3, bytes(31) + b"\x01")
    assert delta_digest(other_base, TAKEN_AT, encoded) != digest
    assert delta_digest(BASE, ClockReading(5_001, TAKEN_AT.wall_ns), encoded) != digest
    assert delta_digest(BASE, TAKEN_AT, encode_changes({"next_command_id": Replace(8)})) != digest


def test_a_delta_is_written_as_its_version_and_body() -> None:
    delta = make_delta(BASE, TAKEN_AT, {"next_exec_id": Replace(2)})
    target = delta.target
    assert msgpack.unpackb(encode_delta(delta)) == [
        1,
        [
            2,
            [7, 3, BASE.digest],
            [target.generation, target.sequence, target.digest],
            [TAKEN_AT.monotonic_ns, TAKEN_AT.wall_ns],
            [[18, OP_REPLACE, 2]],
        ],
    ]


def test_changes_are_written_by_ascending_field_id_each_laid_out_as_the_field() -> None:
    changes: dict[str, Change] = {
        "pending_outbound": Splice(2, 1, [PendingOutboundEntry(b"env")]),
        "address_book": Patch(
            (PEER_A,), [AddressBookEntrySnapshot(PEER_B), AddressBookEntrySnapshot(PEER_C)]
        ),
        "counters": Patch(("gone",), {"b": 2, "a": 1}),
        "blocklist": Patch((), {PEER_C, PEER_B}),
        "frontier": Replace([(1, 2)]),
    }
    written = msgpack.unpackb(encode_changes(make_delta(BASE, TAKEN_AT, changes).changes))
    assert written == [
        [1, OP_REPLACE, [[1, 2]]],
        [5, OP_PATCH, [["gone"], [["a", 1], ["b", 2]]]],
        [7, OP_PATCH, [[PEER_A], [[PEER_B, [], 0, []], [PEER_C, [], 0, []]]]],
        [8, OP_PATCH, [[], [PEER_B, PEER_C]]],
        [15, OP_SPLICE, [2, 1, [[b"env", False]]]],
    ]


def test_a_delta_built_directly_is_written_as_make_delta_writes_it() -> None:
    made = make_delta(BASE, TAKEN_AT, {"counters": Patch(("a",), {"b": 1})})
    built = SnapshotDelta(base=BASE, target=made.target, taken_at=TAKEN_AT, changes=made.changes)
    assert built.encoded_changes is None
    assert built == made
    assert encode_delta(built) == encode_delta(made)
    assert built.encoded_changes == made.encoded_changes


def test_encode_delta_reuses_the_packed_changes() -> None:
    delta = make_delta(BASE, TAKEN_AT, {"next_exec_id": Replace(2)})
    object.__setattr__(delta, "encoded_changes", b"\x90")  # what the cache holds is written
    assert encode_delta(delta).endswith(b"\x90")


def test_encode_delta_refuses_anything_but_a_delta() -> None:
    with pytest.raises(TypeError, match="SnapshotDelta"):
        encode_delta(_snapshot())  # type: ignore[arg-type]


def test_changes_are_held_as_the_snapshot_holds_the_field() -> None:
    delta = make_delta(
        BASE,
        TAKEN_AT,
        {
            "frontier": Replace([(1, 2)]),
            "counters": Patch(["z"], {"a": 1}),  # type: ignore[arg-type]  # a list is frozen
            "blocklist": Patch((), {PEER_A}),
            "address_book": Patch((), [AddressBookEntrySnapshot(PEER_A)]),
        },
    )
    assert type(delta.changes["frontier"].value) is tuple  # type: ignore[union-attr]
    counters = delta.changes["counters"]
    assert isinstance(counters, Patch)
    assert counters.removed == ("z",)
    assert counters.upserted == {"a": 1}
    assert type(delta.changes["blocklist"].upserted) is frozenset  # type: ignore[union-attr]
    assert type(delta.changes["address_book"].upserted).__name__ == "RecordTable"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "path", "reason"),
    [
        ({"bogus": Replace(1)}, ("changes",), "expected a delta field name"),
        ({"next_exec_id": Patch((), {})}, ("changes", "next_exec_id"), "cannot take a `Patch`"),
        ({"counters": Splice(0, 0, ())}, ("changes", "counters"), "cannot take a `Splice`"),
        ({"next_exec_id": Replace(-1)}, ("changes", "next_exec_id", "value"), "expected u64"),
        ({"counters": Patch((), {"a": -1})}, ("changes", "counters", "upserted", "a"), "u64"),
        ({"counters": Patch(("b", "a"), {})}, ("changes", "counters", "removed", 1), "ascending"),
        ({"counters": Patch(("a",), {"a": 1})}, ("changes", "counters", "removed", 0), "both"),
        ({"counters": Patch((1,), {})}, ("changes", "counters", "removed", 0), "expected `str`"),
        ({"blocklist": Patch((b"x",), frozenset())}, ("changes", "blocklist", "removed", 0), ""),
        ({"allowlist": Patch((), None)}, ("changes", "allowlist", "upserted"), "a set"),
        (
            {"address_book": Replace([1])},
            ("changes", "address_book", "value", 0),
            "expected `AddressBookEntrySnapshot`",
        ),
        (
            {
                "address_book": Patch(
                    (), [AddressBookEntrySnapshot(PEER_B), AddressBookEntrySnapshot(PEER_A)]
                )
            },
            ("changes", "address_book", "upserted", 1, "peer_id"),
            "ascending peer order",
        ),
        (
            {"health": Patch((), [AddressBookEntrySnapshot(PEER_A)])},
            ("changes", "health", "upserted", 0),
            "expected `PeerHealthSnapshot`",
        ),
        (
            {"frontier": Splice(0, 0, [(1, -2)])},
            ("changes", "frontier", "appended", 0, "exec_id"),
            "u64",
        ),
        ({"blocklist": Replace([[1]])}, ("changes", "blocklist", "value"), "unhashable"),
    ],
)
def test_make_delta_refuses_a_change_that_does_not_fit_its_field(
    changes: dict[str, Change], path: tuple[object, ...], reason: str
) -> None:
    with pytest.raises(SnapshotValueError) as raised:
        make_delta(BASE, TAKEN_AT, changes)
    assert raised.value.path == path
    assert reason in raised.value.reason


def test_encode_changes_checks_the_changes_as_a_delta_does() -> None:
    assert encode_changes({"counters": Patch(["a"], {})}) == msgpack.packb(  # type: ignore[arg-type]
        [[5, OP_PATCH, [["a"], []]]]
    )
    with pytest.raises(SnapshotValueError) as raised:
        encode_changes({"counters": Patch(("b", "a"), {})})
    assert raised.value.path == ("changes", "counters", "removed", 1)
    with pytest.raises(SnapshotValueError, match="expected a delta field name"):
        encode_changes({"taken_at": Replace(1)})
