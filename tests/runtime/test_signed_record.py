"""Signed peer records: libp2p envelopes verified without libp2p, refused with the reason, and
signed byte for byte as go-libp2p and py-libp2p sign them."""

import pickle

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_private_key,
)
from hypothesis import given
from hypothesis import strategies as st
from signed_record_vectors import ED25519_SEED, RSA_PRIVATE_KEY, VECTORS, Vector

from node_runtime import (
    MAX_SIGNED_RECORD_SIZE,
    ComponentTypeError,
    ComponentValueError,
    Identity,
    Multiaddr,
    PeerId,
    SignedPeerRecord,
    SignedRecordError,
    sign_peer_record,
    verify_signed_peer_record,
)
from node_runtime.libp2p_keys import KeyType, SigningKey, encode_public_key, peer_id_of, sign
from node_runtime.protobuf_wire import (
    LEN,
    Field,
    Message,
    encode_bytes_field,
    encode_varint,
    encode_varint_field,
)
from node_runtime.testing import seal_peer_record

ACCEPTED = [name for name in VECTORS if name != "rsa-without-key-type"]
ADDRESSES = [Multiaddr.from_string(text) for text in VECTORS["ed25519"].addresses]
ALICE = Identity.from_private_bytes(ED25519_SEED)
BOB = Identity.from_private_bytes(bytes(32))


def fixture_rsa_key() -> rsa.RSAPrivateKey:
    key = load_der_private_key(RSA_PRIVATE_KEY, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


RSA_KEY = fixture_rsa_key()
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
DOMAIN = "libp2p-peer-record"
PEER_RECORD = b"\x03\x01"


def signed_bytes(domain: str, payload_type: bytes, payload: bytes) -> bytes:
    """RFC 0002's signing buffer, written out again here from the spec."""
    parts = (domain.encode(), payload_type, payload)
    return b"".join(encode_varint(len(part)) + part for part in parts)


def envelope_of(
    public_key: bytes, payload: bytes, signature: bytes, payload_type: bytes = PEER_RECORD
) -> bytes:
    return (
        encode_bytes_field(1, public_key)
        + encode_bytes_field(2, payload_type)
        + encode_bytes_field(3, payload)
        + encode_bytes_field(5, signature)
    )


def record_of(peer_id: bytes, seq: int, addresses: list[bytes], extra: bytes = b"") -> bytes:
    infos = b"".join(encode_bytes_field(3, encode_bytes_field(1, a) + extra) for a in addresses)
    return encode_bytes_field(1, peer_id) + encode_varint_field(2, seq) + infos + extra


def alice_key() -> bytes:
    return encode_public_key(KeyType.Ed25519, ALICE.public_key.public_bytes_raw())


def signed_by_alice(payload: bytes) -> bytes:
    """An envelope of `payload`, whatever it holds, validly signed by Alice."""
    signature = ALICE.sign(signed_bytes(DOMAIN, PEER_RECORD, payload))
    return envelope_of(alice_key(), payload, signature)


def alice_parts(seq: int = 1) -> tuple[bytes, bytes, bytes]:
    """Alice's public key, a peer record of hers and its signature."""
    payload = record_of(ALICE.peer_id.to_bytes(), seq, [])
    return alice_key(), payload, ALICE.sign(signed_bytes(DOMAIN, PEER_RECORD, payload))


def pkix(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def rsa_public_key(bits: int) -> bytes:
    """An RSA `PublicKey` protobuf with a modulus of exactly `bits` bits (no private key)."""
    modulus = (1 << (bits - 1)) | 1
    return encode_public_key(KeyType.RSA, pkix(rsa.RSAPublicNumbers(65537, modulus).public_key()))


P256_PKIX = pkix(ec.generate_private_key(ec.SECP256R1()).public_key())
SECP256K1_PKIX = pkix(ec.generate_private_key(ec.SECP256K1()).public_key())
BRAINPOOL_PKIX = pkix(ec.generate_private_key(ec.BrainpoolP256R1()).public_key())


def refusal(envelope: bytes, expected_peer: bytes | None = None) -> str:
    with pytest.raises(SignedRecordError) as caught:
        verify_signed_peer_record(envelope, expected_peer=expected_peer)
    return caught.value.reason


def assert_holds(record: SignedPeerRecord, vector: Vector) -> None:
    assert str(PeerId(record.peer_id)) == vector.peer_id
    assert record.seq == vector.seq
    assert tuple(str(Multiaddr(address)) for address in record.addresses) == vector.addresses


# Interop with py-libp2p.


@pytest.mark.parametrize("name", ACCEPTED)
def test_py_libp2p_envelopes_verify_to_the_records_they_hold(name: str) -> None:
    vector = VECTORS[name]
    expected_peer = PeerId.from_string(vector.peer_id).to_bytes()

    record = verify_signed_peer_record(vector.envelope, expected_peer=expected_peer)

    assert_holds(record, vector)
    assert record.envelope == vector.envelope
    assert peer_id_of(record.public_key) == record.peer_id


@pytest.mark.parametrize(
    ("key_type", "name"),
    [
        (KeyType.Ed25519, "ed25519"),
        (KeyType.Secp256k1, "secp256k1"),
        (KeyType.ECDSA, "ecdsa"),
        (KeyType.RSA, "rsa"),
    ],
)
def test_each_key_type_yields_its_canonical_public_key(key_type: KeyType, name: str) -> None:
    envelope = VECTORS[name].envelope

    record = verify_signed_peer_record(envelope)

    assert record.public_key[:2] == bytes([0x08, key_type])
    assert envelope.startswith(encode_bytes_field(1, record.public_key))


@pytest.mark.parametrize("signer", [ALICE, Ed25519PrivateKey.from_private_bytes(ED25519_SEED)])
@pytest.mark.parametrize("name", ["ed25519", "ed25519-empty"])
def test_signing_reproduces_py_libp2p_ed25519_envelopes_byte_for_byte(
    signer: Identity | Ed25519PrivateKey, name: str
) -> None:
    vector = VECTORS[name]
    addresses = [Multiaddr.from_string(text) for text in vector.addresses]

    assert sign_peer_record(signer, vector.seq, addresses) == vector.envelope


def test_signing_reproduces_the_py_libp2p_rsa_envelope_byte_for_byte() -> None:
    vector = VECTORS["rsa"]

    assert sign_peer_record(RSA_KEY, vector.seq, ADDRESSES) == vector.envelope


def test_py_libp2p_rsa_envelope_without_the_required_key_type_is_refused() -> None:
    # py-libp2p's proto3 schema leaves out Type 0; go-libp2p's proto2 schema requires it.
    reason = refusal(VECTORS["rsa-without-key-type"].envelope)

    assert reason == "envelope public_key refused: PublicKey lacks its required Type field"


def test_each_payload_type_verifies_only_under_its_own_domain() -> None:
    rust_type = b"/libp2p/routing-state-record"
    swapped = [
        seal_peer_record(ALICE, 1, payload_type=rust_type),  # domain libp2p-peer-record
        seal_peer_record(ALICE, 1, domain="libp2p-routing-state"),  # payload type 03 01
    ]

    for envelope in swapped:
        assert refusal(envelope).startswith("bad signature")


# Signing.


def signers() -> list[Identity | SigningKey]:
    return [
        ALICE,
        Ed25519PrivateKey.generate(),
        ec.generate_private_key(ec.SECP256K1()),
        ec.generate_private_key(ec.SECP224R1()),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP521R1()),
        RSA_KEY,
    ]


def label(signer: object) -> str:
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        return signer.curve.name
    return type(signer).__name__


@pytest.mark.parametrize("signer", signers(), ids=label)
def test_records_signed_with_every_supported_key_verify(signer: Identity | SigningKey) -> None:
    envelope = sign_peer_record(signer, 2**64 - 1, ADDRESSES)

    record = verify_signed_peer_record(envelope)

    assert record.seq == 2**64 - 1
    assert record.addresses == tuple(address.to_bytes() for address in ADDRESSES)
    assert record.envelope == envelope


def test_secp256k1_signatures_take_the_low_s_value_libsecp256k1_requires() -> None:
    key = ec.generate_private_key(ec.SECP256K1())

    for seq in range(32):  # each half as likely to be high without normalizing
        signature = sign(key, seq.to_bytes(8, "big"))
        assert decode_dss_signature(signature)[1] <= SECP256K1_ORDER // 2


def test_a_high_s_secp256k1_signature_still_verifies_as_in_go_libp2p() -> None:
    key = ec.generate_private_key(ec.SECP256K1())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    public_key = encode_public_key(KeyType.Secp256k1, point)
    payload = record_of(peer_id_of(public_key), 3, [])
    r, s = decode_dss_signature(sign(key, signed_bytes(DOMAIN, PEER_RECORD, payload)))
    high_s = encode_dss_signature(r, SECP256K1_ORDER - s)

    record = verify_signed_peer_record(envelope_of(public_key, payload, high_s))

    assert record.seq == 3


def test_the_testing_helper_with_its_defaults_signs_what_sign_peer_record_signs() -> None:
    binary = [address.to_bytes() for address in ADDRESSES]

    assert seal_peer_record(ALICE, 5, binary) == sign_peer_record(ALICE, 5, ADDRESSES)


@pytest.mark.parametrize(
    ("arguments", "path", "error"),
    [
        ((ALICE, -1, []), ("seq",), ComponentValueError),
        ((ALICE, 2**64, []), ("seq",), ComponentValueError),
        ((ALICE, True, []), ("seq",), ComponentTypeError),
        ((ALICE, 1, ADDRESSES[0]), ("addresses",), ComponentTypeError),
        ((ALICE, 1, ADDRESSES[0].to_bytes()), ("addresses",), ComponentTypeError),
        ((ALICE, 1, [ADDRESSES[0], b"\x04"]), ("addresses", 1), ComponentTypeError),
        ((ED25519_SEED, 1, []), ("signer",), ComponentTypeError),
        ((ec.generate_private_key(ec.BrainpoolP256R1()), 1, []), ("signer",), ComponentValueError),
        ((rsa.generate_private_key(65537, 1024), 1, []), ("signer",), ComponentValueError),
    ],
)
def test_signing_refuses_what_peers_would_refuse(
    arguments: tuple[object, object, object], path: tuple[object, ...], error: type[Exception]
) -> None:
    with pytest.raises(ComponentValueError) as caught:
        sign_peer_record(*arguments)  # type: ignore[arg-type]

    assert type(caught.value) is error
    assert caught.value.path == path


# Refusals.


def test_a_record_signed_by_one_peer_claiming_another_is_refused() -> None:
    envelope = seal_peer_record(ALICE, 1, peer_id=BOB.peer_id.to_bytes())

    assert refusal(envelope) == (
        f"wrong peer: the record claims peer {BOB.peer_id} but is signed by the key of peer "
        f"{ALICE.peer_id}"
    )


def test_a_record_of_another_peer_than_expected_is_refused() -> None:
    envelope = sign_peer_record(ALICE, 1, ADDRESSES)

    assert refusal(envelope, expected_peer=BOB.peer_id.to_bytes()) == (
        f"wrong peer: the record is peer {ALICE.peer_id}'s, not the expected peer {BOB.peer_id}'s"
    )


def test_the_expected_peer_may_be_a_peer_id() -> None:
    envelope = sign_peer_record(ALICE, 1, ADDRESSES)

    record = verify_signed_peer_record(envelope, expected_peer=ALICE.peer_id)

    assert record.peer_id == ALICE.peer_id.to_bytes()


def test_a_claimed_peer_id_that_is_no_peer_id_is_shown_as_bytes() -> None:
    reason = refusal(seal_peer_record(ALICE, 1, peer_id=b"\xff\x01"))

    assert reason.startswith("wrong peer: the record claims peer <2 bytes ff01> (not a PeerId)")


def test_a_record_signed_for_another_domain_is_refused() -> None:
    envelope = seal_peer_record(ALICE, 1, domain="libp2p-custom")

    assert refusal(envelope) == (
        f"bad signature: it does not verify under the Ed25519 key of peer {ALICE.peer_id} "
        "for domain 'libp2p-peer-record'"
    )


@pytest.mark.parametrize("payload_type", [b"\x03\x02", b"\x01\x03", b"/libp2p/peer-record", b""])
def test_an_envelope_of_another_payload_type_is_refused(payload_type: bytes) -> None:
    envelope = seal_peer_record(ALICE, 1, payload_type=payload_type)

    assert "is not a peer record's (0301)" in refusal(envelope)


def test_a_changed_payload_or_signature_is_refused() -> None:
    key, payload, signature = alice_parts()
    changed_payload = record_of(ALICE.peer_id.to_bytes(), 2, [])
    flipped = signature[:-1] + bytes([signature[-1] ^ 1])

    assert verify_signed_peer_record(envelope_of(key, payload, signature)).seq == 1
    assert refusal(envelope_of(key, changed_payload, signature)).startswith("bad signature")
    assert refusal(envelope_of(key, payload, flipped)).startswith("bad signature")
    assert refusal(envelope_of(key, payload, b"")).startswith("bad signature")


def test_the_signature_is_checked_before_the_payload_is_parsed() -> None:
    key = alice_parts()[0]
    garbage = b"\xff\xff"
    signed = ALICE.sign(signed_bytes(DOMAIN, PEER_RECORD, garbage))

    assert refusal(envelope_of(key, garbage, bytes(64))).startswith("bad signature")
    assert refusal(envelope_of(key, garbage, signed)) == (
        "malformed peer record: varint at byte 0 is truncated"
    )


def test_an_envelope_without_a_public_key_is_refused() -> None:
    key, payload, signature = alice_parts()
    keyless = envelope_of(key, payload, signature)[len(encode_bytes_field(1, key)) :]

    assert refusal(keyless) == "envelope has no public_key"
    assert refusal(b"") == "envelope has no public_key"


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        (b"\x0a\x05ab", "malformed envelope: field 1 (public_key) at byte 0 is truncated"),
        (b"\x08\x01", "malformed envelope: field 1 (public_key) at byte 0 has wire type 0"),
        (b"\x12\x00\x12\x00", "malformed envelope: field 2 (payload_type) repeated at byte 2"),
        (b"\x2b", "malformed envelope: field 5 (signature) at byte 0 has wire type 3"),
        (b"\x0a\x80\x00", "malformed envelope: varint at byte 1 is not in shortest form"),
    ],
)
def test_a_malformed_envelope_is_refused_naming_the_field(envelope: bytes, reason: str) -> None:
    assert refusal(envelope).startswith(reason)


# Keys.


@pytest.mark.parametrize(
    ("public_key", "reason"),
    [
        (encode_public_key(KeyType.Ed25519, bytes(31)), "an Ed25519 key is 32 bytes, not 31"),
        (encode_varint_field(1, 4) + encode_bytes_field(2, bytes(32)), "unsupported key type 4"),
        (encode_bytes_field(2, bytes(32)), "PublicKey lacks its required Type field"),
        (encode_varint_field(1, 1), "PublicKey lacks its required Data field"),
        (
            encode_bytes_field(2, bytes(32)) + encode_varint_field(1, 1),
            "PublicKey is not in canonical form (Type, then Data, and no other field)",
        ),
        (
            alice_key() + encode_varint_field(3, 0),
            "PublicKey is not in canonical form (Type, then Data, and no other field)",
        ),
        (b"\x08\x01\x12", "malformed PublicKey: varint at byte 3 is truncated"),
        (
            encode_public_key(KeyType.Secp256k1, b"\x04" + bytes(32)),
            "a Secp256k1 key is a 33-byte compressed point (02 or 03 first)",
        ),
        (
            encode_public_key(KeyType.Secp256k1, b"\x02" + bytes(32)),
            "Secp256k1 key is not a point on the curve",
        ),
        (rsa_public_key(2047), "RSA key of 2047 bits: libp2p takes 2048 to 8192"),
        (rsa_public_key(8193), "RSA key of 8193 bits: libp2p takes 2048 to 8192"),
        (encode_public_key(KeyType.RSA, b"\x30\x00"), "RSA key is not a DER PKIX public key"),
        (
            encode_public_key(KeyType.RSA, P256_PKIX),
            "RSA key data holds a",
        ),
        (
            encode_public_key(KeyType.ECDSA, pkix(RSA_KEY.public_key())),
            "ECDSA key data holds a",
        ),
        (
            encode_public_key(KeyType.ECDSA, SECP256K1_PKIX),
            "ECDSA key on unsupported curve secp256k1",
        ),
        (
            encode_public_key(KeyType.ECDSA, BRAINPOOL_PKIX),
            "ECDSA key on unsupported curve brainpoolP256r1",
        ),
        (
            encode_public_key(KeyType.ECDSA, P256_PKIX + b"\x00"),
            "ECDSA key is not a DER PKIX public key",
        ),
    ],
)
def test_unusable_public_keys_are_refused_with_the_reason(public_key: bytes, reason: str) -> None:
    _, payload, signature = alice_parts()

    assert refusal(envelope_of(public_key, payload, signature)).startswith(
        f"envelope public_key refused: {reason}"
    )


@pytest.mark.parametrize("bits", [2048, 8192])
def test_rsa_keys_of_the_bounding_sizes_are_accepted_up_to_the_signature(bits: int) -> None:
    _, payload, signature = alice_parts()

    assert refusal(envelope_of(rsa_public_key(bits), payload, signature)).startswith(
        "bad signature: it does not verify under the RSA key"
    )


def test_an_ecdsa_key_with_a_compressed_point_is_refused() -> None:
    # Go's x509 reads only uncompressed points; the same key compressed would be a second PeerId.
    key = ec.generate_private_key(ec.SECP256R1())
    algorithm = P256_PKIX[2:23]  # SEQUENCE { id-ecPublicKey, prime256v1 }
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    bit_string = bytes([0x03, len(point) + 1, 0x00]) + point
    spki = bytes([0x30, len(algorithm) + len(bit_string)]) + algorithm + bit_string
    public_key = encode_public_key(KeyType.ECDSA, spki)
    payload = record_of(peer_id_of(public_key), 1, [])
    envelope = envelope_of(
        public_key, payload, sign(key, signed_bytes(DOMAIN, PEER_RECORD, payload))
    )

    assert refusal(envelope) == "envelope public_key refused: ECDSA key is not in canonical DER"


# The record inside.


def test_a_record_without_a_peer_id_is_refused() -> None:
    payload = encode_varint_field(2, 1)

    assert refusal(signed_by_alice(payload)) == "peer record has no peer_id"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (b"\x04\x01\x02", "peer record address 1: /ip4 value at byte 1 is truncated"),
        (b"\x99\x01", "peer record address 1: unknown protocol code 0x99 at byte 0"),
        (b"", "peer record address 1: empty multiaddr"),
    ],
)
def test_a_record_with_an_invalid_address_is_refused_naming_it(address: bytes, reason: str) -> None:
    envelope = seal_peer_record(ALICE, 1, [ADDRESSES[0].to_bytes(), address])

    assert refusal(envelope).startswith(reason)


def test_an_address_info_without_a_multiaddr_is_refused() -> None:
    payload = encode_bytes_field(1, ALICE.peer_id.to_bytes()) + encode_bytes_field(3, b"")

    assert refusal(signed_by_alice(payload)) == "peer record address 0 has no multiaddr"


def test_a_malformed_record_is_refused_naming_the_field() -> None:
    payload = encode_bytes_field(1, ALICE.peer_id.to_bytes()) + encode_bytes_field(2, b"1")

    assert refusal(signed_by_alice(payload)) == (
        "malformed peer record: field 2 (seq) at byte 40 has wire type 2, not 0"
    )


def test_unknown_fields_are_skipped_at_every_level() -> None:
    # RFC 0003 keeps AddressInfo a message so that addresses can gain fields later.
    unknown = encode_varint_field(7, 42) + encode_bytes_field(8, b"future")
    address = ADDRESSES[0].to_bytes()
    payload = record_of(ALICE.peer_id.to_bytes(), 9, [address], extra=unknown)
    envelope = signed_by_alice(payload) + unknown

    record = verify_signed_peer_record(envelope)

    assert (record.seq, record.addresses) == (9, (address,))


def test_a_duplicated_address_is_kept_as_the_signer_wrote_it() -> None:
    address = ADDRESSES[0].to_bytes()

    record = verify_signed_peer_record(seal_peer_record(ALICE, 1, [address, address]))

    assert record.addresses == (address, address)


def test_an_envelope_of_the_size_limit_verifies_and_one_byte_more_is_refused() -> None:
    envelope = sign_peer_record(ALICE, 1, ADDRESSES)
    header = len(encode_bytes_field(9, bytes(MAX_SIGNED_RECORD_SIZE)))
    padding = MAX_SIGNED_RECORD_SIZE - len(envelope) - (header - MAX_SIGNED_RECORD_SIZE)
    at_limit = envelope + encode_bytes_field(9, bytes(padding))  # an unknown field, skipped

    assert len(at_limit) == MAX_SIGNED_RECORD_SIZE
    assert verify_signed_peer_record(at_limit).seq == 1
    assert refusal(at_limit + b"\0") == (
        f"signed record of {MAX_SIGNED_RECORD_SIZE + 1} bytes exceeds the "
        f"{MAX_SIGNED_RECORD_SIZE}-byte limit"
    )


def test_a_record_of_the_largest_seq_verifies() -> None:
    record = verify_signed_peer_record(sign_peer_record(ALICE, 2**64 - 1, []))

    assert record.seq == 2**64 - 1


# Robustness: no damaged envelope verifies to another record.


def same_record_or_refused(envelope: bytes, original: SignedPeerRecord) -> bool:
    """Whether `envelope` is refused or verifies to `original`'s record (not another)."""
    try:
        record = verify_signed_peer_record(envelope)
    except SignedRecordError:
        return False
    fields = (record.peer_id, record.seq, record.addresses, record.public_key)
    assert fields == (original.peer_id, original.seq, original.addresses, original.public_key)
    return True


@pytest.mark.parametrize("name", ["ed25519"])
def test_every_single_bit_flip_is_refused_or_yields_the_same_record(name: str) -> None:
    envelope = VECTORS[name].envelope
    original = verify_signed_peer_record(envelope)

    for bit in range(len(envelope) * 8):
        flipped = bytearray(envelope)
        flipped[bit // 8] ^= 1 << (bit % 8)
        same_record_or_refused(bytes(flipped), original)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["secp256k1", "ecdsa", "rsa", "ed25519-rust-libp2p"])
def test_every_single_bit_flip_of_other_vectors_is_refused_or_same(name: str) -> None:
    test_every_single_bit_flip_is_refused_or_yields_the_same_record(name)


@pytest.mark.parametrize("name", ACCEPTED)
def test_truncation_at_every_offset_is_refused(name: str) -> None:
    envelope = VECTORS[name].envelope

    for end in range(len(envelope)):
        refusal(envelope[:end])


@given(st.binary(max_size=600))
def test_arbitrary_bytes_are_refused_with_signed_record_error(data: bytes) -> None:
    refusal(data)


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> bytes:
    """A valid envelope with bytes replaced, inserted or deleted at drawn places."""
    envelope = bytearray(VECTORS[draw(st.sampled_from(ACCEPTED))].envelope)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(envelope)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "insert":
            envelope[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif at < len(envelope):
            replacement = draw(st.binary(max_size=1)) if action == "replace" else b""
            envelope[at : at + 1] = replacement
    return bytes(envelope)


@given(mutated_envelopes())
def test_mutated_envelopes_are_refused_or_yield_a_record_their_key_signed(data: bytes) -> None:
    try:
        record = verify_signed_peer_record(data)
    except SignedRecordError:
        return
    # Only bytes outside the signed payload changed: the record is one a vector's key signed.
    originals = [verify_signed_peer_record(VECTORS[name].envelope) for name in ACCEPTED]
    signed = {(r.peer_id, r.seq, r.addresses, r.public_key) for r in originals}
    assert (record.peer_id, record.seq, record.addresses, record.public_key) in signed


@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.binary(max_size=40) | st.integers(0, 2**64 - 1)),
        max_size=6,
    )
)
def test_envelope_shaped_bytes_are_refused_with_signed_record_error(
    fields: list[tuple[int, bytes | int]],
) -> None:
    data = b"".join(
        encode_varint_field(number, value)
        if isinstance(value, int)
        else encode_bytes_field(number, value)
        for number, value in fields
    )

    refusal(data)


# The API.


def test_a_signed_record_error_is_a_component_value_error_located_at_the_envelope() -> None:
    error = SignedRecordError("bad signature")

    assert isinstance(error, ComponentValueError)
    assert isinstance(error, ValueError)
    assert error.path == ("envelope",)
    assert str(error) == "bad signature - at `$.envelope`"


def test_a_signed_record_error_survives_pickling() -> None:
    error = SignedRecordError("bad signature")

    restored = pickle.loads(pickle.dumps(error))

    assert (type(restored), restored.reason, restored.path) == (
        SignedRecordError,
        "bad signature",
        ("envelope",),
    )


@pytest.mark.parametrize(
    ("envelope", "expected_peer", "path"),
    [
        (bytearray(VECTORS["ed25519"].envelope), None, ("envelope",)),
        (VECTORS["ed25519"].envelope.hex(), None, ("envelope",)),
        (VECTORS["ed25519"].envelope, VECTORS["ed25519"].peer_id, ("expected_peer",)),
    ],
)
def test_arguments_of_the_wrong_type_are_refused(
    envelope: object, expected_peer: object, path: tuple[str]
) -> None:
    with pytest.raises(ComponentTypeError) as caught:
        verify_signed_peer_record(envelope, expected_peer=expected_peer)  # type: ignore[arg-type]

    assert caught.value.path == path


def test_a_verified_record_is_frozen_and_shows_its_bytes_compactly() -> None:
    record = verify_signed_peer_record(VECTORS["ed25519"].envelope)

    with pytest.raises(AttributeError):
        record.seq = 2  # type: ignore[misc]
    assert repr(record).startswith("SignedPeerRecord(peer_id=<38 bytes 002408011220d874")


def parts_of(envelope: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """An envelope's public key, payload, signature and payload type."""
    fields = {number: Field(str(number), LEN) for number in (1, 2, 3, 5)}
    message = Message(envelope, fields)
    key, payload, signature, payload_type = (message.bytes_value(n) or b"" for n in (1, 3, 5, 2))
    return key, payload, signature, payload_type


@given(st.sampled_from(["ed25519", "secp256k1", "ecdsa", "rsa"]), st.binary(max_size=600))
def test_any_other_signature_is_refused_as_bad_for_every_key_type(
    name: str, signature: bytes
) -> None:
    key, payload, original, payload_type = parts_of(VECTORS[name].envelope)

    if signature != original:
        reason = refusal(envelope_of(key, payload, signature, payload_type))
        assert reason.startswith("bad signature")
