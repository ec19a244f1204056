"""`decode_delta` (docs/FORMAT.md §12): each payload is judged by `decode`'s own rule for its
field, every refusal of the spec is made with its error and path, and the version gate runs
before the body. Deltas here are written by hand, so the decoder is tested apart from
`encode_delta`."""

import re
from collections.abc import Sequence
from typing import Any

import msgpack
import pytest
from delta_support import BASE_DIGEST, TAKEN_AT, delta_bytes, field_of, with_field
from schema_support import as_tuples, body_lists
from test_format_spec import FULL, poisoned, positions

from snapshot_schema import (
    AddressBookEntrySnapshot,
    ClockReading,
    FrozenMap,
    IncompatibleDeltaVersion,
    IncompatibleSnapshotVersion,
    RecordTable,
    SnapshotDecodeError,
    SnapshotError,
    decode,
    decode_delta,
    delta_spec_version_of,
)
from snapshot_schema.delta_apply import field_value
from snapshot_schema.delta_decoder import ALLOWED_OPS
from snapshot_schema.delta_encoder import OP_PATCH, OP_REPLACE, OP_SPLICE
from snapshot_schema.delta_records import (
    DELTA_FIELDS,
    FIELDS_BY_NAME,
    DeltaField,
    FieldKind,
    Patch,
    Replace,
    SnapshotDelta,
    Splice,
    StateRef,
)

FULL_BODY = body_lists(FULL)
PEER = FULL.framework.peer_id_bytes
OTHER_PEER = bytes.fromhex("1220") + bytes([1]) * 32
KEYED = [field for field in DELTA_FIELDS if field.kind not in (FieldKind.VALUE, FieldKind.SEQUENCE)]
SEQUENCES = [field for field in DELTA_FIELDS if field.kind is FieldKind.SEQUENCE]


def ids(fields: Sequence[DeltaField]) -> list[str]:
    return [field.name for field in fields]


def refusal(data: bytes, read: Any = decode_delta) -> tuple[str, tuple[Any, ...]]:
    with pytest.raises(SnapshotDecodeError) as caught:
        read(data)
    return caught.value.reason, caught.value.path


# Payloads are built by `decode`'s builder of their field.


@pytest.mark.parametrize("field", DELTA_FIELDS, ids=ids(DELTA_FIELDS))
def test_a_replace_decodes_to_the_value_decode_gives_its_field(field: DeltaField) -> None:
    data = delta_bytes([[field.id, OP_REPLACE, field_of(FULL_BODY, field)]])
    assert decode_delta(data).changes == {field.name: Replace(field_value(FULL, field))}


@pytest.mark.parametrize("field", KEYED, ids=ids(KEYED))
def test_a_patch_upserts_entries_decoded_as_its_field(field: DeltaField) -> None:
    data = delta_bytes([[field.id, OP_PATCH, [[], field_of(FULL_BODY, field)]]])
    assert decode_delta(data).changes == {field.name: Patch((), field_value(FULL, field))}


@pytest.mark.parametrize("field", SEQUENCES, ids=ids(SEQUENCES))
def test_a_splice_appends_elements_decoded_as_its_field(field: DeltaField) -> None:
    data = delta_bytes([[field.id, OP_SPLICE, [2, 5, field_of(FULL_BODY, field)]]])
    assert decode_delta(data).changes == {field.name: Splice(2, 5, field_value(FULL, field))}


def snapshot_refusal(field: DeltaField, value: object) -> tuple[str, tuple[Any, ...]]:
    """How `decode` refuses a snapshot holding `value` at `field`: the reason, and the path
    from the field (the snapshot's path without the field's own)."""
    body = with_field(body_lists(FULL), field, value)
    reason, path = refusal(msgpack.packb([2, body]), decode)
    assert path[: len(field.path)] == field.path
    return reason, path[len(field.path) :]


def payload_cases(field: DeltaField) -> list[tuple[Any, Any]]:
    """`(payload, inner)` for each op `field` takes: `inner(value)` puts a field value where
    that op's payload holds one; `payload` is the path of that place from the change."""
    cases: list[tuple[Any, Any]] = [(("payload",), lambda value: value)]
    if field.kind is FieldKind.SEQUENCE:
        cases.append((("payload", "appended"), lambda value: [0, 0, value]))
    elif field.kind is not FieldKind.VALUE:
        cases.append((("payload", "upserted"), lambda value: [[], value]))
    return cases


@pytest.mark.parametrize("field", DELTA_FIELDS, ids=ids(DELTA_FIELDS))
def test_a_bad_value_in_a_payload_is_refused_as_decode_refuses_it_in_the_field(
    field: DeltaField,
) -> None:
    """Every value of the field (`FULL` fills each) replaced in turn by one no field accepts:
    the delta is refused with `decode`'s reason, at the same place inside the payload."""
    value = as_tuples(field_of(FULL_BODY, field))
    for where, inner in payload_cases(field):
        op = {"payload": OP_REPLACE, "appended": OP_SPLICE, "upserted": OP_PATCH}[where[-1]]
        for at in positions(value):
            bad = poisoned(value, at)
            reason, path = snapshot_refusal(field, bad)
            data = delta_bytes([[field.id, op, inner(bad)]])
            assert refusal(data) == (reason, ("changes", 0, *where, *path)), (where, at)


def test_a_table_payload_keeps_the_fast_paths_answers_at_scale() -> None:
    """A long table is judged by the column tests and, on a fault, walked in the window that
    fails: a duplicate peer 5,000 rows down is named at its row."""
    rows = [[bytes.fromhex("1220") + n.to_bytes(32, "big"), 0, 1, False] for n in range(5_000)]
    rows.append(rows[4_000])
    health = FIELDS_BY_NAME["health"]
    reason, path = refusal(delta_bytes([[health.id, OP_REPLACE, rows]]))
    assert path == ("changes", 0, "payload", 5_000, "peer_id")
    assert reason.startswith("duplicate peer")


# Patches: removed keys, upserted entries.


def test_removed_keys_of_every_kind_decode_as_the_field_keys_them() -> None:
    slot_table, counters, address_book = (
        FIELDS_BY_NAME[name] for name in ("slot_table", "counters", "address_book")
    )
    data = delta_bytes(
        [
            [slot_table.id, OP_PATCH, [[[0, 9], [1, 0]], []]],
            [counters.id, OP_PATCH, [["a", "b"], []]],
            [address_book.id, OP_PATCH, [[PEER, OTHER_PEER], []]],
        ]
    )
    assert decode_delta(data).changes == {
        "slot_table": Patch(((0, 9), (1, 0)), FrozenMap()),
        "counters": Patch(("a", "b"), FrozenMap()),
        "address_book": Patch((PEER, OTHER_PEER), RecordTable.of(AddressBookEntrySnapshot, ())),
    }


def row(peer: bytes) -> list[Any]:
    return [peer, [b"\x01"], 1, [None]]


REMOVED = ("changes", 0, "payload", "removed")
UPSERTED = ("changes", 0, "payload", "upserted")
ID = {name: field.id for name, field in FIELDS_BY_NAME.items()}

PATCH_REFUSALS = {
    "removed keys out of order": (
        [ID["counters"], OP_PATCH, [["b", "a"], []]],
        (*REMOVED, 1),
        "removed keys must be unique and in ascending order",
    ),
    "a removed key twice": (
        [ID["wire_states"], OP_PATCH, [[4, 4], []]],
        (*REMOVED, 1),
        "removed keys must be unique and in ascending order",
    ),
    "a removed key that is no name": (
        [ID["counters"], OP_PATCH, [[""], []]],
        (*REMOVED, 0),
        "expected a non-empty name",
    ),
    "a removed key out of range": (
        [ID["wire_states"], OP_PATCH, [[2**32], []]],
        (*REMOVED, 0),
        "expected u32 (0..4294967295), got 4294967296",
    ),
    "a removed slot that is no pair": (
        [ID["slot_table"], OP_PATCH, [[[1]], []]],
        (*REMOVED, 0),
        "expected a pair, got `tuple`",
    ),
    "a removed slot with a negative exec id": (
        [ID["slot_table"], OP_PATCH, [[[1, -1]], []]],
        (*REMOVED, 0, "exec_id"),
        "expected u64 (0..18446744073709551615), got -1",
    ),
    "a removed peer that is no multihash": (
        [ID["address_book"], OP_PATCH, [[b"\x12"], []]],
        (*REMOVED, 0),
        "multihash digest length is not a shortest-form varint",
    ),
    "removed peers out of order": (
        [ID["blocklist"], OP_PATCH, [[OTHER_PEER, PEER], []]],
        (*REMOVED, 1),
        "removed keys must be unique and in ascending order",
    ),
    "removed keys that are no array": (
        [ID["counters"], OP_PATCH, [None, []]],
        REMOVED,
        "expected array, got nil",
    ),
    "a map key both removed and upserted": (
        [ID["counters"], OP_PATCH, [["a", "b"], [["b", 1]]]],
        (*REMOVED, 1),
        "a key is never both removed and upserted",
    ),
    "a set member both removed and upserted": (
        [ID["allowlist"], OP_PATCH, [[PEER], [PEER]]],
        (*REMOVED, 0),
        "a key is never both removed and upserted",
    ),
    "a peer both removed and upserted": (
        [ID["address_book"], OP_PATCH, [[PEER], [row(PEER)]]],
        (*REMOVED, 0),
        "a key is never both removed and upserted",
    ),
    "upserted rows out of peer order": (
        [ID["address_book"], OP_PATCH, [[], [row(OTHER_PEER), row(PEER)]]],
        (*UPSERTED, 1, "peer_id"),
        "a patch's rows must be in ascending peer order",
    ),
    "upserted rows with a peer twice": (
        [ID["address_book"], OP_PATCH, [[], [row(PEER), row(PEER)]]],
        (*UPSERTED, 1, "peer_id"),
        f"duplicate peer {PEER!r}",
    ),
    "an allowlist patch to nil": (
        [ID["allowlist"], OP_PATCH, [[], None]],
        UPSERTED,
        "a patch's upserted members are a set",
    ),
    "upserted map entries out of order": (
        [ID["counters"], OP_PATCH, [[], [["b", 1], ["a", 2]]]],
        (*UPSERTED, 1, "key"),
        "keys must be unique and in ascending order",
    ),
    "a patch of three elements": (
        [ID["counters"], OP_PATCH, [[], [], []]],
        ("changes", 0, "payload"),
        "expected array of 2 elements, got 3",
    ),
}


@pytest.mark.parametrize(
    ("change", "path", "reason"), PATCH_REFUSALS.values(), ids=PATCH_REFUSALS.keys()
)
def test_a_patch_that_breaks_a_rule_is_refused_at_the_value(
    change: list[Any], path: tuple[Any, ...], reason: str
) -> None:
    assert refusal(delta_bytes([change])) == (reason, path)


def test_removed_keys_are_judged_all_along_a_long_array() -> None:
    keys = [f"k{n:05}" for n in range(5_000)]
    change = [ID["counters"], OP_PATCH, [keys, [["k04999", 1]]]]
    assert refusal(delta_bytes([change])) == (
        "a key is never both removed and upserted",
        (*REMOVED, 4_999),
    )
    keys[4_500] = "k99999"  # out of order, deep in a long array
    change = [ID["counters"], OP_PATCH, [keys, []]]
    assert refusal(delta_bytes([change])) == (
        "removed keys must be unique and in ascending order",
        (*REMOVED, 4_501),
    )


# Splices.


@pytest.mark.parametrize(
    ("payload", "path", "reason"),
    [
        ([-1, 0, []], "drop_front", "got -1"),
        ([0, True, []], "keep", "expected `int`, got `bool`"),
        ([0, "1", []], "keep", "expected `int`, got `str`"),
        ([0, 0], None, "expected array of 3 elements, got 2"),
    ],
)
def test_a_splice_that_breaks_a_rule_is_refused_at_the_value(
    payload: list[Any], path: str | None, reason: str
) -> None:
    found_reason, found_path = refusal(delta_bytes([[ID["frontier"], OP_SPLICE, payload]]))
    assert found_path == ("changes", 0, "payload", *([path] if path else []))
    assert reason in found_reason


# The changes array.

CHANGE_REFUSALS = {
    "field id 0": ([[0, OP_REPLACE, 1]], (0, "field_id"), "unknown field id 0"),
    "field id 25": ([[25, OP_REPLACE, 1]], (0, "field_id"), "unknown field id 25"),
    "a field id as a string": ([["1", OP_REPLACE, []]], (0, "field_id"), "unknown field id '1'"),
    "a field id as a bool": ([[True, OP_REPLACE, []]], (0, "field_id"), "unknown field id True"),
    "field ids descending": (
        [[ID["slot_table"], OP_REPLACE, []], [ID["frontier"], OP_REPLACE, []]],
        (1, "field_id"),
        "field ids must be unique and in ascending order",
    ),
    "a field twice": (
        [[ID["frontier"], OP_REPLACE, []], [ID["frontier"], OP_REPLACE, []]],
        (1, "field_id"),
        "field ids must be unique and in ascending order",
    ),
    "op 3": ([[ID["frontier"], 3, []]], (0, "op"), "unknown op 3"),
    "op -1": ([[ID["frontier"], -1, []]], (0, "op"), "unknown op -1"),
    "a value patched": (
        [[ID["failure_threshold"], OP_PATCH, [[], 3]]],
        (0, "op"),
        "`failure_threshold` (a value field) cannot be patched",
    ),
    "a value spliced": (
        [[ID["next_exec_id"], OP_SPLICE, [0, 0, 1]]],
        (0, "op"),
        "`next_exec_id` (a value field) cannot be spliced",
    ),
    "a sequence patched": (
        [[ID["frontier"], OP_PATCH, [[], []]]],
        (0, "op"),
        "`frontier` (a sequence field) cannot be patched",
    ),
    "a map spliced": (
        [[ID["counters"], OP_SPLICE, [0, 0, []]]],
        (0, "op"),
        "`counters` (a map field) cannot be spliced",
    ),
    "a table spliced": (
        [[ID["health"], OP_SPLICE, [0, 0, []]]],
        (0, "op"),
        "`health` (a table field) cannot be spliced",
    ),
    "a set spliced": (
        [[ID["allowlist"], OP_SPLICE, [0, 0, []]]],
        (0, "op"),
        "`allowlist` (a optional_set field) cannot be spliced",
    ),
    "a change of two elements": ([[1, 0]], (0,), "expected array of 3 elements, got 2"),
    "a change that is no array": ([1], (0,), "expected array, got int"),
}


@pytest.mark.parametrize(
    ("changes", "path", "reason"), CHANGE_REFUSALS.values(), ids=CHANGE_REFUSALS.keys()
)
def test_a_change_list_that_breaks_a_rule_is_refused_at_the_value(
    changes: list[Any], path: tuple[Any, ...], reason: str
) -> None:
    assert refusal(delta_bytes(changes)) == (reason, ("changes", *path))


def test_changes_that_are_no_array_are_refused() -> None:
    assert refusal(delta_bytes({"a": 1})) == (  # type: ignore[arg-type]
        "msgpack maps are not used by the snapshot format",
        (),
    )
    assert refusal(msgpack.packb([1, [2, [7, 3, BASE_DIGEST], [7, 4, BASE_DIGEST], TAKEN_AT, 5]]))[
        1
    ] == ("changes",)


def test_ops_allowed_per_kind_are_the_change_classes_the_records_allow() -> None:
    classes = {OP_REPLACE: Replace(0), OP_PATCH: Patch((), ()), OP_SPLICE: Splice(0, 0, ())}
    base, target = StateRef(0, 0, bytes(32)), StateRef(0, 1, bytes(32))
    for field in DELTA_FIELDS:
        for op, change in classes.items():
            try:
                SnapshotDelta(
                    base=base,
                    target=target,
                    taken_at=ClockReading(0, 0),
                    changes={field.name: change},
                )
            except SnapshotError as error:  # refused for its class, or for its value
                allowed = "cannot take a" not in str(error)
            else:
                allowed = True
            assert allowed == (op in ALLOWED_OPS[field.kind]), (field.name, op)


# The body: versions, states, clock.

HEAD_REFUSALS = {
    "base of two elements": ({"base": [7, 3]}, ("base",), "expected array of 3 elements, got 2"),
    "a negative base generation": (
        {"base": [-1, 3, BASE_DIGEST]},
        ("base", "generation"),
        "expected u64 (0..18446744073709551615), got -1",
    ),
    "a base sequence as a string": (
        {"base": [7, "3", BASE_DIGEST]},
        ("base", "sequence"),
        "expected `int`, got `str`",
    ),
    "a 31-byte digest": (
        {"base": [7, 3, bytes(31)]},
        ("base", "digest"),
        "expected a 32-byte digest",
    ),
    "a digest as a string": (
        {"target": [7, 4, "x" * 32]},
        ("target", "digest"),
        "expected a 32-byte digest",
    ),
    "another generation": (
        {"target": [8, 4, BASE_DIGEST]},
        ("target",),
        "a delta stays within one generation",
    ),
    "the same sequence": (
        {"target": [7, 3, BASE_DIGEST]},
        ("target", "sequence"),
        "the target's sequence (3) must follow the base's (3)",
    ),
    "a sequence going back": (
        {"target": [7, 2, BASE_DIGEST]},
        ("target", "sequence"),
        "the target's sequence (2) must follow the base's (3)",
    ),
    "a clock of one reading": (
        {"taken_at": [1]},
        ("taken_at",),
        "expected array of 2 elements, got 1",
    ),
    "a negative clock": (
        {"taken_at": [1, -2]},
        ("taken_at", "wall_ns"),
        "expected u64 (0..18446744073709551615), got -2",
    ),
    "a snapshot spec version as a string": (
        {"snapshot_version": "2"},
        ("snapshot_spec_version",),
        "expected `int`, got `str`",
    ),
    "an unstamped snapshot spec version": (
        {"snapshot_version": None},
        ("snapshot_spec_version",),
        "expected `int`, got `NoneType`",
    ),
}


@pytest.mark.parametrize(("parts", "path", "reason"), HEAD_REFUSALS.values(), ids=HEAD_REFUSALS)
def test_a_body_whose_states_or_clock_break_a_rule_is_refused_at_the_value(
    parts: dict[str, Any], path: tuple[Any, ...], reason: str
) -> None:
    assert refusal(delta_bytes([], **parts)) == (reason, path)


def test_a_body_of_the_wrong_length_is_refused_at_the_root() -> None:
    data = msgpack.packb([1, [2, [7, 3, BASE_DIGEST], [7, 4, BASE_DIGEST], TAKEN_AT]])
    assert refusal(data) == ("expected array of 5 elements, got 4", ())


@pytest.mark.parametrize("version", [1, 3, 2**32 - 1])
def test_payloads_of_another_snapshot_spec_version_are_incompatible(version: int) -> None:
    changes = [[ID["frontier"], OP_REPLACE, "not read"]]
    with pytest.raises(IncompatibleSnapshotVersion) as caught:
        decode_delta(delta_bytes(changes, snapshot_version=version))
    assert type(caught.value) is IncompatibleSnapshotVersion
    assert (caught.value.found, caught.value.supported) == (version, 2)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (b"\x02", "delta spec version 2 is newer than this build supports (1)"),
        (b"\xce\xff\xff\xff\xff", "delta spec version 4294967295 is newer"),
        (b"\x00", "delta spec version 0 cannot be restored by this build (supports 1)"),
        (b"\xc0", "delta carries no spec version"),
    ],
)
def test_the_delta_spec_version_is_gated_before_the_body_is_parsed(
    version: bytes, message: str
) -> None:
    """A body that is not even msgpack (`c1`) is never looked at."""
    with pytest.raises(IncompatibleDeltaVersion, match=re.escape(message)) as caught:
        decode_delta(b"\x92" + version + b"\xc1")
    assert isinstance(caught.value, IncompatibleSnapshotVersion)
    assert caught.value.supported == 1
    assert caught.value.found == (None if version == b"\xc0" else int.from_bytes(version[-4:]))


def test_the_delta_spec_version_is_read_in_any_integer_form() -> None:
    data = delta_bytes([])
    assert data[:2] == b"\x92\x01"
    for form in (b"\xcc\x01", b"\xcd\x00\x01", b"\xd0\x01", b"\xd3" + (1).to_bytes(8, "big")):
        longer = b"\x92" + form + data[2:]
        assert delta_spec_version_of(longer) == 1
        assert decode_delta(longer) == decode_delta(data)


def test_delta_spec_version_of_reads_only_the_envelope() -> None:
    assert delta_spec_version_of(b"\x92\x01\xc1") == 1
    assert delta_spec_version_of(b"\x92\xc0") is None
    with pytest.raises(SnapshotDecodeError, match="not a delta"):
        delta_spec_version_of(b"\x91\x01")


ROOT_REFUSALS = {
    "empty": (b"", "empty input"),
    "not an envelope": (b"\x93\x01\x90\x90", "not a delta: expected a 2-element array (0x92)"),
    "a version as a string": (b"\x92\xa11\x90", "expected the spec version as an integer"),
    "a negative version": (b"\x92\xff\x90", "expected the spec version as a u32, got -1"),
    "truncated": (b"\x92\x01\x95\x02", "input ends before the delta body does"),
    "bytes after the body": (delta_bytes([]) + b"\x00", "1 unexpected bytes after the delta body"),
    "nesting too deep": (b"\x92\x01" + b"\x91" * 1100 + b"\x90", "nesting too deep"),
    "a map": (b"\x92\x01\x81\xa1a\x01", "msgpack maps are not used"),
    "an ext value": (b"\x92\x01\xd4\x01\x00", "unsupported msgpack value"),
    "invalid UTF-8": (b"\x92\x01\xa2\xff\xfe", "invalid UTF-8"),
    "no body array": (b"\x92\x01\x05", "expected array, got int"),
}


@pytest.mark.parametrize(("data", "reason"), ROOT_REFUSALS.values(), ids=ROOT_REFUSALS)
def test_a_fault_not_in_one_value_is_refused_at_the_root(data: bytes, reason: str) -> None:
    found_reason, path = refusal(data)
    assert path == ()
    assert reason in found_reason


def test_the_size_limit_is_checked_before_anything_is_read() -> None:
    data = delta_bytes([])
    assert decode_delta(data, max_size=len(data)).changes == {}
    with pytest.raises(SnapshotDecodeError, match=f"exceeds the {len(data) - 1}-byte limit"):
        decode_delta(data, max_size=len(data) - 1)


@pytest.mark.parametrize("data", ["text", 5, None, [1, 2]])
def test_input_that_is_not_bytes_is_refused(data: Any) -> None:
    with pytest.raises(SnapshotDecodeError, match="expected bytes"):
        decode_delta(data)


def test_any_bytes_like_input_is_read() -> None:
    data = delta_bytes([[ID["counters"], OP_REPLACE, [["a", 1]]]])
    expected = decode_delta(data)
    strided = memoryview(bytes(b for byte in data for b in (byte, 0)))[::2]
    for view in (bytearray(data), memoryview(data), strided):
        assert decode_delta(view) == expected
