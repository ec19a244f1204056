"""How the commands show things: PeerIds and multiaddrs as text, times as ISO-8601 UTC, every
line with its control characters escaped, and a snapshot as JSON (bytes as hex, 64-bit integers
as strings, keys in record field order, so the output is stable)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

import attrs

from node_runtime.errors import InvalidMultiaddrError, InvalidPeerIdError
from node_runtime.multiaddr import Multiaddr
from node_runtime.peer_id import PeerId
from node_runtime.sealed_file import Flags, SealedHeader
from snapshot_schema import (
    INGRESS_TYPES,
    AddressBookEntrySnapshot,
    BackoffEntry,
    ExecutionStateSnapshot,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    RecordTable,
)
from snapshot_schema.peer_record_checks import MetadataValue

_NS = 1_000_000_000

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]


def printable(line: str) -> str:
    """`line` safe to show on a terminal: every character that is not printable (control
    characters such as ESC, which could move the cursor or rewrite the screen; bidi overrides;
    surrogates from undecodable file names) as its Python escape, `\\x1b`, `\\u202e`."""
    if line.isprintable():
        return line
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in line)


def say(*lines: str) -> None:
    """Print `lines` to stdout, each made `printable`: snapshots hold strings from anywhere."""
    for line in lines:
        print(printable(line))


def peer_text(peer: bytes) -> str:
    """A PeerId's text; hex for bytes that are a multihash but no PeerId this build knows."""
    try:
        return str(PeerId.from_bytes(peer))
    except InvalidPeerIdError:
        return peer.hex()


def address_text(address: bytes) -> str:
    """A multiaddr's text (it starts with `/`); hex when the bytes do not parse as one."""
    try:
        return str(Multiaddr.from_bytes(address))
    except InvalidMultiaddrError:
        return address.hex()


def iso_utc(wall_ns: int) -> str:
    """Nanoseconds since the epoch as ISO-8601 UTC, to the nanosecond."""
    seconds, fraction = divmod(wall_ns, _NS)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"


def seconds(ns: int) -> str:
    """A duration in seconds, to the millisecond."""
    return f"{ns / _NS:.3f} s"


def flag_names(flags: Flags) -> list[str]:
    return [flag.name.lower() for flag in Flags if flag in flags and flag.name is not None]


def flags_text(flags: Flags) -> str:
    return ",".join(flag_names(flags)) or "plain"


def header_summary(header: SealedHeader) -> str:
    """One line: what `validate` and `store verify` print for a file that verifies."""
    return (
        f"generation {header.generation}, spec {header.spec_version}, "
        f"peer {header.peer_id}, {flags_text(header.flags)}"
    )


def u64(value: int) -> str:
    """A 64-bit integer in JSON: a string of decimal digits (the protobuf JSON convention), as
    JavaScript and jq hold numbers in doubles, exact only up to 2**53."""
    return str(value)


def header_json(header: SealedHeader) -> dict[str, JsonValue]:
    """The header's fields; the 16-bit ones (versions, header length) as numbers."""
    return {
        "container_version": header.container_version,
        "spec_version": header.spec_version,
        "peer_id": str(header.peer_id),
        "generation": u64(header.generation),
        "created_wall_ns": u64(header.created_wall_ns),
        "created": iso_utc(header.created_wall_ns),
        "flags": list[JsonValue](flag_names(header.flags)),
        "header_length": header.header_length,
        "body_length": u64(header.body_length),
        "encoded_length": u64(header.encoded_length),
        "file_length": u64(header.file_length),
        "key_id": None if header.key_id is None else header.key_id.hex(),
        "nonce": None if header.nonce is None else header.nonce.hex(),
    }


def _peers(value: object) -> JsonValue:
    if value is None:
        return None
    assert isinstance(value, bytes | frozenset)  # the fields below hold one peer or a set
    if isinstance(value, bytes):
        return peer_text(value)
    return [peer_text(peer) for peer in sorted(value)]


def _addresses(value: object) -> JsonValue:
    assert isinstance(value, tuple)
    return [address_text(address) for address in value]


def _u32(value: object) -> JsonValue:
    assert isinstance(value, int)
    return value


def _networks(value: object) -> JsonValue:
    assert isinstance(value, tuple)
    return [str(network) for network in value]  # IpNetwork's text: 10.0.0.0/8


def _typed(value: MetadataValue) -> JsonValue:
    """A metadata value as an object naming its type, as docs/FORMAT.md §9 writes it: a JSON
    number could not tell `1` from `1.0` or `true`. Integers are decimal strings like every
    integer here; a float is the shortest decimal text that reads back as it (`"inf"`)."""
    if value is None:
        return {"nil": None}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": u64(value)}
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    return {"str": value}


def _metadata(value: object) -> JsonValue:
    assert isinstance(value, tuple)  # (key, value) pairs, keys unique and sorted
    return {key: _typed(item) for key, item in value}


# Fields whose bytes are PeerIds or multiaddrs, shown as text; every other byte string as hex.
# IP networks as text (`10.0.0.0/8`), metadata values with their types. The u32 fields
# (docs/FORMAT.md §2, §3) stay numbers; every other integer is a u64: a string.
_FIELD_VIEWS = {
    (FrameworkSnapshot, "spec_version"): _u32,
    (PeerGovernorSnapshot, "failure_threshold"): _u32,
    (PeerHealthSnapshot, "consecutive_failures"): _u32,
    (BackoffEntry, "attempts"): _u32,
    (ExecutionStateSnapshot, "outputs_written"): _u32,
    (AddressBookEntrySnapshot, "peer_id"): _peers,
    (AddressBookEntrySnapshot, "addresses"): _addresses,
    (PeerHealthSnapshot, "peer_id"): _peers,
    (BackoffEntry, "peer_id"): _peers,
    (PeerGovernorSnapshot, "blocklist"): _peers,
    (PeerGovernorSnapshot, "allowlist"): _peers,
    (FrameworkSnapshot, "peer_id_bytes"): _peers,
    (PeerGovernorSnapshot, "ip_allow"): _networks,
    (PeerGovernorSnapshot, "ip_deny"): _networks,
    (PeerRecordSnapshot, "peer_id"): _peers,
    (PeerRecordSnapshot, "metadata"): _metadata,
}


def to_json(value: object) -> JsonValue:
    """Any snapshot value as JSON: records as objects (ingress events also name their `kind`),
    mappings with text or integer keys as objects, other mappings as `[key, value]` pairs, sets
    sorted, u64 integers as strings (u32 record fields are numbers), IP networks as text and
    metadata values typed: see `_FIELD_VIEWS`."""
    record = type(value)
    if attrs.has(record):
        out: dict[str, JsonValue] = {"kind": record.__name__} if record in INGRESS_TYPES else {}
        for field in attrs.fields(record):
            view = _FIELD_VIEWS.get((record, field.name), to_json)
            out[field.name] = view(getattr(value, field.name))
        return out
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | RecordTable):
        return [to_json(item) for item in value]
    if isinstance(value, frozenset):
        return sorted((to_json(item) for item in value), key=json.dumps)
    if isinstance(value, Mapping):
        if all(type(key) in (str, int) for key in value):
            return {str(key): to_json(item) for key, item in value.items()}
        return [[to_json(key), to_json(item)] for key, item in value.items()]
    if isinstance(value, int) and not isinstance(value, bool):
        return u64(value)
    assert value is None or isinstance(value, bool | str)  # the scalars records hold
    return value


def dump_json(value: JsonValue) -> str:
    """`value` as JSON text in ASCII: every other character as a `\\u` escape, so that no
    string from a snapshot reaches the terminal raw, whatever its encoding."""
    return json.dumps(value, indent=2, ensure_ascii=True)
