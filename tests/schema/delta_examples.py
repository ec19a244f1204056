"""What the delta tests share: PeerIds by number, small snapshots, a base with every kind of
field filled."""

from typing import Any

import attrs

from snapshot_schema import (
    AddressBookEntrySnapshot,
    ClockReading,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PendingOutboundEntry,
    TimerMaturedIngress,
    TransientSnapshot,
)


def peer(n: int) -> bytes:
    return bytes.fromhex("1220") + bytes(31) + bytes([n])


ME = peer(0)
BEFORE = ClockReading(monotonic_ns=1_000, wall_ns=1_700_000_000_000_000_000)
AFTER = ClockReading(monotonic_ns=2_000, wall_ns=1_700_000_000_000_001_000)


def book(*rows: tuple[int, int]) -> tuple[AddressBookEntrySnapshot, ...]:
    """Address book entries `(peer number, ref_count)`, in the order given."""
    return tuple(AddressBookEntrySnapshot(peer(n), ref_count=count) for n, count in rows)


def snapshot(taken_at: ClockReading = BEFORE, **fields: Any) -> TransientSnapshot:
    framework_fields = {
        name: fields.pop(name)
        for name in list(fields)
        if name in attrs.fields_dict(FrameworkSnapshot) or name == "peer_governor"
    }
    framework = FrameworkSnapshot(peer_id_bytes=ME, **framework_fields)
    return TransientSnapshot(taken_at=taken_at, framework=framework, **fields)


BASE = snapshot(
    frontier=[(1, 1), (2, 2), (3, 3)],
    counters={"kept": 1, "gone": 2, "changed": 3},
    address_book=book((2, 0), (4, 0), (6, 0), (8, 0)),
    peer_governor=PeerGovernorSnapshot(
        blocklist={peer(1), peer(2)},
        allowlist={peer(3)},
        health=[PeerHealthSnapshot(peer(5))],
    ),
    pending_outbound=[PendingOutboundEntry(b"a"), PendingOutboundEntry(b"b")],
    ingress=[TimerMaturedIngress(1)],
)
