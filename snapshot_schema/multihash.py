"""A fast structural check of multihash bytes (the canonical binary form of a PeerId).

`multiformats.multihash.unwrap` validates the same structure but costs tens of microseconds a
call, mostly its runtime type checks; a snapshot holds a PeerId per table row, so decode checks
the structure here.

A multihash is `varint(code) ‖ varint(length) ‖ digest`, where both varints are unsigned LEB128
in their shortest form (https://github.com/multiformats/unsigned-varint) and `digest` is exactly
`length` bytes. The code must be one of `MULTIHASH_CODE_TABLE`.
"""

from __future__ import annotations

MULTIHASH_CODE_TABLE: tuple[tuple[int, int, str], ...] = (
    (0x00, 0x00, "identity"),
    (0x11, 0x11, "sha1"),
    (0x12, 0x12, "sha2-256"),
    (0x13, 0x13, "sha2-512"),
    (0x14, 0x14, "sha3-512"),
    (0x15, 0x15, "sha3-384"),
    (0x16, 0x16, "sha3-256"),
    (0x17, 0x17, "sha3-224"),
    (0x18, 0x18, "shake-128"),
    (0x19, 0x19, "shake-256"),
    (0x1A, 0x1A, "keccak-224"),
    (0x1B, 0x1B, "keccak-256"),
    (0x1C, 0x1C, "keccak-384"),
    (0x1D, 0x1D, "keccak-512"),
    (0x1E, 0x1E, "blake3"),
    (0x20, 0x20, "sha2-384"),
    (0x56, 0x56, "dbl-sha2-256"),
    (0xD4, 0xD4, "md4"),
    (0xD5, 0xD5, "md5"),
    (0x1012, 0x1012, "sha2-256-trunc254-padded"),
    (0x1013, 0x1013, "sha2-224"),
    (0x1014, 0x1014, "sha2-512-224"),
    (0x1015, 0x1015, "sha2-512-256"),
    (0x1052, 0x1052, "ripemd-128"),
    (0x1053, 0x1053, "ripemd-160"),
    (0x1054, 0x1054, "ripemd-256"),
    (0x1055, 0x1055, "ripemd-320"),
    (0x1100, 0x1100, "x11"),
    (0x1D01, 0x1D01, "kangarootwelve"),
    (0x534D, 0x534D, "sm3-256"),
    (0xB201, 0xB240, "blake2b-8 … blake2b-512"),
    (0xB241, 0xB260, "blake2s-8 … blake2s-256"),
    (0xB301, 0xB320, "skein256-8 … skein256-256"),
    (0xB321, 0xB360, "skein512-8 … skein512-512"),
    (0xB361, 0xB3E0, "skein1024-8 … skein1024-1024"),
    (0xB401, 0xB401, "poseidon-bls12_381-a2-fc1"),
    (0xB402, 0xB402, "poseidon-bls12_381-a2-fc1-sc"),
    (0xB502, 0xB502, "ssz-sha2-256-bmt"),
)
"""The accepted multihash codes as `(first, last, name)` rows, `last` inclusive; a range's codes
step the digest size by 8 bits. These are the multihash-tagged rows of the multicodec table as
py-multiformats 0.3.1 ships it, pinned here (and listed in docs/FORMAT.md §4) so that upgrading
a library never changes which snapshots decode."""

MULTIHASH_CODES: frozenset[int] = frozenset(
    code for first, last, _name in MULTIHASH_CODE_TABLE for code in range(first, last + 1)
)
"""Every accepted hash function code (identity, sha2-256, blake2b-256, …)."""

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
