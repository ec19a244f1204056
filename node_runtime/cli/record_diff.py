"""`nodesnap diff`'s lines for peer records and extensions: what changed in each, field by
field, one line per change. Metadata values are compared with their types (`1`, `1.0` and
`True` are three different values), as the snapshot keeps them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from node_runtime.cli.peer_state import key_text, latency_text, metadata_text, size_text
from node_runtime.cli.render import peer_text
from snapshot_schema import PeerRecordSnapshot
from snapshot_schema.peer_record_checks import MetadataValue

Value = TypeVar("Value")


def peer_record_changes(
    a_rows: Sequence[PeerRecordSnapshot], b_rows: Sequence[PeerRecordSnapshot]
) -> list[str]:
    """`+ peer` with what its new record holds, `~ peer <change>` per changed field (in
    field order), `- peer`; peers in b's order, then those only a has."""
    a = {record.peer_id: record for record in a_rows}
    b = {record.peer_id: record for record in b_rows}
    lines = []
    for peer, new in b.items():
        old = a.get(peer)
        if old is None:
            lines.append(f"+ {peer_text(peer)} {_contents(new)}")
        elif old != new:
            lines += [f"~ {peer_text(peer)} {change}" for change in _record_changes(old, new)]
    return lines + [f"- {peer_text(peer)}" for peer in a if peer not in b]


def _contents(record: PeerRecordSnapshot) -> str:
    parts = []
    if record.public_key is not None:
        parts.append(f"public key {key_text(record.public_key)}")
    if record.protocols:
        parts.append(f"{len(record.protocols)} protocols")
    if record.metadata:
        parts.append(f"{len(record.metadata)} metadata entries")
    if record.latency_ns is not None:
        parts.append(f"latency {latency_text(record.latency_ns)}")
    if record.signed_record is not None:
        parts.append(f"signed record {size_text(record.signed_record)}")
    return ", ".join(parts) or "(nothing known)"


def _record_changes(old: PeerRecordSnapshot, new: PeerRecordSnapshot) -> list[str]:
    changes = _replaced("public key", old.public_key, new.public_key, key_text)
    changes += [
        f"+protocol {protocol}" for protocol in new.protocols if protocol not in old.protocols
    ]
    changes += [
        f"-protocol {protocol}" for protocol in old.protocols if protocol not in new.protocols
    ]
    changes += _metadata_changes(dict(old.metadata), dict(new.metadata))
    changes += _replaced("latency", old.latency_ns, new.latency_ns, latency_text)
    changes += _replaced("signed record", old.signed_record, new.signed_record, size_text)
    return changes


def _metadata_changes(
    old: Mapping[str, MetadataValue], new: Mapping[str, MetadataValue]
) -> list[str]:
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            changes.append(f"+metadata {key} = {metadata_text(new[key])}")
        elif key not in new:
            changes.append(f"-metadata {key}")
        elif not same_value(old[key], new[key]):
            changes.append(f"metadata {key} {metadata_text(old[key])} -> {metadata_text(new[key])}")
    return changes


def same_value(a: MetadataValue, b: MetadataValue) -> bool:
    """Equal and of the same type: Python holds `1 == 1.0 == True`, a snapshot does not."""
    return type(a) is type(b) and a == b


def _replaced(what: str, old: Value, new: Value, show: Callable[[Value], str]) -> list[str]:
    """`what old -> new`, or `what changed (new)` when both read the same (another signed
    record of the same size); nothing when the value did not change."""
    if old == new:
        return []
    return [_change(what, show(old), show(new))]


def _change(what: str, before: str, after: str) -> str:
    return f"{what} changed ({after})" if before == after else f"{what} {before} -> {after}"


def extension_changes(a: Mapping[str, bytes], b: Mapping[str, bytes]) -> list[str]:
    """`+ namespace (size)`, `~ namespace old size -> new size`, `- namespace`, by namespace."""
    lines = []
    for namespace in sorted(a.keys() | b.keys()):
        old, new = a.get(namespace), b.get(namespace)
        if old is None:
            lines.append(f"+ {namespace} ({size_text(new)})")
        elif new is None:
            lines.append(f"- {namespace}")
        elif old != new:
            lines.append(f"~ {_change(namespace, size_text(old), size_text(new))}")
    return lines
