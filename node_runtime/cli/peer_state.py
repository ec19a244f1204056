"""How the commands show the peer state spec version 2 added: address expiries relative to the
snapshot's instant, public key types, metadata values with their types, latencies, sizes."""

from __future__ import annotations

from snapshot_schema.peer_record_checks import KEY_TYPES, MetadataValue
from snapshot_schema.reprs import bytes_repr

_NS = 1_000_000_000
_MAX_TEXT = 64
"""Characters of a metadata string shown; a longer one is cut, and its length said."""

_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60))


def duration(ns: int) -> str:
    """A duration as `1d02h03m04s`, `2m00s` (from its largest unit down, in whole seconds), or
    `4.250s` below a minute (in whole milliseconds)."""
    if ns < 60 * _NS:
        milliseconds = ns // 1_000_000  # cut, not rounded: 59.9999 s is not yet a minute
        return f"{milliseconds // 1000}.{milliseconds % 1000:03d}s"
    rest = ns // _NS
    parts: list[str] = []
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if parts or count:
            parts.append(f"{count:02d}{unit}" if parts else f"{count}{unit}")
    return "".join(parts) + f"{rest:02d}s"


def expiry_text(expires_ns: int | None, taken_ns: int) -> str:
    """An address's expiry as seen at the snapshot's instant `taken_ns` (monotonic ns): its
    deadline means nothing on its own, only relative to when the snapshot was taken."""
    if expires_ns is None:
        return "permanent"
    if expires_ns > taken_ns:
        return f"expires in {duration(expires_ns - taken_ns)}"
    return f"expired {duration(taken_ns - expires_ns)} before the snapshot"


def key_text(public_key: bytes | None) -> str:
    """A libp2p `PublicKey` protobuf (checked by the schema) as its key type and size."""
    if public_key is None:
        return "none"
    return f"{KEY_TYPES[public_key[1]]} ({len(public_key)} bytes)"


def type_name(value: MetadataValue) -> str:
    """A metadata value's type as docs/FORMAT.md names it: `1`, `1.0` and `True` differ."""
    return "nil" if value is None else type(value).__name__


def metadata_text(value: MetadataValue) -> str:
    """A metadata value and its type: `12 (int)`, `'nodesnap/0.1' (str)`, `nil`; long strings
    and bytes are abbreviated."""
    if value is None:
        return "nil"
    if isinstance(value, bytes):
        return f"{bytes_repr(value)} (bytes)"
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        return f"{value[:_MAX_TEXT]!r}… (str of {len(value)} characters)"
    return f"{value!r} ({type_name(value)})"


def latency_text(latency_ns: int | None) -> str:
    return "unknown" if latency_ns is None else f"{latency_ns / 1_000_000:.3f} ms"


def size_text(data: bytes | None) -> str:
    return "none" if data is None else f"{len(data)} bytes"
