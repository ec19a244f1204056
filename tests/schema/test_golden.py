"""Golden snapshots: every future build decodes these bytes to these records, and encodes the
current version's records to these bytes. Changing either needs a spec version bump
(docs/FORMAT.md). Beside each `NAME.msgpack`, `NAME.json` holds the value it decodes to in the
language-neutral form of docs/FORMAT.md §9, for other implementations to check themselves
against.

- `tests/golden/v2/`: the current version. Decoding gives `V2_CASES`, encoding them gives the
  bytes again.
- `tests/golden/v1/`: written by version 1 builds and never rewritten. They decode, through the
  registered v1→v2 migration, to `V1_CASES`: every version 1 value kept, every field version 2
  added at its documented default. Their JSON is the version 1 form of the same values.

Regenerate the current version's goldens only for a new spec version, the JSON only when §9
changes: `python tests/schema/test_golden.py --write` (it writes `tests/golden/v2/` only).
"""

import hashlib
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from schema_support import FORMAT_MD, format_section

from snapshot_schema import (
    AddressBookEntrySnapshot,
    AppEventIngress,
    BackoffEntry,
    ClockReading,
    CompletionIngress,
    EnvelopeIngress,
    ExecutionStateSnapshot,
    FrameworkSnapshot,
    InvokeIngress,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    PendingOutboundEntry,
    TimerMaturedIngress,
    TransientSnapshot,
    TypedBusSnapshot,
    decode,
    encode,
)
from snapshot_schema.execution_records import INGRESS_TYPES
from snapshot_schema.frozen_map import FrozenMap

GOLDEN_ROOT = Path(__file__).resolve().parent.parent / "golden"
V1_DIR, V2_DIR = GOLDEN_ROOT / "v1", GOLDEN_ROOT / "v2"
U32, U64 = 2**32 - 1, 2**64 - 1
ED25519_PEER = bytes.fromhex(
    "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
)
SHA256_PEER = bytes.fromhex("1220") + bytes(range(32))
BLAKE2B_PEER = bytes.fromhex("a0e40220") + bytes(range(32, 64))
TCP_4001 = bytes.fromhex("047f000001060fa1")  # /ip4/127.0.0.1/tcp/4001
QUIC_V1 = bytes.fromhex(
    "04c0a80001910223 28cc03".replace(" ", "")
)  # /ip4/192.168.0.1/udp/9000/quic-v1

V1_CASES: dict[str, TransientSnapshot] = {
    "empty": TransientSnapshot(
        taken_at=ClockReading(0, 0), framework=FrameworkSnapshot(peer_id_bytes=ED25519_PEER)
    ),
    "typical": TransientSnapshot(
        taken_at=ClockReading(3_600_000_000_000, 1_764_000_000_000_000_000),
        framework=FrameworkSnapshot(
            counters={"envelopes_sent": 1_204, "dials_failed": 7, "peers_seen": 3},
            fired_phases=("started", "peers_restored"),
            address_book=(
                AddressBookEntrySnapshot(SHA256_PEER, (TCP_4001, QUIC_V1), 2),
                AddressBookEntrySnapshot(BLAKE2B_PEER, (QUIC_V1,), 1),
            ),
            peer_governor=PeerGovernorSnapshot(
                blocklist={BLAKE2B_PEER},
                allowlist=None,
                health=(
                    PeerHealthSnapshot(SHA256_PEER, 0, 3_599_000_000_000, False),
                    PeerHealthSnapshot(BLAKE2B_PEER, 3, 3_598_000_000_000, True),
                ),
                failure_threshold=3,
            ),
            backoff_table=(BackoffEntry(BLAKE2B_PEER, 3, 3_598_000_000_000, 3_848_000_000_000),),
            pending_outbound=(
                PendingOutboundEntry(b"\x0a\x05hello", False),
                PendingOutboundEntry(b"\x0a\x05again", True),
            ),
            peer_id_bytes=ED25519_PEER,
            next_command_id=42,
            next_exec_id=17,
        ),
        bus=TypedBusSnapshot({"peer_connected": (1, 4), "envelope": (2,)}),
    ),
    "maximal": TransientSnapshot(
        taken_at=ClockReading(U64, U64),
        frontier=((U64, U64), (0, U64)),
        slot_table={(U64, U64): bytes(range(256)), (0, 0): None},
        pending_async={
            U64: PendingAsyncSnapshot(U64, U64, (U64, 0), U64),
            0: PendingAsyncSnapshot(0, 0),
        },
        execution_state={U64: ExecutionStateSnapshot(U32)},
        framework=FrameworkSnapshot(
            counters={"max": U64},
            fired_phases=("x" * 300,),
            address_book=(AddressBookEntrySnapshot(SHA256_PEER, (bytes(70_000),), U64),),
            peer_governor=PeerGovernorSnapshot(
                blocklist={SHA256_PEER, ED25519_PEER},
                allowlist={SHA256_PEER},
                health=(PeerHealthSnapshot(SHA256_PEER, U32, U64, True),),
                failure_threshold=U32,
            ),
            backoff_table=(BackoffEntry(SHA256_PEER, U32, U64, U64),),
            pending_outbound=(PendingOutboundEntry(bytes(70_000), True),),
            peer_id_bytes=BLAKE2B_PEER,
            next_command_id=U64,
            next_exec_id=U64,
        ),
        bus=TypedBusSnapshot({"k": (U64, 0)}),
        wire_states={U32: bytes(300), 0: b""},
        pending_completions=(PendingCompletionSnapshot(U64, (("out", bytes(300)),)),),
    ),
    "every_ingress": TransientSnapshot(
        taken_at=ClockReading(10, 20),
        framework=FrameworkSnapshot(peer_id_bytes=ED25519_PEER),
        ingress=(
            EnvelopeIngress(b"\x01\x02"),
            AppEventIngress("chat", "message", b"hi"),
            InvokeIngress("router", (("to", b"peer"), ("body", b""))),
            TimerMaturedIngress(123_456_789),
            CompletionIngress(42, (b"ok", b"")),
        ),
        pending_completions=(PendingCompletionSnapshot(41, (("result", b"\x00"),)),),
    ),
    "unicode_names": TransientSnapshot(
        taken_at=ClockReading(1, 1),
        framework=FrameworkSnapshot(
            counters={"zähler": 1, "計数": 2, "🚀launches": 3, "a": 4},
            fired_phases=("démarré", "起動"),
            peer_id_bytes=SHA256_PEER,
        ),
        bus=TypedBusSnapshot({"événement": (1,), "イベント": (2,)}),
        ingress=(AppEventIngress("модуль", "вход", "ü".encode()),),
    ),
}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _signed_peer_record(seed: bytes, seq: int, addresses: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """`(peer_id, public_key, envelope)` for the Ed25519 key `seed`: a libp2p signed envelope
    holding a peer record (payload type `03 01`, domain `libp2p-peer-record`), as go-libp2p
    and py-libp2p marshal it."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    raw = key.public_key().public_bytes_raw()
    public_key = bytes.fromhex("08011220") + raw
    peer_id = bytes.fromhex("0024") + public_key
    payload_type = bytes.fromhex("0301")
    payload = (
        _field(1, peer_id)
        + _varint(2 << 3)
        + _varint(seq)
        + b"".join(_field(3, _field(1, address)) for address in addresses)
    )
    domain = b"libp2p-peer-record"
    signed = b"".join(_varint(len(part)) + part for part in (domain, payload_type, payload))
    envelope = (
        _field(1, public_key)
        + _field(2, payload_type)
        + _field(3, payload)
        + _field(5, key.sign(signed))
    )
    return peer_id, public_key, envelope


SIGNING_PEER, SIGNING_KEY, SIGNED_RECORD = _signed_peer_record(
    bytes(range(32)), 7, (TCP_4001, QUIC_V1)
)
RSA_LIKE_KEY = bytes.fromhex("080012") + _varint(300) + bytes(range(256)) + bytes(44)
RSA_PEER = bytes.fromhex("1220") + hashlib.sha256(RSA_LIKE_KEY).digest()
HOUR_NS = 3_600_000_000_000

V2_CASES: dict[str, TransientSnapshot] = {
    **V1_CASES,
    "peer_state": TransientSnapshot(
        taken_at=ClockReading(HOUR_NS, 1_764_000_000_000_000_000),
        framework=FrameworkSnapshot(
            address_book=(
                AddressBookEntrySnapshot(
                    SIGNING_PEER, (TCP_4001, QUIC_V1), 1, (None, HOUR_NS + 120_000_000_000)
                ),
                AddressBookEntrySnapshot(SHA256_PEER, (QUIC_V1,), 0, (HOUR_NS + 1,)),
            ),
            peer_governor=PeerGovernorSnapshot(
                ip_allow=["10.0.0.0/8", "fd00::/8"], ip_deny=["10.66.0.0/16", "192.0.2.1/32"]
            ),
            peer_id_bytes=ED25519_PEER,
            peer_records=(
                PeerRecordSnapshot(
                    SIGNING_PEER,
                    public_key=SIGNING_KEY,
                    protocols=["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/nodesnap/envelope/1"],
                    metadata={
                        "AgentVersion": "nodesnap/0.1",
                        "ProtocolVersion": "ipfs/0.1.0",
                        "score": 0.25,
                        "dials": 12,
                        "relay": False,
                        "cookie": b"\x01\x02",
                        "note": None,
                    },
                    latency_ns=1_500_000,
                    signed_record=SIGNED_RECORD,
                ),
                PeerRecordSnapshot(SHA256_PEER, protocols=["/ipfs/kad/1.0.0"]),
            ),
            extensions={"libp2p/pubsub-blacklist": bytes.fromhex("9100")},
        ),
    ),
    "peer_state_edges": TransientSnapshot(
        taken_at=ClockReading(0, 0),
        framework=FrameworkSnapshot(
            address_book=(AddressBookEntrySnapshot(SHA256_PEER, (TCP_4001, QUIC_V1), 0, (0, U64)),),
            peer_governor=PeerGovernorSnapshot(
                ip_allow=["0.0.0.0/0", "::/0", "255.255.255.255/32"],
                ip_deny=["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"],
            ),
            peer_id_bytes=ED25519_PEER,
            peer_records=(
                PeerRecordSnapshot(
                    SHA256_PEER,
                    metadata={
                        "i64-min": -(2**63),
                        "u64-max": U64,
                        "neg": -1,
                        "inf": math.inf,
                        "-inf": -math.inf,
                        "max": sys.float_info.max,
                        "tiny": 5e-324,
                        "zero": 0.0,
                        "empty-str": "",
                        "empty-bin": b"",
                        "true": True,
                        "ünïcode": "🚀",
                    },
                    latency_ns=U64,
                ),
                PeerRecordSnapshot(RSA_PEER, public_key=RSA_LIKE_KEY, latency_ns=0),
                PeerRecordSnapshot(BLAKE2B_PEER, signed_record=b"\x00"),
            ),
            extensions={"a": b"", "z" * 128: bytes(300)},
        ),
    ),
}


# The JSON form of a decoded snapshot (docs/FORMAT.md §9).

SITE_EXEC = ("node_site_id", "exec_id")
NAMED_PAYLOAD = ("name", "payload")
NAMED_PAIRS = {
    (TransientSnapshot, "frontier"): SITE_EXEC,
    (InvokeIngress, "inputs"): NAMED_PAYLOAD,
    (PendingCompletionSnapshot, "results"): NAMED_PAYLOAD,
}


def typed_json(value: Any) -> dict[str, Any]:
    """A metadata value: an object naming its type (FORMAT.md §9)."""
    kind = type(value)
    if kind is float:
        return {"float": value.hex()}
    if kind is int:
        return {"int": str(value)}
    if kind is bytes:
        return {"bin": value.hex()}
    if value is None:
        return {"nil": None}
    return {{str: "str", bool: "bool"}[kind]: value}


def as_json(value: Any) -> Any:
    """A decoded value in its JSON form: integers as decimal strings, bytes as hex."""
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return str(value)
    if type(value) is bytes:
        return value.hex()
    if type(value) is FrozenMap:
        return [
            {"key": key_json(key), "value": as_json(item)} for key, item in sorted(value.items())
        ]
    if type(value) is frozenset:
        return [as_json(item) for item in sorted(value)]
    if attrs.has(type(value)):
        return record_json(value)
    return [as_json(item) for item in value]  # tuples and record tables


def key_json(key: Any) -> Any:
    return named(SITE_EXEC, key) if type(key) is tuple else as_json(key)


def named(names: tuple[str, str], pair: tuple[Any, Any]) -> dict[str, Any]:
    return {name: as_json(item) for name, item in zip(names, pair, strict=True)}


def record_json(record: Any) -> dict[str, Any]:
    cls = type(record)
    fields: dict[str, Any] = {"tag": str(record.TAG)} if cls in INGRESS_TYPES else {}
    for field in attrs.fields(cls):
        if field.name == "spec_version":  # the envelope's, not a field of the body
            continue
        value = getattr(record, field.name)
        names = NAMED_PAIRS.get((cls, field.name))
        if (cls, field.name) == (PeerRecordSnapshot, "metadata"):
            fields[field.name] = [{"key": key, "value": typed_json(item)} for key, item in value]
        elif names is None:
            fields[field.name] = as_json(value)
        else:
            fields[field.name] = [named(names, pair) for pair in value]
    return fields


def golden_json_text(snapshot: TransientSnapshot) -> str:
    document = {"spec_version": str(snapshot.spec_version), "body": record_json(snapshot)}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(V2_CASES))
def test_golden_bytes_decode_to_the_recorded_snapshot(name: str) -> None:
    assert decode((V2_DIR / f"{name}.msgpack").read_bytes()) == V2_CASES[name]


@pytest.mark.parametrize("name", sorted(V2_CASES))
def test_encoding_the_recorded_snapshot_reproduces_the_golden_bytes(name: str) -> None:
    assert encode(V2_CASES[name]) == (V2_DIR / f"{name}.msgpack").read_bytes()


@pytest.mark.parametrize("name", sorted(V2_CASES))
def test_each_golden_json_is_what_its_bytes_decode_to(name: str) -> None:
    """The two checks FORMAT.md §9 asks of any implementation."""
    golden = (V2_DIR / f"{name}.msgpack").read_bytes()
    decoded = decode(golden)
    assert (V2_DIR / f"{name}.json").read_text(encoding="utf-8") == golden_json_text(decoded)
    assert encode(decoded) == golden


@pytest.mark.parametrize("name", sorted(V1_CASES))
def test_version_1_goldens_are_still_stamped_version_1(name: str) -> None:
    golden = (V1_DIR / f"{name}.msgpack").read_bytes()
    assert golden[:2] == bytes([0x92, 0x01])
    assert json.loads((V1_DIR / f"{name}.json").read_text(encoding="utf-8"))["spec_version"] == "1"


@pytest.mark.parametrize("name", sorted(V1_CASES))
def test_version_1_goldens_migrate_to_the_recorded_snapshot(name: str) -> None:
    """Every v1 value kept; every v2 field at its default: addresses permanent, no IP filter,
    no peer records, no extensions."""
    migrated = decode((V1_DIR / f"{name}.msgpack").read_bytes())
    assert migrated == V1_CASES[name]
    framework = migrated.framework
    assert all(set(entry.expires_ns) <= {None} for entry in framework.address_book)
    assert (framework.peer_governor.ip_allow, framework.peer_governor.ip_deny) == ((), ())
    assert (len(framework.peer_records), len(framework.extensions)) == (0, 0)


@pytest.mark.parametrize("name", sorted(V1_CASES))
def test_a_migrated_version_1_golden_encodes_as_the_version_2_golden(name: str) -> None:
    migrated = decode((V1_DIR / f"{name}.msgpack").read_bytes())
    assert encode(migrated) == (V2_DIR / f"{name}.msgpack").read_bytes()


def version_1_view(document: dict[str, Any]) -> dict[str, Any]:
    """A v2 golden JSON document without what version 2 added, stamped version 1: the JSON of
    the same values under version 1's layout."""
    body = json.loads(json.dumps(document["body"]))
    framework = body["framework"]
    for entry in framework["address_book"]:
        del entry["expires_ns"]
    del framework["peer_governor"]["ip_allow"], framework["peer_governor"]["ip_deny"]
    del framework["peer_records"], framework["extensions"]
    return {"spec_version": "1", "body": body}


@pytest.mark.parametrize("name", sorted(V1_CASES))
def test_version_1_golden_json_is_its_migrated_value_without_the_new_fields(name: str) -> None:
    migrated = decode((V1_DIR / f"{name}.msgpack").read_bytes())
    expected = json.loads((V1_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert version_1_view(json.loads(golden_json_text(migrated))) == expected


def test_the_json_examples_of_the_format_are_golden_values() -> None:
    examples = FORMAT_MD[FORMAT_MD.index("For example the ingress event") :]
    app_event, counter, metadata = (
        json.loads(text) for text in re.findall(r"`(\{.*?\})`", examples)
    )
    every_ingress = json.loads((V2_DIR / "every_ingress.json").read_text(encoding="utf-8"))
    assert every_ingress["body"]["ingress"][1] == app_event
    assert as_json(FrozenMap({"sent": 3})) == [counter]
    peer_state = json.loads((V2_DIR / "peer_state.json").read_text(encoding="utf-8"))
    assert metadata in peer_state["body"]["framework"]["peer_records"][0]["metadata"]


@pytest.mark.parametrize(("directory", "cases"), [(V1_DIR, V1_CASES), (V2_DIR, V2_CASES)])
def test_every_golden_file_has_a_case(directory: Path, cases: dict[str, Any]) -> None:
    assert sorted(path.stem for path in directory.glob("*.msgpack")) == sorted(cases)
    assert sorted(path.stem for path in directory.glob("*.json")) == sorted(cases)


TYPE_NAMES = {"str", "int", "float", "bool", "bin", "nil"}


def json_paths(value: Any, path: str = "$") -> list[str]:
    """The path of `value` and of everything inside it, written as in a decode error (a
    metadata value's type-naming object is one value)."""
    if type(value) is dict and not (len(value) == 1 and set(value) <= TYPE_NAMES):
        return [
            path,
            *(p for key, item in value.items() for p in json_paths(item, f"{path}.{key}")),
        ]
    if type(value) is list:
        return [
            path,
            *(p for index, item in enumerate(value) for p in json_paths(item, f"{path}[{index}]")),
        ]
    return [path]


def test_golden_json_names_are_the_error_path_names() -> None:
    """Every value in a golden JSON body sits at a path FORMAT.md §7 lists: the JSON and the
    errors use one vocabulary, so an implementation can look up an error's path in the JSON."""
    errors = format_section(7)
    listed = set(re.findall(r"^(\$\S*)$", errors, re.M))
    pattern = re.compile(r"\[\w+\]")
    listed = {pattern.sub("[]", path) for path in listed}
    for name in V2_CASES:
        body = json.loads((V2_DIR / f"{name}.json").read_text(encoding="utf-8"))["body"]
        for path in json_paths(body):
            assert pattern.sub("[]", path) in listed, (name, path)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    V2_DIR.mkdir(parents=True, exist_ok=True)
    for case_name, case in V2_CASES.items():
        (V2_DIR / f"{case_name}.msgpack").write_bytes(encode(case))
        (V2_DIR / f"{case_name}.json").write_text(
            golden_json_text(decode(encode(case))), encoding="utf-8"
        )
