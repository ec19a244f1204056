"""Golden v1 snapshots: every future build decodes these bytes to these records, and encodes
these records to these bytes. Changing either needs a spec version bump (docs/FORMAT.md).

Regenerate only for a new spec version: `python tests/schema/test_golden.py --write`.
"""

import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_bytes_decode_to_the_recorded_snapshot(name: str) -> None:
    assert decode((GOLDEN_DIR / f"{name}.msgpack").read_bytes()) == CASES[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoding_the_recorded_snapshot_reproduces_the_golden_bytes(name: str) -> None:
    assert encode(CASES[name]) == (GOLDEN_DIR / f"{name}.msgpack").read_bytes()


def test_every_golden_file_has_a_case() -> None:
    assert sorted(path.stem for path in GOLDEN_DIR.glob("*.msgpack")) == sorted(CASES)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for case_name, case in CASES.items():
        (GOLDEN_DIR / f"{case_name}.msgpack").write_bytes(encode(case))
