"""Harness: `read_header` and `unseal` on arbitrary bytes.

Input: one mode byte, then the file. The trailing SHA-256 makes almost every mutation fail the
integrity check, so mode bits let the harness repair what a mutation breaks before unsealing and
reach the signature, decryption, decompression and decode paths:

- bit 0 (`FIX_DIGEST`): recompute the trailing SHA-256;
- bit 1 (`RESIGN`): re-sign a file flagged signed with `IDENTITY` (then fix the digest);
- bit 2 (`WITH_KEY`): pass `ENCRYPTION_KEY` (bit 5, `WRONG_KEY`, passes another key instead);
- bit 3 (`EXPECT_SIGNER`): pass `expected_signer=IDENTITY.peer_id`;
- bit 4 (`REQUIRE_SIGNATURE`): pass `require_signature=True`;
- bit 6 (`REENCRYPT`): the body holds plaintext and a 16-byte tag placeholder; encrypt it with
  the key and the header's nonce (then re-sign and fix the digest as asked);
- bit 7 (`SMALL_LIMIT`): pass `max_snapshot_size=256`.

Repairs apply only when the header's lengths fit in the input, so they stay linear in it.
Contract: `read_header` returns a header or raises a `SealedFileError`; `unseal` returns a
snapshot that agrees with the header, or raises a `SnapshotError`. Nothing else escapes.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fuzz._fixtures import ENCRYPTION_KEY, IDENTITY, OTHER_KEY
from node_runtime import SealedFileError, read_header, unseal
from node_runtime.sealed_file import SIGNING_CONTEXT, Flags
from snapshot_schema import SnapshotError, TransientSnapshot

FIX_DIGEST = 1
RESIGN = 2
WITH_KEY = 4
EXPECT_SIGNER = 8
REQUIRE_SIGNATURE = 16
WRONG_KEY = 32
REENCRYPT = 64
SMALL_LIMIT = 128

_FIXED_SIZE = 51  # magic … peer-id length (`sealed_file._FIXED`)
_SIGNATURE = 64
_DIGEST = 32
_TAG = 16
_NONCE = 12


def repair(mode: int, data: bytes) -> bytes:
    """`data` with the layers `mode` asks for redone, or unchanged if its header's lengths do
    not fit in it (then unseal reports it truncated or corrupt, as it should)."""
    if not mode & (FIX_DIGEST | RESIGN | REENCRYPT) or len(data) < _FIXED_SIZE:
        return data
    header_length, flags = struct.unpack_from(">HH", data, 10)
    (body_length,) = struct.unpack_from(">Q", data, 42)
    end = header_length + body_length
    signed = bool(flags & Flags.SIGNED)
    if (
        header_length < _FIXED_SIZE
        or header_length > len(data)
        or end + (_SIGNATURE if signed else 0) > len(data)
    ):
        return data
    header, body = data[:header_length], data[header_length:end]
    signature = data[end : end + _SIGNATURE] if signed else b""
    if mode & REENCRYPT and flags & Flags.ENCRYPTED and body_length >= _TAG:
        # An encrypted header ends with the key id and the nonce.
        body = AESGCM(ENCRYPTION_KEY).encrypt(header[-_NONCE:], body[:-_TAG], header)
    if mode & (RESIGN | REENCRYPT) and signed:
        signed_digest = hashlib.sha256(header + body).digest()
        signature = IDENTITY.sign(SIGNING_CONTEXT + signed_digest)
    covered = header + body + signature
    return covered + hashlib.sha256(covered).digest()


def check(data: bytes) -> None:
    if not data:
        return
    mode, file = data[0], repair(data[0], data[1:])
    try:
        header = read_header(file)
    except SealedFileError:
        pass
    else:
        assert header.header_length <= len(file)
    key = OTHER_KEY if mode & WRONG_KEY else ENCRYPTION_KEY if mode & WITH_KEY else None
    try:
        sealed = unseal(
            file,
            encryption_key=key,
            expected_signer=IDENTITY.peer_id if mode & EXPECT_SIGNER else None,
            require_signature=bool(mode & REQUIRE_SIGNATURE),
            max_snapshot_size=256 if mode & SMALL_LIMIT else 256 * 1024 * 1024,
        )
    except SnapshotError:
        return
    assert isinstance(sealed.snapshot, TransientSnapshot)
    assert sealed.header.file_length == len(file)
    assert sealed.header.peer_id.to_bytes() == sealed.snapshot.framework.peer_id_bytes
    assert sealed.header == read_header(file)


def main(argv: Sequence[str] = sys.argv) -> None:
    from fuzz._runner import fuzz

    fuzz(check, argv)


if __name__ == "__main__":
    main()
