"""A fast structural check of multihash bytes (the canonical binary form of a PeerId).

`multiformats.multihash.unwrap` validates the same structure but costs tens of microseconds a
call, mostly its runtime type checks; a snapshot holds a PeerId per table row, so decode checks
the structure here and keeps `multiformats` for its code table.

A multihash is `varint(code) ‖ varint(length) ‖ digest`, where both varints are unsigned LEB128
in their shortest form (https://github.com/multiformats/unsigned-varint) and `digest` is exactly
`length` bytes. The code must be a multihash code in the multicodec table.
"""

from __future__ import annotations

from multiformats import multicodec

MULTIHASH_CODES: frozenset[int] = frozenset(
    codec.code for codec in multicodec.table(tag="multihash")
)
"""Every hash function code the multicodec table knows (identity, sha2-256, blake2b-256, …)."""

MAX_MULTIHASH_SIZE = 1024
"""No multihash longer than this is accepted (the largest digests are 64 bytes; identity
multihashes inline small public keys)."""

_MAX_VARINT_BYTES = 9  # the unsigned-varint spec caps varints at 9 bytes (63 bits)
SINGLE_BYTE_CODES: frozenset[int] = frozenset(code for code in MULTIHASH_CODES if code < 0x80)
"""The codes whose varint is one byte: the byte itself."""


def read_varint(data: bytes, offset: int) -> tuple[int, int] | None:
    """The shortest-form unsigned varint at `offset` and the offset after it, or `None`."""
    value = 0
    shift = 0
    for index in range(offset, min(len(data), offset + _MAX_VARINT_BYTES)):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            # A final zero byte after other bytes is a non-minimal (padded) encoding.
            if byte == 0 and index > offset:
                return None
            return value, index + 1
        shift += 7
    return None


def multihash_problem(data: bytes) -> str | None:
    """Why `data` is not a well-formed multihash, or `None` when it is."""
    if type(data) is not bytes:
        return f"expected multihash `bytes`, got `{type(data).__name__}`"
    if len(data) > MAX_MULTIHASH_SIZE:
        return f"multihash of {len(data)} bytes exceeds the {MAX_MULTIHASH_SIZE}-byte limit"
    code = read_varint(data, 0)
    if code is None:
        return "multihash code is not a shortest-form varint"
    if code[0] not in MULTIHASH_CODES:
        return f"unknown multihash code 0x{code[0]:x}"
    length = read_varint(data, code[1])
    if length is None:
        return "multihash digest length is not a shortest-form varint"
    actual = len(data) - length[1]
    if actual != length[0]:
        return f"multihash declares a {length[0]}-byte digest but carries {actual} bytes"
    return None


def is_multihash(data: object) -> bool:
    """True when `data` is well-formed multihash `bytes`; a fast path for the common shapes."""
    if type(data) is not bytes:
        return False
    # Every PeerId in practice (identity, sha2-256, …) has a one-byte code and a one-byte length.
    if len(data) >= 2 and data[1] < 0x80 and data[0] in SINGLE_BYTE_CODES:
        return len(data) == data[1] + 2
    return multihash_problem(data) is None
