"""Harness: `snapshot_schema.decode` on arbitrary bytes.

Contract: a `TransientSnapshot` that re-encodes to bytes decoding to the same value, or a
`SnapshotError` (`SnapshotDecodeError`, `IncompatibleSnapshotVersion`). Nothing else escapes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from snapshot_schema import SnapshotError, TransientSnapshot, decode, encode


def check(data: bytes) -> None:
    try:
        snapshot = decode(data)
    except SnapshotError:
        return
    assert isinstance(snapshot, TransientSnapshot)
    assert decode(encode(snapshot)) == snapshot, "a decoded snapshot does not round-trip"


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    fuzz(check, argv)


if __name__ == "__main__":
    main()
