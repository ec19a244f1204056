"""Compact `repr`s for record fields that can be large (byte strings, whole tables)."""

from __future__ import annotations

from snapshot_schema.record_table import RecordTable

_BYTES_SHOWN = 16
_ITEMS_SHOWN = 4


def bytes_repr(value: object) -> str:
    """`<38 bytes 0024080112205f3a…>` instead of a wall of escapes."""
    if not isinstance(value, bytes):
        return repr(value)
    shown = value[:_BYTES_SHOWN].hex()
    more = "…" if len(value) > _BYTES_SHOWN else ""
    return f"<{len(value)} bytes {shown}{more}>"


def seq_repr(value: object) -> str:
    """A tuple (or table) shown in full when short, else its first items and how many there are."""
    if not isinstance(value, tuple | RecordTable):
        return repr(value)
    items = [bytes_repr(item) for item in value[:_ITEMS_SHOWN]]
    if len(value) > _ITEMS_SHOWN:
        items.append(f"… {len(value)} items in all")
    trailing = "," if len(value) == 1 else ""
    return f"({', '.join(items)}{trailing})"


def set_repr(value: object) -> str:
    """A frozenset of byte strings shown sorted, compactly."""
    if not isinstance(value, frozenset):
        return repr(value)
    return f"frozenset({seq_repr(tuple(sorted(value)))})"
