"""Harness: `PeerId.from_bytes` and `PeerId.from_string` on arbitrary input.

The first byte chooses the parser: even, the rest is a binary PeerId (a multihash); odd, the
rest is text (base58btc or a multibase CIDv1; undecodable bytes kept as lone surrogates).
Contract: a `PeerId` whose bytes, base58 and CID forms all parse back to it, or
`InvalidPeerIdError` (a `SnapshotError`). Nothing else escapes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from node_runtime import PeerId
from snapshot_schema import SnapshotError


def check(data: bytes) -> None:
    if not data:
        return
    payload = data[1:]
    try:
        if data[0] & 1:
            peer = PeerId.from_string(payload.decode("utf-8", "surrogateescape"))
        else:
            peer = PeerId.from_bytes(payload)
            assert peer.to_bytes() == payload, "accepted bytes are not kept as given"
    except SnapshotError:
        return
    assert PeerId.from_bytes(peer.to_bytes()) == peer
    assert PeerId.from_string(str(peer)) == peer, f"{peer} does not parse back"
    assert PeerId.from_string(peer.to_cid_string()) == peer, "the CID form does not parse back"


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    fuzz(check, argv)


if __name__ == "__main__":
    main()
