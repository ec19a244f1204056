"""Build a node's snapshot, encode it, store it in ./nodesnap-data, read it back and verify it.

Run with `make demo`. This is the interim main job until the `nodesnap` CLI lands.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from pathlib import Path

from snapshot_schema import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    ClockReading,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PendingOutboundEntry,
    SnapshotError,
    TransientSnapshot,
    decode,
    encode,
)

DATA_DIR = Path("nodesnap-data")
PEERS = 1_000


def peer_id(rng: random.Random) -> bytes:
    """An Ed25519 PeerId: identity multihash of the protobuf-encoded public key."""
    return bytes.fromhex("002408011220") + rng.randbytes(32)


def build_snapshot(rng: random.Random) -> TransientSnapshot:
    now = ClockReading(time.monotonic_ns(), time.time_ns())
    peers = sorted(peer_id(rng) for _ in range(PEERS))
    tcp = bytes.fromhex("047f000001060fa1")  # /ip4/127.0.0.1/tcp/4001
    return TransientSnapshot(
        taken_at=now,
        framework=FrameworkSnapshot(
            counters={"envelopes_sent": 12_345, "dials_failed": 17},
            fired_phases=("started",),
            address_book=tuple(AddressBookEntrySnapshot(p, (tcp,), 1) for p in peers),
            peer_governor=PeerGovernorSnapshot(
                blocklist=frozenset(peers[:5]),
                health=tuple(
                    PeerHealthSnapshot(p, i % 4, now.monotonic_ns, i % 4 == 3)
                    for i, p in enumerate(peers)
                ),
            ),
            backoff_table=tuple(
                BackoffEntry(p, 2, now.monotonic_ns, now.monotonic_ns + 20_000_000_000)
                for p in peers[:50]
            ),
            pending_outbound=tuple(PendingOutboundEntry(rng.randbytes(64)) for _ in range(20)),
            peer_id_bytes=peer_id(rng),
            next_command_id=4_242,
            next_exec_id=77,
        ),
    )


def write_durably(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename, fsync the directory: a crash leaves the old or the new file."""
    temp = path.with_suffix(".tmp")
    with temp.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    temp.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def main() -> int:
    snapshot = build_snapshot(random.Random(2026))  # noqa: S311  # reproducible sample data
    started = time.perf_counter()
    data = encode(snapshot)
    encoded_ms = (time.perf_counter() - started) * 1000
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / "snapshot.msgpack"
    write_durably(path, data)

    started = time.perf_counter()
    try:
        restored = decode(path.read_bytes())
    except SnapshotError as error:
        print(f"error: {path}: {error}", file=sys.stderr)
        return 1
    decoded_ms = (time.perf_counter() - started) * 1000
    framework = restored.framework
    digest = hashlib.sha256(data).hexdigest()[:16]
    print(f"snapshot      {path} ({len(data):,} bytes, sha256 {digest})")
    print(f"spec version  {restored.spec_version}")
    print(
        f"peers         {len(framework.address_book):,} in the address book, "
        f"{len(framework.peer_governor.blocklist)} blocked, "
        f"{len(framework.backoff_table)} backing off"
    )
    print(f"outbound      {len(framework.pending_outbound)} envelopes awaiting delivery")
    print(f"next ids      command {framework.next_command_id}, exec {framework.next_exec_id}")
    print(f"timings       encode {encoded_ms:.1f} ms, decode {decoded_ms:.1f} ms")
    identical = restored == snapshot and encode(restored) == data
    print(f"round trip    {'identical' if identical else 'MISMATCH'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
