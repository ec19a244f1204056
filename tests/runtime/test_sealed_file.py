"""Sealed files: every layer combination round-trips, and every kind of damage or distrust is
refused with its own error class, never read as a valid snapshot."""

from __future__ import annotations

import hashlib
import itertools
import random
import struct
import tracemalloc
import zlib
from typing import NoReturn

import pytest

from node_runtime import (
    MAX_HEADER_BYTES,
    CorruptFileError,
    DamagedFileError,
    DecompressionError,
    DecryptionError,
    EncryptionKeyError,
    EncryptionMissingError,
    Flags,
    HeaderMismatchError,
    Identity,
    ManualClock,
    Multiaddr,
    Node,
    NotRegularFileError,
    NotSealedFileError,
    PeerIdMismatchError,
    SealedFileError,
    SignatureInvalidError,
    SignatureMissingError,
    SignerMismatchError,
    SnapshotTooLargeError,
    TruncatedFileError,
    UnsupportedContainerError,
    UntrustedFileError,
    read_header,
    seal,
    unseal,
)
from node_runtime import storage_errors as storage_errors_module
from node_runtime.sealed_file import CONTAINER_VERSION, MAGIC, looks_sealed, sealed_size_bound
from snapshot_schema import SnapshotError, TransientSnapshot, encode

S = 1_000_000_000
IDENTITY = Identity.from_private_bytes(b"\x01" * 32)
OTHER = Identity.from_private_bytes(b"\x02" * 32)
PEER = Identity.from_private_bytes(b"\x03" * 32).peer_id
KEY = bytes(range(32))
WRONG_KEY = bytes(range(1, 33))
GENERATION = 42

# Field offsets of the fixed header (">8sHHHIQQQQB"), then the PeerId.
VERSION_AT = 8
FLAGS_AT = 12
SPEC_AT = 14
WALL_AT = 26
BODY_LENGTH_AT = 42
PEER_AT = 51
DIGEST = 32
SIGNATURE = 64

COMBOS = list(itertools.product((False, True), repeat=3))  # signed, encrypted, compressed
COMBO_IDS = [
    "-".join(name for name, on in zip(("signed", "encrypted", "compressed"), c, strict=True) if on)
    or "plain"
    for c in COMBOS
]


def make_snapshot(identity: Identity = IDENTITY) -> TransientSnapshot:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S + 123)
    node = Node(identity, clock=clock)
    node.add_peer_address(PEER, Multiaddr.from_string("/ip4/10.0.0.1/tcp/4001"))
    node.governor.block(PEER.to_bytes())
    node.command_ids.mint()
    return node.snapshot()


SNAPSHOT = make_snapshot()


def seal_combo(signed: bool, encrypted: bool, compressed: bool) -> bytes:
    return seal(
        SNAPSHOT,
        generation=GENERATION,
        signer=IDENTITY if signed else None,
        encryption_key=KEY if encrypted else None,
        compress=compressed,
    )


def retrail(data: bytes | bytearray) -> bytes:
    """`data` with its SHA-256 trailer recomputed over everything before it."""
    body = bytes(data[:-DIGEST])
    return body + hashlib.sha256(body).digest()


def patched(data: bytes, offset: int, replacement: bytes) -> bytes:
    """`data` with `replacement` written at `offset` and a valid trailer again."""
    out = bytearray(data)
    out[offset : offset + len(replacement)] = replacement
    return retrail(out)


# Round trips.


@pytest.mark.parametrize(("signed", "encrypted", "compressed"), COMBOS, ids=COMBO_IDS)
def test_every_combination_round_trips(signed: bool, encrypted: bool, compressed: bool) -> None:
    data = seal_combo(signed, encrypted, compressed)
    sealed = unseal(
        data,
        encryption_key=KEY if encrypted else None,
        expected_signer=IDENTITY.peer_id if signed else None,
        require_signature=signed,
    )
    assert sealed.snapshot == SNAPSHOT
    assert encode(sealed.snapshot) == encode(SNAPSHOT)
    header = sealed.header
    expected_flags = Flags(0)
    if signed:
        expected_flags |= Flags.SIGNED
    if encrypted:
        expected_flags |= Flags.ENCRYPTED
    if compressed:
        expected_flags |= Flags.COMPRESSED
    assert header.flags == expected_flags
    assert header.generation == GENERATION
    assert header.peer_id == IDENTITY.peer_id
    assert header.created_wall_ns == SNAPSHOT.taken_at.wall_ns
    assert header.encoded_length == len(encode(SNAPSHOT))
    assert header.spec_version == SNAPSHOT.framework.spec_version
    assert header.container_version == CONTAINER_VERSION
    assert header.file_length == len(data)
    assert (header.key_id is not None) is encrypted
    assert (header.nonce is not None) is encrypted
    assert data.startswith(MAGIC)
    # The header alone, from the first MAX_HEADER_BYTES bytes or exactly its own bytes.
    assert read_header(data[:MAX_HEADER_BYTES]) == header
    assert read_header(data[: header.header_length]) == header
    assert header.header_length <= MAX_HEADER_BYTES


def test_unsigned_file_reads_without_a_signature_demand() -> None:
    data = seal_combo(False, False, False)
    assert unseal(data).snapshot == SNAPSHOT


def test_signed_file_reads_without_a_signer_demand() -> None:
    # A present signature is always verified, even when not demanded: valid here.
    assert unseal(seal_combo(True, False, False)).snapshot == SNAPSHOT


def test_encryption_hides_the_snapshot_bytes() -> None:
    plain = seal_combo(False, False, False)
    encrypted = seal_combo(False, True, False)
    encoded = encode(SNAPSHOT)
    assert encoded in plain
    assert encoded not in encrypted
    assert PEER.to_bytes() not in encrypted[read_header(encrypted).header_length :]
    # A fresh nonce per file: sealing twice never repeats the ciphertext.
    assert seal_combo(False, True, False) != encrypted


# Damage: wrong magic, truncation, flipped bits, trailing bytes.


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04" + bytes(300),
        b"\x89PNG\r\n\x1a\n" + bytes(300),
        b"\x89NSNAP\n" + bytes(300),  # CR LF mangled to LF by a text-mode transfer
        b"not a sealed file at all, just text" * 10,
    ],
)
def test_wrong_magic_is_not_a_sealed_file(data: bytes) -> None:
    with pytest.raises(NotSealedFileError):
        unseal(data)
    with pytest.raises(NotSealedFileError):
        read_header(data)


def test_magic_with_a_replaced_first_byte_is_not_a_sealed_file() -> None:
    data = bytearray(seal_combo(False, False, False))
    data[0] = ord("N")
    with pytest.raises(NotSealedFileError):
        unseal(retrail(data))


@pytest.mark.parametrize(("signed", "encrypted", "compressed"), COMBOS, ids=COMBO_IDS)
def test_truncation_at_every_offset_is_damage(
    signed: bool, encrypted: bool, compressed: bool
) -> None:
    data = seal_combo(signed, encrypted, compressed)
    header_length = read_header(data).header_length
    key = KEY if encrypted else None
    for length in range(len(data)):
        with pytest.raises(DamagedFileError) as caught:
            unseal(data[:length], encryption_key=key)
        if length >= header_length:  # cuts the body, signature or trailer: a torn write
            assert type(caught.value) is TruncatedFileError, length
        else:
            assert isinstance(caught.value, TruncatedFileError), length


@pytest.mark.parametrize(("signed", "encrypted", "compressed"), COMBOS, ids=COMBO_IDS)
def test_every_flipped_bit_is_damage(signed: bool, encrypted: bool, compressed: bool) -> None:
    data = seal_combo(signed, encrypted, compressed)
    key = KEY if encrypted else None
    flipped = bytearray(data)
    for index in range(len(data)):
        for bit in range(8):
            flipped[index] ^= 1 << bit
            try:
                unseal(flipped, encryption_key=key, require_signature=signed)
            except DamagedFileError:
                pass
            except SnapshotError as error:  # pragma: no cover - the failure being tested
                pytest.fail(f"byte {index} bit {bit}: {type(error).__name__}: {error}")
            else:  # pragma: no cover
                pytest.fail(f"byte {index} bit {bit}: a damaged file was accepted")
            finally:
                flipped[index] ^= 1 << bit
    assert bytes(flipped) == data


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 100])
def test_trailing_bytes_are_corruption(extra: bytes) -> None:
    with pytest.raises(CorruptFileError, match="trail"):
        unseal(seal_combo(True, False, False) + extra)


def test_a_file_with_a_stale_trailer_is_corruption() -> None:
    data = bytearray(seal_combo(False, False, False))
    data[-1] ^= 0xFF
    with pytest.raises(CorruptFileError):
        unseal(data)


# Versions and flags from a newer build: intact files this build cannot read.


def test_container_version_2_is_unsupported_not_damaged() -> None:
    data = patched(seal_combo(False, False, False), VERSION_AT, struct.pack(">H", 2))
    with pytest.raises(UnsupportedContainerError) as caught:
        unseal(data)
    assert caught.value.found == 2
    assert caught.value.supported == CONTAINER_VERSION
    assert not isinstance(caught.value, DamagedFileError)
    with pytest.raises(UnsupportedContainerError):
        read_header(data)


def test_a_version_field_with_a_stale_trailer_is_damage_not_unsupported() -> None:
    data = bytearray(seal_combo(False, False, False))
    data[VERSION_AT : VERSION_AT + 2] = struct.pack(">H", 2)
    with pytest.raises(CorruptFileError):
        unseal(data)


@pytest.mark.parametrize("bit", [0x0010, 0x0100, 0x8000])  # 0x0008 is DELTA
def test_an_unknown_flag_is_unsupported(bit: int) -> None:
    data = seal_combo(False, False, False)
    (flags,) = struct.unpack_from(">H", data, FLAGS_AT)
    data = patched(data, FLAGS_AT, struct.pack(">H", flags | bit))
    with pytest.raises(UnsupportedContainerError, match="unknown flags"):
        unseal(data)


# Signatures.


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_required_signature_that_is_missing(encrypted: bool) -> None:
    data = seal_combo(False, encrypted, False)
    key = KEY if encrypted else None
    with pytest.raises(SignatureMissingError):
        unseal(data, encryption_key=key, require_signature=True)
    with pytest.raises(SignatureMissingError):
        unseal(data, encryption_key=key, expected_signer=IDENTITY.peer_id)


def test_a_file_signed_by_another_node_than_expected() -> None:
    data = seal_combo(True, False, False)
    with pytest.raises(SignerMismatchError):
        unseal(data, expected_signer=OTHER.peer_id)


def test_a_file_of_another_node_signed_by_it_is_refused_as_mismatch() -> None:
    other_snapshot = make_snapshot(OTHER)
    data = seal(other_snapshot, generation=1, signer=OTHER)
    assert unseal(data).snapshot == other_snapshot
    with pytest.raises(SignerMismatchError):
        unseal(data, expected_signer=IDENTITY.peer_id)


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("offset", [0, 31, 63])
def test_an_altered_signature_with_a_valid_trailer(compressed: bool, offset: int) -> None:
    data = bytearray(seal_combo(True, False, compressed))
    data[-DIGEST - SIGNATURE + offset] ^= 0x01
    with pytest.raises(SignatureInvalidError):
        unseal(retrail(data))


def test_a_signed_header_altered_with_a_valid_trailer_fails_the_signature() -> None:
    data = seal_combo(True, False, False)
    with pytest.raises(SignatureInvalidError):
        unseal(patched(data, WALL_AT, struct.pack(">Q", 1)))


def test_a_signed_body_altered_with_a_valid_trailer_fails_the_signature() -> None:
    data = bytearray(seal_combo(True, False, False))
    header_length = read_header(data).header_length
    data[header_length + 3] ^= 0x40
    with pytest.raises(SignatureInvalidError):
        unseal(retrail(data))


def test_signing_another_nodes_snapshot_is_refused() -> None:
    with pytest.raises(PeerIdMismatchError):
        seal(SNAPSHOT, generation=1, signer=OTHER)


# Encryption.


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("compressed", [False, True])
def test_an_encrypted_file_without_a_key_or_with_the_wrong_one(
    signed: bool, compressed: bool
) -> None:
    data = seal_combo(signed, True, compressed)
    with pytest.raises(EncryptionKeyError, match="required"):
        unseal(data)
    with pytest.raises(EncryptionKeyError, match="another key"):
        unseal(data, encryption_key=WRONG_KEY)
    with pytest.raises(EncryptionKeyError):
        unseal(data, encryption_key=KEY[:16])


@pytest.mark.parametrize("signed", [False, True])
def test_a_required_encryption_that_is_missing(signed: bool) -> None:
    data = seal_combo(signed, False, False)
    assert unseal(data).snapshot == SNAPSHOT  # not demanded: a plain file reads
    assert unseal(data, encryption_key=KEY).snapshot == SNAPSHOT
    with pytest.raises(EncryptionMissingError, match="not encrypted"):
        unseal(data, encryption_key=KEY, require_encryption=True)


def test_a_required_encryption_that_is_there() -> None:
    data = seal_combo(False, True, False)
    assert unseal(data, encryption_key=KEY, require_encryption=True).snapshot == SNAPSHOT


def test_a_key_that_is_not_32_bytes_cannot_seal() -> None:
    with pytest.raises(EncryptionKeyError):
        seal(SNAPSHOT, generation=1, encryption_key=b"short")


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("where", ["first", "middle", "tag"])
def test_altered_ciphertext_with_a_valid_trailer(compressed: bool, where: str) -> None:
    data = bytearray(seal_combo(False, True, compressed))
    header = read_header(data)
    offset = {
        "first": header.header_length,
        "middle": header.header_length + header.body_length // 2,
        "tag": header.header_length + header.body_length - 1,
    }[where]
    data[offset] ^= 0x80
    with pytest.raises(DecryptionError):
        unseal(retrail(data), encryption_key=KEY)


def test_an_altered_encrypted_header_with_a_valid_trailer_fails_authentication() -> None:
    # The header is the associated data: a changed generation is caught by the tag.
    data = patched(seal_combo(False, True, False), 18, struct.pack(">Q", GENERATION + 1))
    with pytest.raises(DecryptionError):
        unseal(data, encryption_key=KEY)


# Compression.


def _with_body(data: bytes, body: bytes) -> bytes:
    """An unsigned, unencrypted sealed file with its body replaced and its lengths fixed."""
    header = read_header(data)
    assert Flags.SIGNED not in header.flags
    head = bytearray(data[: header.header_length])
    head[BODY_LENGTH_AT : BODY_LENGTH_AT + 8] = struct.pack(">Q", len(body))
    return retrail(bytes(head) + body + bytes(DIGEST))


def _zlib_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(compressor.flush())
    return b"".join(parts)


BOMB_SIZE = 64 << 20


def test_a_zlib_bomb_is_refused_in_bounded_memory() -> None:
    data = _with_body(seal_combo(False, False, True), _zlib_bomb(BOMB_SIZE))
    assert len(data) < BOMB_SIZE // 500
    tracemalloc.start()
    try:
        with pytest.raises(DecompressionError):
            unseal(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < BOMB_SIZE // 32, peak  # a few hundred kB at most, not the 64 MiB it claims


def test_a_zlib_bomb_claiming_its_size_is_refused_before_inflating() -> None:
    # A header that admits the bomb's size is over the snapshot limit: refused unread.
    data = _with_body(seal_combo(False, False, True), _zlib_bomb(4 << 20))
    data = patched(data, 34, struct.pack(">Q", 4 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(SnapshotTooLargeError, match="exceeds the 1048576-byte limit"):
            unseal(data, max_snapshot_size=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_seal_refuses_a_snapshot_above_max_snapshot_size_before_compressing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit = len(encode(SNAPSHOT))
    data = seal(SNAPSHOT, generation=GENERATION, max_snapshot_size=limit)
    assert unseal(data, max_snapshot_size=limit).snapshot == SNAPSHOT

    def compress(data: bytes, level: int) -> NoReturn:
        raise AssertionError("compressed a snapshot it refuses")

    monkeypatch.setattr(zlib, "compress", compress)
    with pytest.raises(SnapshotTooLargeError, match=f"exceeds the {limit - 1}-byte limit"):
        seal(
            SNAPSHOT,
            generation=GENERATION,
            signer=IDENTITY,
            encryption_key=KEY,
            compress=True,
            max_snapshot_size=limit - 1,
        )


def incompressible_snapshot(payload_bytes: int) -> TransientSnapshot:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    node.outbound.enqueue(random.Random(payload_bytes).randbytes(payload_bytes))
    return node.snapshot()


@pytest.mark.parametrize(("signed", "encrypted", "compressed"), COMBOS, ids=COMBO_IDS)
@pytest.mark.parametrize("payload_bytes", [1, 1_000, 200_000])
def test_no_sealed_file_exceeds_the_size_bound_of_its_snapshot(
    signed: bool, encrypted: bool, compressed: bool, payload_bytes: int
) -> None:
    # Random bytes are zlib's worst case: compression only adds to them.
    snapshot = incompressible_snapshot(payload_bytes)
    data = seal(
        snapshot,
        generation=GENERATION,
        signer=IDENTITY if signed else None,
        encryption_key=KEY if encrypted else None,
        compress=compressed,
    )
    assert len(data) <= sealed_size_bound(len(encode(snapshot)))


@pytest.mark.parametrize(
    "body",
    [
        b"\x00" * 50,  # not zlib at all
        b"\x78\x9c" + b"\xff" * 40,  # a zlib header, then garbage
        zlib.compress(encode(SNAPSHOT))[:-10],  # a valid stream cut short
        zlib.compress(encode(SNAPSHOT)) + b"extra",  # data after the end of the stream
        zlib.compress(encode(SNAPSHOT)[:-1]),  # inflates one byte short
        zlib.compress(encode(SNAPSHOT) + b"\x00"),  # inflates one byte long
    ],
    ids=["garbage", "bad-stream", "cut", "extra", "short", "long"],
)
def test_a_bad_compressed_body_is_a_decompression_error(body: bytes) -> None:
    data = _with_body(seal_combo(False, False, True), body)
    with pytest.raises(DecompressionError):
        unseal(data)


def test_the_replaced_body_helper_keeps_a_valid_file_valid() -> None:
    data = seal_combo(False, False, True)
    header = read_header(data)
    body = data[header.header_length : header.header_length + header.body_length]
    assert _with_body(data, body) == data
    assert unseal(_with_body(data, zlib.compress(encode(SNAPSHOT), 9))).snapshot == SNAPSHOT


# The header must agree with the snapshot it carries.


def test_a_header_with_another_peer_id_is_a_mismatch() -> None:
    data = seal_combo(False, False, False)
    other = OTHER.peer_id.to_bytes()
    assert data[PEER_AT : PEER_AT + len(other)] == IDENTITY.peer_id.to_bytes()
    forged = patched(data, PEER_AT, other)
    assert read_header(forged).peer_id == OTHER.peer_id
    with pytest.raises(HeaderMismatchError, match="PeerId"):
        unseal(forged)


def test_a_header_with_another_creation_time_is_a_mismatch() -> None:
    data = patched(seal_combo(False, False, False), WALL_AT, struct.pack(">Q", 5))
    with pytest.raises(HeaderMismatchError, match="creation time"):
        unseal(data)


def test_a_header_with_another_spec_version_is_a_mismatch() -> None:
    data = seal_combo(False, False, False)
    (spec,) = struct.unpack_from(">I", data, SPEC_AT)
    with pytest.raises(HeaderMismatchError, match="spec version"):
        unseal(patched(data, SPEC_AT, struct.pack(">I", spec + 1)))


def test_a_header_with_another_encoded_length_is_corrupt() -> None:
    data = seal_combo(False, False, False)
    header = read_header(data)
    with pytest.raises(CorruptFileError):
        unseal(patched(data, 34, struct.pack(">Q", header.encoded_length + 1)))


# The error hierarchy.


def test_every_storage_error_is_a_snapshot_error() -> None:
    classes = [
        value
        for value in vars(storage_errors_module).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert len(classes) >= 19
    for cls in classes:
        if cls is not SnapshotError:
            assert issubclass(cls, SnapshotError), cls
    for cls in (
        NotSealedFileError,
        TruncatedFileError,
        CorruptFileError,
        DecompressionError,
        HeaderMismatchError,
        NotRegularFileError,
    ):
        assert issubclass(cls, DamagedFileError)
        assert not issubclass(cls, UntrustedFileError)
    for cls in (
        SignatureMissingError,
        SignatureInvalidError,
        SignerMismatchError,
        DecryptionError,
        EncryptionMissingError,
    ):
        assert issubclass(cls, UntrustedFileError)
        assert not issubclass(cls, DamagedFileError)
    for cls in (UnsupportedContainerError, EncryptionKeyError, SnapshotTooLargeError):
        assert issubclass(cls, SealedFileError)
        assert not issubclass(cls, DamagedFileError | UntrustedFileError)
    assert issubclass(PeerIdMismatchError, SnapshotError)


def test_sealed_files_and_their_torn_prefixes_look_sealed_raw_snapshots_do_not() -> None:
    data = seal(SNAPSHOT, generation=1)
    assert all(looks_sealed(data[:cut]) for cut in range(len(MAGIC) + 1))
    assert looks_sealed(memoryview(data))
    assert not looks_sealed(encode(SNAPSHOT))
    assert not looks_sealed(b"\x89NSNAQ")


def strided(data: bytes) -> memoryview:
    """A non-contiguous view of exactly `data`'s bytes: every other byte of a doubled buffer."""
    return memoryview(bytes(byte for value in data for byte in (value, 0)))[::2]


@pytest.mark.parametrize(("signed", "encrypted", "compressed"), COMBOS, ids=COMBO_IDS)
def test_a_strided_memoryview_reads_like_its_bytes(
    signed: bool, encrypted: bool, compressed: bool
) -> None:
    data = seal_combo(signed, encrypted, compressed)
    key = KEY if encrypted else None
    assert not strided(data).c_contiguous
    assert read_header(strided(data)) == read_header(data)
    assert unseal(strided(data), encryption_key=key) == unseal(data, encryption_key=key)
    with pytest.raises(CorruptFileError):
        unseal(strided(data + b"\x00"), encryption_key=key)
