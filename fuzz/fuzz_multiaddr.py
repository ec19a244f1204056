"""Harness: `Multiaddr.from_bytes` and `Multiaddr.from_string` on arbitrary input.

The first byte chooses the parser: even, the rest is binary multiaddr; odd, the rest is text
(UTF-8, undecodable bytes kept as lone surrogates, as `os.fsdecode` would hand them over).
Contract: a `Multiaddr` whose binary and text forms both round-trip exactly, or
`InvalidMultiaddrError` (a `SnapshotError`). Nothing else escapes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from node_runtime import Multiaddr
from snapshot_schema import SnapshotError


def _check_valid(address: Multiaddr) -> None:
    binary = address.to_bytes()
    text = str(address)
    assert Multiaddr.from_bytes(binary) == address, "binary form does not round-trip"
    assert Multiaddr.from_string(text) == address, f"text form {text!r} does not round-trip"
    assert Multiaddr.from_string(text).to_bytes() == binary
    assert len(address.components()) >= 1


def check(data: bytes) -> None:
    if not data:
        return
    payload = data[1:]
    try:
        if data[0] & 1:
            address = Multiaddr.from_string(payload.decode("utf-8", "surrogateescape"))
        else:
            address = Multiaddr.from_bytes(payload)
            assert address.to_bytes() == payload, "accepted bytes are not the canonical form"
    except SnapshotError:
        return
    _check_valid(address)


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    fuzz(check, argv)


if __name__ == "__main__":
    main()
