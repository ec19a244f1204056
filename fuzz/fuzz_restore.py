"""Harness: `Node.restore(decode(data), identity)`: a node rebuilt from arbitrary bytes.

The decoded snapshot is re-addressed to the harness's `IDENTITY` (the PeerId check is one
comparison; what lies behind it is the interesting part), then restored on a fixed clock.
Contract: a `Node` that snapshots again into a snapshot that round-trips through the codec, or
a `SnapshotError` from decoding or restoring. Nothing else escapes: a snapshot `decode` accepts
but a component refuses must be reported as a `SnapshotError` too. What restore repairs stays
repaired in the new snapshot: no address expired by the restore's clock, no signed peer record
that does not verify for its peer, no entry for the node's own PeerId.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Sequence

import attrs

from fuzz._fixtures import IDENTITY
from node_runtime import ManualClock, Node, verify_signed_peer_record
from snapshot_schema import FrameworkSnapshot, SnapshotError, decode, encode

PEER = IDENTITY.peer_id.to_bytes()
NOW = 3_600_000_000_000
"""The restoring node's PeerId and its clock's monotonic reading."""
_NOW_WALL_NS = 1_764_000_000_000_000_000


def check(data: bytes) -> None:
    try:
        snapshot = decode(data)
    except SnapshotError:
        return
    if snapshot.framework.peer_id_bytes != PEER:
        snapshot = attrs.evolve(
            snapshot, framework=attrs.evolve(snapshot.framework, peer_id_bytes=PEER)
        )
    clock = ManualClock(monotonic_ns=NOW, wall_ns=_NOW_WALL_NS)
    try:
        node = Node.restore(snapshot, IDENTITY, clock=clock, rng=random.Random(0))  # noqa: S311
    except SnapshotError:
        return
    again = node.snapshot()
    assert decode(encode(again)) == again, "a restored node's snapshot does not round-trip"
    assert again.framework.peer_id_bytes == PEER
    check_repaired(again.framework)


def check_repaired(framework: FrameworkSnapshot) -> None:
    """What restore drops or refuses is not in the restored node's snapshot."""
    for _peer, _addresses, _ref_count, expires in framework.address_book.rows:
        assert all(expiry is None or expiry > NOW for expiry in expires), (
            "an address expired by the restore's clock was kept"
        )
    for record in framework.peer_records:
        if record.signed_record is not None:
            verify_signed_peer_record(record.signed_record, expected_peer=record.peer_id)
    tables = (framework.address_book, framework.peer_governor.health, framework.backoff_table)
    peers = {row[0] for table in (*tables, framework.peer_records) for row in table.rows}
    assert PEER not in peers | framework.peer_governor.blocklist, "an entry for the node itself"


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    # Restore logs each signed record it refuses; mutated inputs hold many. Only this process's
    # output (libFuzzer's) is spared them: records and their effects are still checked above.
    logging.getLogger("node_runtime").addHandler(logging.NullHandler())
    logging.getLogger("node_runtime").propagate = False
    fuzz(check, argv)


if __name__ == "__main__":
    main()
