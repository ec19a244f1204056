"""PeerId: libp2p peer-ids spec semantics, canonical bytes, both text forms, strict refusal.

Fuzz contract: `PeerId.from_bytes` and `PeerId.from_string` return a PeerId or raise
`InvalidPeerIdError`, never anything else.
"""

from __future__ import annotations

import copy
import hashlib
import pickle

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from multiformats import multibase, varint

from node_runtime.errors import InvalidPeerIdError
from node_runtime.peer_id import PeerId
from snapshot_schema.errors import SnapshotError
from snapshot_schema.multihash import MULTIHASH_CODES

# libp2p specs, peer-ids/peer-ids.md, "Test vectors": protobuf-encoded Ed25519 keys.
SPEC_ED25519_PRIVATE_KEY = bytes.fromhex(
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
    "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
)
SPEC_ED25519_PUBLIC_KEY = bytes.fromhex(
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
)
# The PeerId of that key: base58btc of `00 24 ‖ public key protobuf`, checked below against
# multiformats' own base58btc encoder.
SPEC_ED25519_PEER_ID = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
# The spec's string examples ("Decoding"): one sha2-256 PeerId in both text forms, one Ed25519.
SPEC_SHA256_BASE58 = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
SPEC_SHA256_CID = "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"
SPEC_ED25519_EXAMPLE = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"


def base58btc(data: bytes) -> str:
    """multiformats' (slow, independent) base58btc, the reference for ours."""
    text: str = multibase.get("base58btc").raw_encoder(data)
    return text


def spec_public_key() -> Ed25519PublicKey:
    seed = SPEC_ED25519_PRIVATE_KEY[4:36]
    return Ed25519PrivateKey.from_private_bytes(seed).public_key()


@st.composite
def multihashes(draw: st.DrawFn) -> bytes:
    """Well-formed multihashes of any known code (the digest need not be a real hash)."""
    code = draw(st.sampled_from(sorted(MULTIHASH_CODES)))
    digest = draw(st.binary(max_size=70))
    encoded: bytes = varint.encode(code) + varint.encode(len(digest)) + digest
    return encoded


# --- the spec vectors -------------------------------------------------------------------------


def test_spec_private_key_derives_the_spec_public_key() -> None:
    raw = spec_public_key().public_bytes_raw()

    assert raw == SPEC_ED25519_PRIVATE_KEY[36:]
    assert bytes([0x08, 0x01, 0x12, 0x20]) + raw == SPEC_ED25519_PUBLIC_KEY


def test_ed25519_peer_id_is_the_identity_multihash_of_the_key_protobuf() -> None:
    peer_id = PeerId.from_public_key(spec_public_key())

    assert peer_id.to_bytes() == bytes([0x00, 0x24]) + SPEC_ED25519_PUBLIC_KEY
    assert len(peer_id.to_bytes()) == 38


def test_ed25519_peer_id_text_matches_the_independently_encoded_vector() -> None:
    peer_id = PeerId.from_public_key(spec_public_key())

    assert str(peer_id) == SPEC_ED25519_PEER_ID
    assert base58btc(bytes([0x00, 0x24]) + SPEC_ED25519_PUBLIC_KEY) == SPEC_ED25519_PEER_ID


def test_spec_sha256_example_parses_from_base58_and_from_cid_to_the_same_peer() -> None:
    from_base58 = PeerId.from_string(SPEC_SHA256_BASE58)
    from_cid = PeerId.from_string(SPEC_SHA256_CID)

    assert from_cid == from_base58
    assert from_base58.to_bytes()[:2] == bytes([0x12, 0x20])
    assert str(from_cid) == SPEC_SHA256_BASE58
    assert from_base58.to_cid_string() == SPEC_SHA256_CID


def test_spec_ed25519_example_inlines_its_public_key() -> None:
    peer_id = PeerId.from_string(SPEC_ED25519_EXAMPLE)
    key = peer_id.public_key()

    assert key is not None
    assert PeerId.from_public_key(key) == peer_id


def test_ed25519_cid_form_is_base32_libp2p_key_and_parses_back() -> None:
    peer_id = PeerId.from_string(SPEC_ED25519_PEER_ID)
    cid = peer_id.to_cid_string()

    assert cid.startswith("bafz")
    assert cid == "b" + multibase.get("base32").raw_encoder(b"\x01\x72" + peer_id.to_bytes())
    assert PeerId.from_string(cid) == peer_id


# --- public keys ------------------------------------------------------------------------------


def test_public_key_is_extracted_from_an_identity_ed25519_peer_id() -> None:
    key = spec_public_key()
    extracted = PeerId.from_public_key(key).public_key()

    assert extracted is not None
    assert extracted.public_bytes_raw() == key.public_bytes_raw()


def test_public_key_is_none_for_a_hashed_peer_id() -> None:
    assert PeerId.from_string(SPEC_SHA256_BASE58).public_key() is None


def test_public_key_is_none_for_an_identity_multihash_of_another_key_type() -> None:
    secp256k1 = bytes.fromhex(
        "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"
    )
    peer_id = PeerId.from_bytes(bytes([0x00, len(secp256k1)]) + secp256k1)

    assert peer_id.public_key() is None
    assert str(peer_id).startswith("16Uiu2")  # the familiar prefix of secp256k1 PeerIds


# --- bytes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "multihash",
    [
        bytes([0x00, 0x00]),  # identity, empty digest
        bytes([0x12, 0x20]) + hashlib.sha256(b"key").digest(),  # sha2-256
        bytes([0x13, 0x40]) + hashlib.sha512(b"key").digest(),  # sha2-512
        bytes([0xA0, 0xE4, 0x02, 0x20]) + hashlib.blake2b(b"key", digest_size=32).digest(),
    ],
    ids=["identity-empty", "sha2-256", "sha2-512", "blake2b-256"],
)
def test_bytes_round_trip_for_any_multihash_code(multihash: bytes) -> None:
    peer_id = PeerId.from_bytes(multihash)

    assert peer_id.to_bytes() == multihash
    assert PeerId.from_bytes(peer_id.to_bytes()) == peer_id
    assert PeerId.from_string(str(peer_id)) == peer_id


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a shortest-form varint"),
        (bytes([0x12]), "digest length"),
        (bytes([0x12, 0x20]) + bytes(31), "declares a 32-byte digest but carries 31"),
        (bytes([0x12, 0x20]) + bytes(33), "declares a 32-byte digest but carries 33"),
        (bytes([0x80, 0x00, 0x00]), "not a shortest-form varint"),
        (bytes([0x7F, 0x00]), "unknown multihash code 0x7f"),
        (bytes([0x00, 0x80, 0x00]), "digest length is not a shortest-form varint"),
    ],
    ids=["empty", "no-length", "short", "long", "padded-code", "unknown-code", "padded-length"],
)
def test_malformed_bytes_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidPeerIdError, match=reason):
        PeerId.from_bytes(data)


def test_bytes_like_objects_other_than_bytes_are_refused() -> None:
    with pytest.raises(InvalidPeerIdError, match="got `bytearray`"):
        PeerId.from_bytes(bytearray(b"\x00\x00"))  # type: ignore[arg-type]


def test_invalid_peer_id_error_is_a_snapshot_error_and_a_value_error() -> None:
    with pytest.raises(InvalidPeerIdError) as caught:
        PeerId.from_bytes(b"")

    assert isinstance(caught.value, SnapshotError)
    assert isinstance(caught.value, ValueError)


# --- text -------------------------------------------------------------------------------------


def test_leading_zero_bytes_are_leading_ones_in_base58() -> None:
    empty_identity = PeerId.from_bytes(bytes([0x00, 0x00]))

    assert str(empty_identity) == "11"
    assert PeerId.from_string("11") == empty_identity


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("12D3KooW0", "not valid base58btc"),  # '0' is not in the alphabet
        ("QmIl", "not valid base58btc"),  # neither are 'I' and 'l'
        ("Qm", "not a valid multihash"),
        ("1" * 3000, "too long"),
        ("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "libp2p-key"),
        ("xyz", "not multibase-encoded"),
        ("b", "not a CIDv1"),
        ("f0272", "not a CIDv1"),
        ("f0170", "libp2p-key"),
        ("\ud800", "not multibase-encoded"),
    ],
    ids=[
        "empty",
        "bad-char-0",
        "bad-char-I-l",
        "too-short",
        "too-long",
        "cid-with-dag-pb-codec",
        "unknown-multibase",
        "empty-cid",
        "cid-version-2",
        "cid-without-codec",
        "lone-surrogate",
    ],
)
def test_malformed_text_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidPeerIdError, match=reason):
        PeerId.from_string(text)


def test_cid_with_libp2p_key_codec_but_malformed_multihash_is_refused() -> None:
    truncated = SPEC_SHA256_CID[:-4]

    with pytest.raises(InvalidPeerIdError):
        PeerId.from_string(truncated)


def test_non_string_text_is_refused() -> None:
    with pytest.raises(InvalidPeerIdError, match="got `bytes`"):
        PeerId.from_string(SPEC_ED25519_PEER_ID.encode())  # type: ignore[arg-type]


def test_repr_shows_the_base58_text() -> None:
    assert repr(PeerId.from_string(SPEC_ED25519_PEER_ID)) == f"PeerId('{SPEC_ED25519_PEER_ID}')"


# --- value semantics --------------------------------------------------------------------------


def test_equal_bytes_are_equal_and_hash_alike() -> None:
    first = PeerId.from_string(SPEC_SHA256_BASE58)
    second = PeerId.from_string(SPEC_SHA256_CID)

    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
    assert first != SPEC_SHA256_BASE58
    assert first != first.to_bytes()


def test_peer_id_is_immutable() -> None:
    peer_id = PeerId.from_string(SPEC_ED25519_PEER_ID)

    with pytest.raises(AttributeError):
        peer_id._bytes = b"\x00\x00"
    with pytest.raises(AttributeError):
        del peer_id._bytes
    with pytest.raises(AttributeError):
        peer_id.other = 1
    assert str(peer_id) == SPEC_ED25519_PEER_ID


def test_pickle_and_copy_preserve_the_value() -> None:
    peer_id = PeerId.from_string(SPEC_ED25519_PEER_ID)

    assert pickle.loads(pickle.dumps(peer_id)) == peer_id
    assert copy.deepcopy(peer_id) == peer_id


def test_comparing_with_a_non_peer_id_is_a_type_error() -> None:
    peer_id = PeerId.from_string(SPEC_ED25519_PEER_ID)

    with pytest.raises(TypeError):
        assert peer_id < b"\x00"  # type: ignore[operator]


# --- properties -------------------------------------------------------------------------------


@given(multihashes())
def test_any_multihash_round_trips_through_bytes_base58_and_cid(multihash: bytes) -> None:
    peer_id = PeerId.from_bytes(multihash)

    assert peer_id.to_bytes() == multihash
    assert str(peer_id) == base58btc(multihash)
    assert PeerId.from_string(str(peer_id)) == peer_id
    assert PeerId.from_string(peer_id.to_cid_string()) == peer_id


@given(st.binary(min_size=32, max_size=32))
def test_every_ed25519_key_gives_an_identity_peer_id_that_returns_the_key(raw: bytes) -> None:
    peer_id = PeerId.from_public_key(Ed25519PublicKey.from_public_bytes(raw))
    key = peer_id.public_key()

    assert str(peer_id).startswith("12D3KooW")
    assert key is not None
    assert key.public_bytes_raw() == raw


@given(st.lists(multihashes(), min_size=2, max_size=5))
def test_peer_ids_order_like_their_bytes(multihashes_: list[bytes]) -> None:
    peer_ids = [PeerId.from_bytes(multihash) for multihash in multihashes_]

    assert [peer_id.to_bytes() for peer_id in sorted(peer_ids)] == sorted(multihashes_)
    first, second = peer_ids[0], peer_ids[1]
    assert (first < second) == (first.to_bytes() < second.to_bytes())
    assert (first <= second) == (first.to_bytes() <= second.to_bytes())
    assert (first > second) == (first.to_bytes() > second.to_bytes())
    assert (first >= second) == (first.to_bytes() >= second.to_bytes())


@given(st.binary(max_size=80) | multihashes().map(lambda mh: mh + b"\x00"))
def test_arbitrary_bytes_give_a_peer_id_or_invalid_peer_id_error(data: bytes) -> None:
    try:
        peer_id = PeerId.from_bytes(data)
    except InvalidPeerIdError:
        return
    assert peer_id.to_bytes() == data


@given(
    st.text(max_size=80)
    | st.text(alphabet="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", max_size=60)
    | st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(["b", "z", "f", "u", "m"]),
        st.text(max_size=60),
    )
)
def test_arbitrary_text_gives_a_peer_id_or_invalid_peer_id_error(text: str) -> None:
    try:
        peer_id = PeerId.from_string(text)
    except InvalidPeerIdError:
        return
    assert PeerId.from_bytes(peer_id.to_bytes()) == peer_id
