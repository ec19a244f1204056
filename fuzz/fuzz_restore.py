"""Harness: `Node.restore(decode(data), identity)`: a node rebuilt from arbitrary bytes.

The decoded snapshot is re-addressed to the harness's `IDENTITY` (the PeerId check is one
comparison; what lies behind it is the interesting part), then restored on a fixed clock.
Contract: a `Node` that snapshots again into a snapshot that round-trips through the codec, or
a `SnapshotError` from decoding or restoring. Nothing else escapes: a snapshot `decode` accepts
but a component refuses must be reported as a `SnapshotError` too.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence

import attrs

from fuzz._fixtures import IDENTITY
from node_runtime import ManualClock, Node
from snapshot_schema import SnapshotError, decode, encode

_PEER = IDENTITY.peer_id.to_bytes()
_NOW_MONOTONIC_NS = 3_600_000_000_000
_NOW_WALL_NS = 1_764_000_000_000_000_000


def check(data: bytes) -> None:
    try:
        snapshot = decode(data)
    except SnapshotError:
        return
    if snapshot.framework.peer_id_bytes != _PEER:
        snapshot = attrs.evolve(
            snapshot, framework=attrs.evolve(snapshot.framework, peer_id_bytes=_PEER)
        )
    clock = ManualClock(monotonic_ns=_NOW_MONOTONIC_NS, wall_ns=_NOW_WALL_NS)
    try:
        node = Node.restore(snapshot, IDENTITY, clock=clock, rng=random.Random(0))  # noqa: S311
    except SnapshotError:
        return
    again = node.snapshot()
    assert decode(encode(again)) == again, "a restored node's snapshot does not round-trip"
    assert again.framework.peer_id_bytes == _PEER


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    fuzz(check, argv)


if __name__ == "__main__":
    main()
