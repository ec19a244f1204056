"""Harness: `Multiaddr.from_bytes` and `Multiaddr.from_string` on arbitrary input.

The first byte chooses the parser: even, the rest is binary multiaddr; odd, the rest is text
(UTF-8, undecodable bytes kept as lone surrogates, as `os.fsdecode` would hand them over).
Contract: a `Multiaddr` whose binary and text forms both round-trip exactly, or
`InvalidMultiaddrError` (a `SnapshotError`). Nothing else escapes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fuzz._fixtures import parse_text_or_binary
from node_runtime import Multiaddr


def _check_valid(address: Multiaddr) -> None:
    binary = address.to_bytes()
    text = str(address)
    assert Multiaddr.from_bytes(binary) == address, "binary form does not round-trip"
    assert Multiaddr.from_string(text) == address, f"text form {text!r} does not round-trip"
    assert Multiaddr.from_string(text).to_bytes() == binary
    assert len(address.components()) >= 1


def check(data: bytes) -> None:
    address = parse_text_or_binary(data, Multiaddr.from_string, Multiaddr.from_bytes)
    if address is not None:
        _check_valid(address)


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    fuzz(check, argv)


if __name__ == "__main__":
    main()
