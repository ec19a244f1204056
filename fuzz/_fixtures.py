"""Fixed keys the harnesses (and the seed generator) share, so seeds reach signed and encrypted
paths: the node identity whose snapshots are sealed and restored, and the encryption key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from node_runtime import Identity
from snapshot_schema import SnapshotError

IDENTITY = Identity.from_private_bytes(bytes(32))
"""The node every seed belongs to: signs sealed seeds, owns restored snapshots."""
ENCRYPTION_KEY = bytes(range(32))
"""The AES-256-GCM key encrypted seeds are sealed with."""
OTHER_KEY = bytes([0xEE]) * 32
"""A key the files were not sealed with (the wrong-key path)."""


class _Binary(Protocol):
    def to_bytes(self) -> bytes: ...


_Parsed = TypeVar("_Parsed", bound=_Binary)


def parse_text_or_binary(
    data: bytes, from_string: Callable[[str], _Parsed], from_bytes: Callable[[bytes], _Parsed]
) -> _Parsed | None:
    """The first byte chooses the parser: odd, the rest is text (UTF-8, undecodable bytes kept as
    lone surrogates, as `os.fsdecode` would hand them over); even, the rest is the binary form,
    which must then be the canonical bytes of what it parsed to. `None` when the parser refused
    with a `SnapshotError` (or `data` is empty)."""
    if not data:
        return None
    payload = data[1:]
    try:
        if data[0] & 1:
            return from_string(payload.decode("utf-8", "surrogateescape"))
        parsed = from_bytes(payload)
    except SnapshotError:
        return None
    assert parsed.to_bytes() == payload, "accepted bytes are not the canonical form"
    return parsed
