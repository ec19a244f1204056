"""Golden v1 snapshots: every future build decodes these bytes to these records, and encodes
these records to these bytes. Changing either needs a spec version bump (docs/FORMAT.md).
Beside each `NAME.msgpack`, `NAME.json` holds the value it decodes to in the language-neutral
form of docs/FORMAT.md §9, for other implementations to check themselves against.

Regenerate the bytes only for a new spec version, the JSON only when §9 changes:
`python tests/schema/test_golden.py --write`.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
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

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "v1"
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

CASES: dict[str, TransientSnapshot] = {
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


# The JSON form of a decoded snapshot (docs/FORMAT.md §9).

SITE_EXEC = ("node_site_id", "exec_id")
NAMED_PAYLOAD = ("name", "payload")
NAMED_PAIRS = {
    (TransientSnapshot, "frontier"): SITE_EXEC,
    (InvokeIngress, "inputs"): NAMED_PAYLOAD,
    (PendingCompletionSnapshot, "results"): NAMED_PAYLOAD,
}


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
        fields[field.name] = (
            as_json(value) if names is None else [named(names, pair) for pair in value]
        )
    return fields


def golden_json_text(snapshot: TransientSnapshot) -> str:
    document = {"spec_version": str(snapshot.spec_version), "body": record_json(snapshot)}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bytes_decode_to_the_recorded_snapshot(name: str) -> None:
    assert decode((GOLDEN_DIR / f"{name}.msgpack").read_bytes()) == CASES[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_the_recorded_snapshot_reproduces_the_golden_bytes(name: str) -> None:
    assert encode(CASES[name]) == (GOLDEN_DIR / f"{name}.msgpack").read_bytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_golden_json_is_what_its_bytes_decode_to(name: str) -> None:
    """The two checks FORMAT.md §9 asks of any implementation."""
    golden = (GOLDEN_DIR / f"{name}.msgpack").read_bytes()
    decoded = decode(golden)
    assert (GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8") == golden_json_text(decoded)
    assert encode(decoded) == golden


def test_the_json_examples_of_the_format_are_golden_values() -> None:
    examples = FORMAT_MD[FORMAT_MD.index("For example the ingress event") :]
    app_event, counter = (json.loads(text) for text in re.findall(r"`(\{.*?\})`", examples))
    every_ingress = json.loads((GOLDEN_DIR / "every_ingress.json").read_text(encoding="utf-8"))
    assert every_ingress["body"]["ingress"][1] == app_event
    assert as_json(FrozenMap({"sent": 3})) == [counter]


def test_every_golden_file_has_a_case() -> None:
    assert sorted(path.stem for path in GOLDEN_DIR.glob("*.msgpack")) == sorted(CASES)
    assert sorted(path.stem for path in GOLDEN_DIR.glob("*.json")) == sorted(CASES)


def json_paths(value: Any, path: str = "$") -> list[str]:
    """The path of `value` and of everything inside it, written as in a decode error."""
    if type(value) is dict:
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
    for name in CASES:
        body = json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))["body"]
        for path in json_paths(body):
            assert pattern.sub("[]", path) in listed, (name, path)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for case_name, case in CASES.items():
        (GOLDEN_DIR / f"{case_name}.msgpack").write_bytes(encode(case))
        (GOLDEN_DIR / f"{case_name}.json").write_text(
            golden_json_text(decode(encode(case))), encoding="utf-8"
        )
