"""Value checks for what spec version 2 added: public keys, protocols, typed metadata, IP
networks and extension names. Each `*_problem` function says why a value is invalid (or `None`);
the `check_*` functions raise `SnapshotValueError` naming the field, as `checks.py` does.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from snapshot_schema.checks import U64_MAX, Path, check_name
from snapshot_schema.errors import SnapshotValueError
from snapshot_schema.multihash import read_varint

KEY_TYPES = {0: "RSA", 1: "Ed25519", 2: "Secp256k1", 3: "ECDSA"}
"""libp2p's `KeyType` enum: the key types a `PublicKey` protobuf may name."""

_FIXED_KEY_SIZES = {1: 32, 2: 33}  # Ed25519 keys are 32 bytes, compressed secp256k1 points 33

MAX_PUBLIC_KEY_SIZE = 4096
"""No public key protobuf is longer (an 8192-bit RSA key in DER is about 1,100 bytes)."""

_IDENTITY, _SHA2_256 = 0x00, 0x12

I64_MIN = -(2**63)
"""The smallest metadata integer: msgpack's int 64."""

MetadataValue = str | int | float | bool | bytes | None
"""The types a metadata value keeps exactly (docs/FORMAT.md §4)."""

_METADATA_TYPES: frozenset[type] = frozenset({str, int, float, bool, bytes, type(None)})

MAX_EXTENSION_NAME = 128
_EXTENSION_NAME = re.compile(r"[a-z0-9._/-]{1,128}")
"""Extension namespaces: lowercase ASCII letters, digits, `.`, `_`, `/`, `-`."""


def public_key_problem(key: object) -> str | None:
    """Why `key` is not a canonical libp2p `PublicKey` protobuf, or `None`.

    Canonical means exactly `08 <type> 12 <varint length> <data>`: field 1 (the key type, one of
    `KEY_TYPES`) then field 2 (the key data), nothing else, as every libp2p implementation
    marshals it. Ed25519 data is 32 bytes and Secp256k1 data 33, so the private key of either,
    which has the same protobuf shape, is refused.
    """
    if type(key) is not bytes:
        return f"expected public key `bytes`, got `{type(key).__name__}`"
    if len(key) > MAX_PUBLIC_KEY_SIZE:
        return f"public key of {len(key)} bytes exceeds the {MAX_PUBLIC_KEY_SIZE}-byte limit"
    if len(key) < 4 or key[0] != 0x08 or key[2] != 0x12:
        return "expected a libp2p PublicKey protobuf (08 <type> 12 <length> <data>)"
    key_type = key[1]
    if key_type not in KEY_TYPES:
        return f"unknown key type {key_type}"
    length = read_varint(key, 3)
    if length is None or length[0] != len(key) - length[1]:
        return "public key data length does not match its protobuf length"
    expected = _FIXED_KEY_SIZES.get(key_type)
    if expected is not None and length[0] != expected:
        return f"{KEY_TYPES[key_type]} public keys hold {expected} bytes, not {length[0]}"
    if length[0] == 0:
        return "public key data is empty"
    return None


def key_mismatch(peer_id: bytes, key: bytes) -> str | None:
    """Why `key` cannot be `peer_id`'s key, or `None`: an identity PeerId embeds its key and a
    sha2-256 PeerId hashes it (libp2p's two ways to derive one). Other hash functions are not
    used for PeerIds by libp2p and are not checked."""
    code, after_code = read_varint(peer_id, 0) or (None, 0)
    length = read_varint(peer_id, after_code)
    if length is None:
        return None  # not a multihash: the PeerId's own check reports it
    digest = peer_id[length[1] :]
    if code == _IDENTITY and digest != key:
        return "public key does not match the PeerId that embeds it"
    if code == _SHA2_256 and digest != hashlib.sha256(key).digest():
        return "public key does not hash to the PeerId"
    return None


def check_public_key(peer_id: bytes, key: object, path: Path) -> None:
    """`key` is `None` or a canonical public key protobuf that matches `peer_id`."""
    if key is None:
        return
    problem = public_key_problem(key) or key_mismatch(peer_id, key)  # type: ignore[arg-type]
    if problem is not None:
        raise SnapshotValueError(problem, path)


def check_protocols(value: object, path: Path, start: int = 0) -> None:
    """A tuple of names sorted strictly ascending: a set of protocol ids, written in order.
    (`start`: the index of its first item, when `value` is a window of a longer tuple.)"""
    if type(value) is not tuple:
        raise SnapshotValueError(f"expected `tuple`, got `{type(value).__name__}`", path)
    for index, protocol in enumerate(value):
        check_name(protocol, (*path, start + index))
        if index and value[index - 1] >= protocol:
            raise SnapshotValueError(
                "protocols must be sorted ascending, each once", (*path, start + index)
            )


def metadata_value_problem(value: object) -> str | None:
    """Why `value` cannot be a metadata value, or `None`.

    Types are kept exactly (`True` is no `1`, `1.0` no `1`). Floats are float64; NaN (which
    equals nothing, itself included) and -0.0 (which equals 0.0 but encodes differently) are
    refused, so equal metadata always encodes to equal bytes.
    """
    kind = type(value)
    if kind not in _METADATA_TYPES:
        return f"metadata values are str, int, float, bool, bytes or None, not `{kind.__name__}`"
    if kind is int and not I64_MIN <= value <= U64_MAX:  # type: ignore[operator]
        return f"metadata integer {value} is outside -2**63..2**64-1"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN is not a metadata value (it equals nothing, itself included)"
        if value == 0.0 and math.copysign(1.0, value) < 0:
            return "-0.0 is not a metadata value (write 0.0)"
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return "metadata string is not valid UTF-8 (it holds a lone surrogate)"
    return None


def check_metadata(value: object, path: Path, start: int = 0) -> None:
    """A tuple of `(key, value)` pairs, keys names sorted strictly ascending. (`start`: the
    index of its first pair, when `value` is a window of a longer tuple.)"""
    if type(value) is not tuple:
        raise SnapshotValueError(f"expected `tuple`, got `{type(value).__name__}`", path)
    for index, pair in enumerate(value):
        where = (*path, start + index)
        if type(pair) is not tuple or len(pair) != 2:
            raise SnapshotValueError("expected a (key, value) pair", where)
        key, item = pair
        check_name(key, (*where, "key"))
        if index and value[index - 1][0] >= key:
            raise SnapshotValueError(
                "metadata keys must be sorted ascending, each once", (*where, "key")
            )
        problem = metadata_value_problem(item)
        if problem is not None:
            raise SnapshotValueError(problem, (*where, "value"))


def as_metadata(value: object) -> object:
    """A mapping (or list of pairs) as sorted pairs; anything else as given, for the check (a
    tuple is what a decoded snapshot holds: it must be sorted already)."""
    if isinstance(value, Mapping):
        items: Any = list(value.items())
    elif isinstance(value, list):
        items = value
    else:
        return value
    if all(type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str for pair in items):
        items = sorted(items, key=_pair_key)
    return tuple(items)


def as_protocols(value: object) -> object:
    """A list or set of protocol names, sorted; anything else as given, for the check (a tuple
    is what a decoded snapshot holds: it must be sorted already)."""
    if isinstance(value, list | set | frozenset) and all(type(item) is str for item in value):
        return tuple(sorted(value))
    return value


def _pair_key(pair: tuple[str, object]) -> str:
    return pair[0]


def check_extension_name(value: object, path: Path) -> None:
    """An extension namespace: 1-128 characters of `[a-z0-9._/-]`."""
    if type(value) is not str:
        raise SnapshotValueError(f"expected `str`, got `{type(value).__name__}`", path)
    if _EXTENSION_NAME.fullmatch(value) is None:
        raise SnapshotValueError(
            f"extension namespace {value[:140]!r} is not 1-{MAX_EXTENSION_NAME} characters "
            "of a-z, 0-9, '.', '_', '/', '-'",
            path,
        )


def extension_names(values: tuple[Any, ...]) -> bool:
    """Column test: every value passes `check_extension_name`."""
    return set(map(type, values)) <= {str} and all(map(_EXTENSION_NAME.fullmatch, values))
