"""Harness: `PeerId.from_bytes` and `PeerId.from_string` on arbitrary input.

The first byte chooses the parser: even, the rest is a binary PeerId (a multihash); odd, the
rest is text (base58btc or a multibase CIDv1; undecodable bytes kept as lone surrogates).
Contract: a `PeerId` whose bytes, base58 and CID forms all parse back to it, or
`InvalidPeerIdError` (a `SnapshotError`). Nothing else escapes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fuzz._fixtures import parse_text_or_binary
from node_runtime import PeerId


def check(data: bytes) -> None:
    peer = parse_text_or_binary(data, PeerId.from_string, PeerId.from_bytes)
    if peer is None:
        return
    assert PeerId.from_bytes(peer.to_bytes()) == peer
    assert PeerId.from_string(str(peer)) == peer, f"{peer} does not parse back"
    assert PeerId.from_string(peer.to_cid_string()) == peer, "the CID form does not parse back"


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    fuzz(check, argv)


if __name__ == "__main__":
    main()
