"""Harness: `snapshot_schema.decode_delta` on arbitrary bytes.

Contract: a `SnapshotDelta` that re-encodes to bytes decoding to the same delta (bytes that
then re-encode to themselves), or a `SnapshotError` (`SnapshotDecodeError`,
`IncompatibleDeltaVersion`, `IncompatibleSnapshotVersion`). Nothing else escapes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from snapshot_schema import SnapshotDelta, SnapshotError, decode_delta, encode_delta


def check(data: bytes) -> None:
    try:
        delta = decode_delta(data)
    except SnapshotError:
        return
    assert isinstance(delta, SnapshotDelta)
    canonical = encode_delta(delta)
    assert decode_delta(canonical) == delta, "a decoded delta does not round-trip"
    assert encode_delta(decode_delta(canonical)) == canonical, "a delta's bytes are not stable"


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    fuzz(check, argv)


if __name__ == "__main__":
    main()
