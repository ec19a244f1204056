"""Sealed snapshot files: an encoded snapshot inside a container that detects any damage.

Layout (all integers big-endian; `docs/FORMAT.md` has the byte-level specification):

    header | body | signature (64 bytes, if signed) | SHA-256 of everything before it

The header is readable without touching the body (spec version, PeerId, generation, creation
time, lengths, flags). The trailing SHA-256 is checked before anything else is trusted, and it
sits at the same place in every container version, so a flipped bit anywhere — even in the
version field — reads as damage, never as "written by a newer build". Optional layers, chosen
per file: zlib compression, then AES-256-GCM encryption (the header is the associated data), then
an Ed25519 signature by the node's key over the header and the body.

The same container holds a journal's delta records (`seal_delta`, `unseal_delta`): flag
`DELTA` says the body is an encoded delta, so neither kind is ever read as the other.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import struct
import zlib

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from node_runtime.errors import InvalidPeerIdError, PeerIdMismatchError
from node_runtime.identity import Identity, verify
from node_runtime.peer_id import PeerId
from node_runtime.storage_errors import (
    ContentKindError,
    CorruptFileError,
    DecompressionError,
    DecryptionError,
    EncryptionKeyError,
    EncryptionMissingError,
    HeaderMismatchError,
    NotSealedFileError,
    SignatureInvalidError,
    SignatureMissingError,
    SignerMismatchError,
    SnapshotTooLargeError,
    TruncatedFileError,
    UnsupportedContainerError,
)
from snapshot_schema import (
    DEFAULT_MAX_SNAPSHOT_SIZE,
    TransientSnapshot,
    decode,
    decode_delta,
    encode,
    encode_delta,
    spec_version_of,
)
from snapshot_schema.byte_view import byte_view
from snapshot_schema.delta_records import SnapshotDelta

MAGIC = b"\x89NSNAP\r\n"
"""Non-ASCII first byte and CR LF, as in PNG: a text-mode transfer that mangles bytes shows up."""
CONTAINER_VERSION = 1
KEY_BYTES = 32
"""AES-256-GCM keys are 32 bytes."""
SIGNING_CONTEXT = b"nodesnap/sealed-snapshot/v1\n"
"""Prefixed to what the node signs, so a snapshot signature can never be mistaken for (or
obtained as) the node's signature over anything else, such as a handshake challenge."""

_FIXED = struct.Struct(">8sHHHIQQQQB")  # magic … peer-id length; the PeerId follows
_DIGEST_BYTES = 32
_SIGNATURE_BYTES = 64
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12
_TAG_BYTES = 16
_COMPRESSION_LEVEL = 1  # peer ids and keys are random bytes: higher levels buy little, cost much
MAX_HEADER_BYTES = _FIXED.size + 255 + _KEY_ID_BYTES + _NONCE_BYTES
"""A reader that wants only the header never needs more than this many bytes."""


class Flags(enum.IntFlag):
    """Which optional layers a sealed file uses."""

    SIGNED = 1
    ENCRYPTED = 2
    COMPRESSED = 4
    DELTA = 8
    """The body is an encoded delta (a journal record), not a snapshot."""


# A plain int: `~` of an IntFlag inverts only the defined bits, so `~Flags(7)` is 0 and no
# unknown flag would ever be noticed.
_KNOWN_FLAGS = int(Flags.SIGNED | Flags.ENCRYPTED | Flags.COMPRESSED | Flags.DELTA)


@attrs.frozen
class SealedHeader:
    """What a sealed file says about itself, readable without decoding the snapshot."""

    flags: Flags
    spec_version: int
    generation: int
    created_wall_ns: int
    encoded_length: int
    """Bytes of the encoded snapshot or delta (before compression and encryption)."""
    body_length: int
    """Bytes stored between the header and the signature."""
    peer_id: PeerId
    key_id: bytes | None
    nonce: bytes | None
    header_length: int
    container_version: int = CONTAINER_VERSION

    @property
    def file_length(self) -> int:
        signature = _SIGNATURE_BYTES if Flags.SIGNED in self.flags else 0
        return self.header_length + self.body_length + signature + _DIGEST_BYTES


@attrs.frozen
class SealedSnapshot:
    """A verified sealed file: its header, the snapshot it holds, and the snapshot's bytes as
    stored (after decryption and decompression), which a store hashes to name the state."""

    header: SealedHeader
    snapshot: TransientSnapshot
    encoded: bytes = attrs.field(repr=False, eq=False)


@attrs.frozen
class SealedDelta:
    """A verified sealed delta record: its header and the delta it holds."""

    header: SealedHeader
    delta: SnapshotDelta


def sealed_size_bound(encoded_length: int) -> int:
    """The largest sealed file a snapshot of `encoded_length` encoded bytes can make: the
    largest header, zlib's worst case (its `compressBound`), the GCM tag, a signature and the
    digest. A reader that knows no larger file can be genuine never reads one."""
    worst_body = _deflate_bound(encoded_length) + _TAG_BYTES
    return MAX_HEADER_BYTES + worst_body + _SIGNATURE_BYTES + _DIGEST_BYTES


def _deflate_bound(length: int) -> int:
    """zlib's `compressBound`: no zlib stream of `length` bytes is longer."""
    return length + (length >> 12) + (length >> 14) + (length >> 25) + 13


def length_problem(header: SealedHeader) -> str | None:
    """Why the body length `header` states cannot be one `seal` wrote for its encoded length,
    or `None`: a plain body is exactly the encoded length (plus the GCM tag when encrypted), a
    compressed one no longer than zlib's worst case. A reader that must tell a file cut short
    from a header whose length field was altered (a journal's last record) checks this before
    it trusts the length."""
    tag = _TAG_BYTES if Flags.ENCRYPTED in header.flags else 0
    if Flags.COMPRESSED not in header.flags:
        if header.body_length != header.encoded_length + tag:
            return (
                f"body length {header.body_length} does not fit the encoded length "
                f"{header.encoded_length}"
            )
    elif header.body_length > _deflate_bound(header.encoded_length) + tag:
        return (
            f"a compressed body of {header.body_length} bytes cannot hold the "
            f"{header.encoded_length} encoded bytes the header states"
        )
    return None


def key_id(key: bytes) -> bytes:
    """The 8-byte identifier of an encryption key stored in the header, so a reader given the
    wrong key says so instead of reporting tampering. A hash: it does not reveal the key."""
    return hashlib.sha256(b"nodesnap/key-id\n" + key).digest()[:_KEY_ID_BYTES]


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise EncryptionKeyError(f"an encryption key is {KEY_BYTES} bytes")
    return key


def looks_sealed(data: bytes | bytearray | memoryview) -> bool:
    """Whether `data` is meant as a sealed file rather than a raw encoded snapshot: it starts
    with the magic, or with a prefix of it (an empty or torn sealed file then reads as
    truncated, not as a malformed raw snapshot). A raw snapshot starts with 0x92, never 0x89."""
    head = bytes(memoryview(data)[: len(MAGIC)])
    return MAGIC.startswith(head)


def seal(
    snapshot: TransientSnapshot,
    *,
    generation: int,
    signer: Identity | None = None,
    encryption_key: bytes | None = None,
    compress: bool = False,
    max_snapshot_size: int | None = None,
) -> bytes:
    """The sealed-file bytes holding `snapshot` as the store's `generation`.

    `signer` must be the identity of the node the snapshot belongs to. With
    `max_snapshot_size`, a snapshot that `unseal` with that limit would refuse is refused here
    (`SnapshotTooLargeError`), before it is compressed, encrypted or signed.
    """
    return seal_encoded(
        snapshot,
        encode(snapshot),
        generation=generation,
        signer=signer,
        encryption_key=encryption_key,
        compress=compress,
        max_snapshot_size=max_snapshot_size,
    )


def seal_encoded(
    snapshot: TransientSnapshot,
    encoded: bytes,
    *,
    generation: int,
    signer: Identity | None = None,
    encryption_key: bytes | None = None,
    compress: bool = False,
    max_snapshot_size: int | None = None,
) -> bytes:
    """`seal`, for a caller that holds `encoded = encode(snapshot)` already (a store hashes
    those bytes to name the state it saved): the snapshot is not encoded a second time."""
    peer_bytes = snapshot.framework.peer_id_bytes
    if signer is not None and signer.peer_id.to_bytes() != peer_bytes:
        raise PeerIdMismatchError(
            f"{signer.peer_id} cannot sign a snapshot of {PeerId.from_bytes(peer_bytes)}"
        )
    if max_snapshot_size is not None and len(encoded) > max_snapshot_size:
        raise SnapshotTooLargeError(
            f"a snapshot of {len(encoded)} bytes exceeds the {max_snapshot_size}-byte limit "
            "(max_snapshot_size)"
        )
    return _seal_body(
        encoded,
        Flags(0),
        spec_version=snapshot.framework.spec_version,
        generation=generation,
        created_wall_ns=snapshot.taken_at.wall_ns,
        peer_bytes=peer_bytes,
        signer=signer,
        encryption_key=encryption_key,
        compress=compress,
    )


def seal_delta(
    delta: SnapshotDelta,
    *,
    peer_id: PeerId,
    signer: Identity | None = None,
    encryption_key: bytes | None = None,
    compress: bool = False,
    max_delta_size: int | None = None,
) -> bytes:
    """The sealed record of `delta`, a change to the state of the node `peer_id` (flag `DELTA`;
    the header's generation and creation time are the delta's, its spec version the delta
    spec version). `signer` must be that node's identity. With `max_delta_size`, a delta
    that `unseal_delta` with that limit would refuse is refused here (`SnapshotTooLargeError`)."""
    if signer is not None and signer.peer_id != peer_id:
        raise PeerIdMismatchError(f"{signer.peer_id} cannot sign a delta of {peer_id}")
    encoded = encode_delta(delta)
    if max_delta_size is not None and len(encoded) > max_delta_size:
        raise SnapshotTooLargeError(
            f"a delta of {len(encoded)} bytes exceeds the {max_delta_size}-byte limit "
            "(max_snapshot_size)"
        )
    return _seal_body(
        encoded,
        Flags.DELTA,
        spec_version=delta.spec_version,
        generation=delta.target.generation,
        created_wall_ns=delta.taken_at.wall_ns,
        peer_bytes=peer_id.to_bytes(),
        signer=signer,
        encryption_key=encryption_key,
        compress=compress,
    )


def _seal_body(
    encoded: bytes,
    kind: Flags,
    *,
    spec_version: int,
    generation: int,
    created_wall_ns: int,
    peer_bytes: bytes,
    signer: Identity | None,
    encryption_key: bytes | None,
    compress: bool,
) -> bytes:
    if not 0 <= generation < 2**64:
        raise ValueError("generation must fit in 64 unsigned bits")
    body = zlib.compress(encoded, _COMPRESSION_LEVEL) if compress else encoded
    flags = kind
    if signer is not None:
        flags |= Flags.SIGNED
    if compress:
        flags |= Flags.COMPRESSED
    extra = b""
    if encryption_key is not None:
        flags |= Flags.ENCRYPTED
        nonce = os.urandom(_NONCE_BYTES)
        extra = key_id(_check_key(encryption_key)) + nonce
    body_length = len(body) + (_TAG_BYTES if encryption_key is not None else 0)
    header_length = _FIXED.size + len(peer_bytes) + len(extra)
    header = (
        _FIXED.pack(
            MAGIC,
            CONTAINER_VERSION,
            header_length,
            flags,
            spec_version,
            generation,
            created_wall_ns,
            len(encoded),
            body_length,
            len(peer_bytes),
        )
        + peer_bytes
        + extra
    )
    if encryption_key is not None:
        body = AESGCM(encryption_key).encrypt(extra[_KEY_ID_BYTES:], body, header)
    digest = hashlib.sha256(header)
    digest.update(body)
    signature = b""
    if signer is not None:
        signature = signer.sign(SIGNING_CONTEXT + digest.copy().digest())
        digest.update(signature)
    return b"".join((header, body, signature, digest.digest()))


def read_header(data: bytes | bytearray | memoryview) -> SealedHeader:
    """The header at the start of `data` (at least the header's bytes; the rest may be
    missing), *not* verified: use it to list and inspect files, never to trust them."""
    view = byte_view(data)  # a strided view is copied: it cannot be cast
    if view[: len(MAGIC)] != MAGIC:
        if len(view) < len(MAGIC) and MAGIC.startswith(bytes(view)):
            raise TruncatedFileError(f"file of {len(view)} bytes ends inside the magic")
        raise NotSealedFileError("not a sealed snapshot file (wrong magic bytes)")
    if len(view) < _FIXED.size:
        raise TruncatedFileError(f"file of {len(view)} bytes ends inside the header")
    (
        _magic,
        container_version,
        header_length,
        raw_flags,
        spec_version,
        generation,
        created_wall_ns,
        encoded_length,
        body_length,
        peer_length,
    ) = _FIXED.unpack_from(view)
    if container_version != CONTAINER_VERSION:
        raise UnsupportedContainerError(container_version, CONTAINER_VERSION)
    if raw_flags & ~_KNOWN_FLAGS:
        raise UnsupportedContainerError(
            container_version,
            CONTAINER_VERSION,
            f"sealed file uses unknown flags 0x{raw_flags & ~_KNOWN_FLAGS:04x}",
        )
    flags = Flags(raw_flags)
    extra = _KEY_ID_BYTES + _NONCE_BYTES if Flags.ENCRYPTED in flags else 0
    if header_length != _FIXED.size + peer_length + extra:
        raise CorruptFileError(f"header length {header_length} does not match its fields")
    if len(view) < header_length:
        raise TruncatedFileError(f"file of {len(view)} bytes ends inside the header")
    peer_end = _FIXED.size + peer_length
    try:
        peer_id = PeerId.from_bytes(bytes(view[_FIXED.size : peer_end]))
    except InvalidPeerIdError as error:
        raise CorruptFileError(f"header PeerId: {error}") from None
    encrypted = Flags.ENCRYPTED in flags
    return SealedHeader(
        flags=flags,
        spec_version=spec_version,
        generation=generation,
        created_wall_ns=created_wall_ns,
        encoded_length=encoded_length,
        body_length=body_length,
        peer_id=peer_id,
        key_id=bytes(view[peer_end : peer_end + _KEY_ID_BYTES]) if encrypted else None,
        nonce=bytes(view[peer_end + _KEY_ID_BYTES : header_length]) if encrypted else None,
        header_length=header_length,
    )


def _check_integrity(view: memoryview) -> bytes:
    """Lengths first (a torn write is reported as such), then the trailing SHA-256. Returns the
    SHA-256 of header and body, which the signature covers: one pass over the bytes serves both."""
    if view[: len(MAGIC)] != MAGIC:
        read_header(view)  # raises the precise error for a foreign or truncated file
    if len(view) < _FIXED.size:
        raise TruncatedFileError(f"file of {len(view)} bytes ends inside the header")
    header_length, raw_flags = struct.unpack_from(">HH", view, 10)
    body_length = struct.unpack_from(">Q", view, 42)[0]
    signature = _SIGNATURE_BYTES if raw_flags & Flags.SIGNED else 0
    expected = header_length + body_length + signature + _DIGEST_BYTES
    if len(view) < expected:
        raise TruncatedFileError(f"file of {len(view)} bytes; its header says {expected}")
    if len(view) > expected:
        raise CorruptFileError(f"{len(view) - expected} bytes trail the file")
    signed_part = hashlib.sha256(view[: header_length + body_length])
    whole = signed_part.copy()
    whole.update(view[header_length + body_length : -_DIGEST_BYTES])
    if not hmac.compare_digest(whole.digest(), view[-_DIGEST_BYTES:]):
        raise CorruptFileError("integrity check failed: the file was altered or torn")
    return signed_part.digest()


def _check_signature(
    view: memoryview,
    header: SealedHeader,
    signed_digest: bytes,
    expected_signer: PeerId | None,
    require_signature: bool,
) -> None:
    signed = Flags.SIGNED in header.flags
    if (require_signature or expected_signer is not None) and not signed:
        raise SignatureMissingError("the file is not signed and a signature is required")
    if expected_signer is not None and header.peer_id != expected_signer:
        raise SignerMismatchError(f"sealed by {header.peer_id}, expected {expected_signer}")
    if signed:
        end = header.header_length + header.body_length
        signature = bytes(view[end : end + _SIGNATURE_BYTES])
        if not verify(header.peer_id, SIGNING_CONTEXT + signed_digest, signature):
            raise SignatureInvalidError(f"signature does not verify as {header.peer_id}'s")


def _decrypt(view: memoryview, header: SealedHeader, key: bytes | None) -> bytes:
    body = view[header.header_length : header.header_length + header.body_length]
    if header.key_id is None or header.nonce is None:
        return bytes(body)
    if key is None:
        raise EncryptionKeyError("the file is encrypted: an encryption key is required")
    if not hmac.compare_digest(key_id(_check_key(key)), header.key_id):
        raise EncryptionKeyError("the file was encrypted with another key")
    try:
        return AESGCM(key).decrypt(header.nonce, bytes(body), bytes(view[: header.header_length]))
    except InvalidTag:
        raise DecryptionError("decryption failed: the file was altered") from None


def _inflate(body: bytes, header: SealedHeader) -> bytes:
    if Flags.COMPRESSED not in header.flags:
        if len(body) != header.encoded_length:
            raise CorruptFileError("body length differs from the encoded length")
        return body
    inflater = zlib.decompressobj()
    try:
        # One byte more than promised: output beyond it is the proof of a lying header, and
        # no input, however crafted, inflates further than that.
        encoded = inflater.decompress(body, header.encoded_length + 1)
    except zlib.error as error:
        raise DecompressionError(f"compressed body is malformed: {error}") from None
    if len(encoded) != header.encoded_length or not inflater.eof or inflater.unused_data:
        raise DecompressionError(f"body does not inflate to {header.encoded_length} bytes")
    return encoded


def _open(
    data: bytes | bytearray | memoryview,
    kind: Flags,
    *,
    encryption_key: bytes | None,
    expected_signer: PeerId | None,
    require_signature: bool,
    require_encryption: bool,
    max_size: int,
) -> tuple[SealedHeader, bytes]:
    """The verified header of a sealed file of `kind` (`Flags.DELTA` or none) and the encoded
    bytes it holds, decrypted and inflated: every check of `unseal` but decoding."""
    view = byte_view(data)  # a strided view is copied: it cannot be cast
    signed_digest = _check_integrity(view)
    header = read_header(view)
    if (header.flags & Flags.DELTA) != kind:
        found, wanted = ("a delta", "a snapshot") if not kind else ("a snapshot", "a delta")
        raise ContentKindError(f"the file holds {found}, not {wanted}")
    if header.encoded_length > max_size:
        what = "delta" if kind else "snapshot"
        raise SnapshotTooLargeError(
            f"{what} of {header.encoded_length} bytes exceeds the {max_size}-byte limit"
        )
    _check_signature(view, header, signed_digest, expected_signer, require_signature)
    if require_encryption and Flags.ENCRYPTED not in header.flags:
        raise EncryptionMissingError("the file is not encrypted and encryption is required")
    return header, _inflate(_decrypt(view, header, encryption_key), header)


def unseal(
    data: bytes | bytearray | memoryview,
    *,
    encryption_key: bytes | None = None,
    expected_signer: PeerId | None = None,
    require_signature: bool = False,
    require_encryption: bool = False,
    max_snapshot_size: int = DEFAULT_MAX_SNAPSHOT_SIZE,
) -> SealedSnapshot:
    """The verified header and snapshot of a sealed file.

    Checks, in order: lengths and the integrity digest (`DamagedFileError`s), the container
    version (`UnsupportedContainerError`), that the file holds a snapshot, not a delta
    (`ContentKindError`), the snapshot size the header states (`SnapshotTooLargeError`), the
    signature (demanded when `require_signature` or `expected_signer` is given, always checked
    when present), encryption (demanded when `require_encryption`: `EncryptionMissingError`),
    decryption, decompression, the snapshot itself (`SnapshotDecodeError`,
    `IncompatibleSnapshotVersion`) and that the header agrees with it (`HeaderMismatchError`).
    """
    header, encoded = _open(
        data,
        Flags(0),
        encryption_key=encryption_key,
        expected_signer=expected_signer,
        require_signature=require_signature,
        require_encryption=require_encryption,
        max_size=max_snapshot_size,
    )
    if spec_version_of(encoded) != header.spec_version:
        raise HeaderMismatchError("header and snapshot disagree on the spec version")
    snapshot = decode(encoded, max_size=max_snapshot_size)
    if snapshot.framework.peer_id_bytes != header.peer_id.to_bytes():
        raise HeaderMismatchError("header and snapshot disagree on the PeerId")
    if snapshot.taken_at.wall_ns != header.created_wall_ns:
        raise HeaderMismatchError("header and snapshot disagree on the creation time")
    return SealedSnapshot(header, snapshot, encoded)


def unseal_delta(
    data: bytes | bytearray | memoryview,
    *,
    encryption_key: bytes | None = None,
    expected_signer: PeerId | None = None,
    require_signature: bool = False,
    require_encryption: bool = False,
    max_delta_size: int = DEFAULT_MAX_SNAPSHOT_SIZE,
) -> SealedDelta:
    """The verified header and delta of a sealed delta record: the checks of `unseal`, in the
    same order, with `decode_delta` for the body (`ContentKindError` for a snapshot), then that
    the header agrees with the delta (spec version, generation, creation time)."""
    header, encoded = _open(
        data,
        Flags.DELTA,
        encryption_key=encryption_key,
        expected_signer=expected_signer,
        require_signature=require_signature,
        require_encryption=require_encryption,
        max_size=max_delta_size,
    )
    delta = decode_delta(encoded, max_size=max_delta_size)
    if delta.spec_version != header.spec_version:
        raise HeaderMismatchError("header and delta disagree on the spec version")
    if delta.target.generation != header.generation:
        raise HeaderMismatchError("header and delta disagree on the generation")
    if delta.taken_at.wall_ns != header.created_wall_ns:
        raise HeaderMismatchError("header and delta disagree on the creation time")
    return SealedDelta(header, delta)
