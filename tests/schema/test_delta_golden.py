"""Golden deltas (docs/FORMAT.md §12.9): every future build decodes these bytes to these deltas
and encodes these deltas to these bytes; changing either needs a delta spec version bump.
Beside each `NAME.msgpack`, `NAME.json` holds the value it decodes to in the language-neutral
form of §9 and §12.9, and each target digest is recomputed here from the bytes alone, by the
definition of §12.5.

Regenerate them only for a new delta spec version: `python tests/schema/test_delta_golden.py
--write` (it writes `tests/golden/delta-v1/`).
"""

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest
from delta_support import BASE_DIGEST
from schema_support import FORMAT_MD
from test_delta_codec_format import delta_section, documented_delta_paths
from test_format_spec import documented_paths, pattern
from test_golden import (
    BLAKE2B_PEER,
    ED25519_PEER,
    SHA256_PEER,
    SIGNING_PEER,
    SITE_EXEC,
    U32,
    U64,
    V2_CASES,
    V2_DIR,
    as_json,
    json_paths,
    key_json,
    named,
)

from snapshot_schema import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    ClockReading,
    EnvelopeIngress,
    ExecutionStateSnapshot,
    FrozenMap,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    PendingOutboundEntry,
    RecordTable,
    TimerMaturedIngress,
    decode_delta,
)
from snapshot_schema.delta_apply import field_value
from snapshot_schema.delta_encoder import encode_delta, make_delta, root_ref_of_encoded
from snapshot_schema.delta_records import (
    DELTA_FIELDS,
    FIELDS_BY_ID,
    FIELDS_BY_NAME,
    Change,
    DeltaField,
    Patch,
    Replace,
    SnapshotDelta,
    Splice,
    StateRef,
)

DELTA_DIR = Path(__file__).resolve().parent.parent / "golden" / "delta-v1"
HOUR_NS = 3_600_000_000_000


def golden_ref(name: str, generation: int) -> StateRef:
    """The state of the v2 golden snapshot `name` as generation `generation`'s full snapshot."""
    return root_ref_of_encoded((V2_DIR / f"{name}.msgpack").read_bytes(), generation)


# Each field replaced by its value in a v2 golden that holds a non-default one.
REPLACED_FROM = {
    "frontier": "maximal",
    "slot_table": "maximal",
    "pending_async": "maximal",
    "execution_state": "maximal",
    "counters": "unicode_names",
    "fired_phases": "typical",
    "address_book": "peer_state",
    "blocklist": "maximal",
    "allowlist": "maximal",
    "health": "typical",
    "failure_threshold": "maximal",
    "ip_allow": "peer_state",
    "ip_deny": "peer_state_edges",
    "backoff_table": "typical",
    "pending_outbound": "typical",
    "peer_id_bytes": "maximal",
    "next_command_id": "typical",
    "next_exec_id": "maximal",
    "peer_records": "peer_state",
    "extensions": "peer_state_edges",
    "bus": "unicode_names",
    "ingress": "every_ingress",
    "wire_states": "maximal",
    "pending_completions": "every_ingress",
}


def table(cls: type[Any], *records: Any) -> RecordTable[Any]:
    return RecordTable.of(cls, records)


PATCHES: dict[str, Change] = {
    "slot_table": Patch(((0, 0), (U64, U64)), FrozenMap({(1, 2): b"\x01", (1, 3): None})),
    "pending_async": Patch((0,), FrozenMap({U64: PendingAsyncSnapshot(1, 2, (3,), None)})),
    "execution_state": Patch((U64,), FrozenMap({7: ExecutionStateSnapshot(U32)})),
    "counters": Patch(("dials_failed",), FrozenMap({"envelopes_sent": 1_205, "zähler": 2})),
    "address_book": Patch(
        (BLAKE2B_PEER,),
        table(
            AddressBookEntrySnapshot,
            AddressBookEntrySnapshot(SIGNING_PEER, (b"\x04\x7f\x00\x00\x01",), 1, (HOUR_NS,)),
            AddressBookEntrySnapshot(SHA256_PEER, (b"\x01", b"\x02"), U64, (None, 0)),
        ),
    ),
    "blocklist": Patch((SHA256_PEER,), frozenset({BLAKE2B_PEER, ED25519_PEER})),
    "allowlist": Patch((), frozenset({SHA256_PEER})),
    "health": Patch(
        (SHA256_PEER,), table(PeerHealthSnapshot, PeerHealthSnapshot(BLAKE2B_PEER, 4, 1, True))
    ),
    "backoff_table": Patch(
        (SHA256_PEER, BLAKE2B_PEER), table(BackoffEntry, BackoffEntry(SIGNING_PEER, 1, 5, 6))
    ),
    "peer_records": Patch(
        (),
        table(
            PeerRecordSnapshot,
            PeerRecordSnapshot(SHA256_PEER, metadata={"score": 0.5, "neg": -1}, latency_ns=0),
        ),
    ),
    "extensions": Patch(("libp2p/pubsub-blacklist",), FrozenMap({"a": b""})),
    "wire_states": Patch((0, U32), FrozenMap({1: b"\x00"})),
}

SPLICES: dict[str, Change] = {
    "frontier": Splice(1, 1, ((5, 6),)),
    "fired_phases": Splice(0, 2, ("ready",)),
    "pending_outbound": Splice(
        1, 1, table(PendingOutboundEntry, PendingOutboundEntry(b"\x0a\x01x", False))
    ),
    "ingress": Splice(3, 2, (EnvelopeIngress(b""), TimerMaturedIngress(U64))),
    "pending_completions": Splice(1, 0, (PendingCompletionSnapshot(42, (("out", b"ok"),)),)),
}

CASES: dict[str, SnapshotDelta] = {
    "empty": make_delta(golden_ref("empty", 1), ClockReading(1, 1_764_000_000_000_000_000), {}),
    "every_replace": make_delta(
        golden_ref("typical", 2),
        ClockReading(HOUR_NS + 1, 1_764_000_001_000_000_000),
        {
            field.name: Replace(field_value(V2_CASES[REPLACED_FROM[field.name]], field))
            for field in DELTA_FIELDS
        },
    ),
    "patches": make_delta(
        StateRef(3, 41, bytes(range(32))), ClockReading(HOUR_NS, 1_764_000_000_000_000_000), PATCHES
    ),
    "splices": make_delta(
        golden_ref("every_ingress", 4),
        ClockReading(11, 21),
        {**SPLICES, "allowlist": Replace(None)},
    ),
    # A merged delta: its target digest names the last step's changes, not recomputable here.
    "merged_edges": SnapshotDelta(
        base=StateRef(U64, 0, BASE_DIGEST),
        target=StateRef(U64, U64, bytes([0xFF]) * 32),
        taken_at=ClockReading(U64, U64),
        changes={
            "frontier": Splice(U64, U64, ()),
            "slot_table": Patch(((U64, U64),), FrozenMap()),
            "allowlist": Replace(None),
            "next_command_id": Replace(U64),
        },
    ),
}


# The JSON form (FORMAT.md §9, §12.9).


def state_json(ref: StateRef) -> dict[str, str]:
    return {
        "generation": str(ref.generation),
        "sequence": str(ref.sequence),
        "digest": ref.digest.hex(),
    }


def value_json(field: DeltaField, value: Any) -> Any:
    """A field's value as §9 writes it at that field."""
    if field.name == "frontier":
        return [named(SITE_EXEC, pair) for pair in value]
    return as_json(value)


def payload_json(field: DeltaField, change: Change) -> Any:
    match change:
        case Replace():
            return value_json(field, change.value)
        case Patch():
            return {
                "removed": [key_json(key) for key in change.removed],
                "upserted": value_json(field, change.upserted),
            }
        case Splice():
            return {
                "drop_front": str(change.drop_front),
                "keep": str(change.keep),
                "appended": value_json(field, change.appended),
            }


OPS = {Replace: "0", Patch: "1", Splice: "2"}


def golden_json_text(delta: SnapshotDelta) -> str:
    fields = sorted((FIELDS_BY_NAME[name] for name in delta.changes), key=lambda f: f.id)
    body = {
        "snapshot_spec_version": str(delta.snapshot_spec_version),
        "base": state_json(delta.base),
        "target": state_json(delta.target),
        "taken_at": {
            "monotonic_ns": str(delta.taken_at.monotonic_ns),
            "wall_ns": str(delta.taken_at.wall_ns),
        },
        "changes": [
            {
                "field_id": str(field.id),
                "op": OPS[type(delta.changes[field.name])],
                "payload": payload_json(field, delta.changes[field.name]),
            }
            for field in fields
        ],
    }
    document = {"delta_spec_version": str(delta.spec_version), "body": body}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def golden(name: str) -> bytes:
    return (DELTA_DIR / f"{name}.msgpack").read_bytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bytes_decode_to_the_recorded_delta(name: str) -> None:
    assert decode_delta(golden(name)) == CASES[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_the_recorded_delta_reproduces_the_golden_bytes(name: str) -> None:
    assert encode_delta(CASES[name]) == golden(name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_golden_json_is_what_its_bytes_decode_to(name: str) -> None:
    """The two checks §12.9 asks of any implementation."""
    decoded = decode_delta(golden(name))
    assert (DELTA_DIR / f"{name}.json").read_text(encoding="utf-8") == golden_json_text(decoded)
    assert encode_delta(decoded) == golden(name)


def test_every_golden_file_has_a_case() -> None:
    assert sorted(path.stem for path in DELTA_DIR.glob("*.msgpack")) == sorted(CASES)
    assert sorted(path.stem for path in DELTA_DIR.glob("*.json")) == sorted(CASES)


def test_the_goldens_hold_every_field_and_every_op_it_takes() -> None:
    taken = {
        (name, type(change)) for delta in CASES.values() for name, change in delta.changes.items()
    }
    assert {name for name, _ in taken} == set(FIELDS_BY_NAME)
    assert {(name, Patch) for name in PATCHES} | {(name, Splice) for name in SPLICES} <= taken


def changes_bytes(data: bytes) -> tuple[list[Any], bytes]:
    """The head of a canonical delta's body, and the bytes of its `changes` array: the rest of
    the input, since `changes` is the body's last element and the body the envelope's."""
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    assert unpacker.read_array_header() == 2
    assert unpacker.unpack() == 1
    assert unpacker.read_array_header() == 5
    head = [unpacker.unpack() for _ in range(4)]
    return head, data[unpacker.tell() :]


@pytest.mark.parametrize("name", sorted(set(CASES) - {"merged_edges"}))
def test_each_single_deltas_target_digest_is_recomputed_from_its_bytes_by_the_spec(
    name: str,
) -> None:
    """§12.5: SHA-256 of the domain, the base digest, the canonical clock reading and the
    canonical bytes of `changes`, here read straight from the golden's bytes."""
    (_version, base, target, taken_at), changes = changes_bytes(golden(name))
    assert target[:2] == [base[0], base[1] + 1]
    clock = msgpack.packb(taken_at)
    expected = hashlib.sha256(b"nodesnap/delta/v1\n" + base[2] + clock + changes).digest()
    assert target[2] == expected


@pytest.mark.parametrize(
    ("name", "snapshot"),
    [("empty", "empty"), ("every_replace", "typical"), ("splices", "every_ingress")],
)
def test_a_base_named_after_a_full_snapshot_holds_the_sha256_of_its_bytes(
    name: str, snapshot: str
) -> None:
    (_version, base, _target, _taken_at), _changes = changes_bytes(golden(name))
    assert base[1] == 0
    assert base[2] == hashlib.sha256((V2_DIR / f"{snapshot}.msgpack").read_bytes()).digest()


def test_a_delta_starts_with_92_01() -> None:
    assert {golden(name)[:2] for name in CASES} == {b"\x92\x01"}


def test_golden_json_names_are_the_error_path_names() -> None:
    """Every value in a golden JSON body sits at a path §12.7 lists, or (inside a payload) at
    the path §7 gives the same value of the field."""
    head = {pattern(path) for path in documented_delta_paths()}
    snapshot_paths = {pattern(path) for path in documented_paths()}
    for name in CASES:
        body = json.loads((DELTA_DIR / f"{name}.json").read_text(encoding="utf-8"))["body"]
        for path in json_paths(body):
            if pattern(path) in head:
                continue
            change = re.match(r"\$\.changes\[(\d+)\]\.payload(\.upserted|\.appended)?", path)
            assert change is not None, (name, path)
            field_id = int(body["changes"][int(change.group(1))]["field_id"])
            field_path = "$." + ".".join(FIELDS_BY_ID[field_id].path)
            inside = field_path + path[change.end() :]
            assert pattern(inside) in snapshot_paths, (name, path)


def test_the_format_names_the_golden_directory_and_how_to_write_it() -> None:
    section = " ".join(delta_section("12.9").split())
    assert "`tests/golden/delta-v1/`" in section
    assert "python tests/schema/test_delta_golden.py --write" in section
    assert FORMAT_MD.count("## 12. Deltas, delta spec version 1") == 1


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    DELTA_DIR.mkdir(parents=True, exist_ok=True)
    for case_name, case in CASES.items():
        (DELTA_DIR / f"{case_name}.msgpack").write_bytes(encode_delta(case))
        (DELTA_DIR / f"{case_name}.json").write_text(
            golden_json_text(decode_delta(encode_delta(case))), encoding="utf-8"
        )
