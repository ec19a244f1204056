"""libp2p public keys: the `PublicKey` protobuf, signatures per key type, and the PeerId a key
derives, as the libp2p peer-ids spec (https://github.com/libp2p/specs, peer-ids/peer-ids.md)
and go-libp2p define them.

- RSA (0): `Data` is a DER PKIX SubjectPublicKeyInfo of 2048 to 8192 bits (go-libp2p's
  bounds); signatures are RSASSA-PKCS1-v1_5 over SHA-256.
- Ed25519 (1): `Data` is the 32-byte key; signatures are Ed25519 (RFC 8032).
- Secp256k1 (2): `Data` is the 33-byte compressed point; signatures are DER ECDSA over SHA-256.
- ECDSA (3): `Data` is a DER PKIX SubjectPublicKeyInfo on P-224, P-256, P-384 or P-521;
  signatures are DER ECDSA over SHA-256.

A key is accepted only in its one canonical encoding (`08 <type> 12 <length> <data>`, DER as
go-libp2p writes it), so one key always has one PeerId: the identity multihash of that encoding
when it is at most 42 bytes long, else its sha2-256 multihash.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from node_runtime.protobuf_wire import (
    LEN,
    VARINT,
    Field,
    Message,
    WireFormatError,
    encode_bytes_field,
    encode_varint_field,
)


class KeyType(enum.IntEnum):
    """libp2p's `KeyType` enum."""

    RSA = 0
    Ed25519 = 1
    Secp256k1 = 2
    ECDSA = 3


MIN_RSA_BITS: Final = 2048
"""go-libp2p's `MinRsaKeyBits`: smaller RSA keys are refused."""
MAX_RSA_BITS: Final = 8192
"""go-libp2p's largest RSA key."""
MAX_INLINE_KEY_SIZE: Final = 42
"""A `PublicKey` encoding up to this long is inlined in its PeerId; a longer one is hashed."""

SigningKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
"""The private keys `sign` takes: one per libp2p key type (Secp256k1 and ECDSA are both EC)."""

_VerifyingKey = Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
_PUBLIC_KEY_FIELDS: Final = {1: Field("Type", VARINT), 2: Field("Data", LEN)}
_ED25519_SIZE: Final = 32
_SECP256K1_SIZE: Final = 33
_COMPRESSED_PREFIXES: Final = (2, 3)
# The curves Go's x509.ParsePKIXPublicKey reads, so the ECDSA keys go-libp2p accepts.
_ECDSA_CURVES: Final = frozenset({"secp224r1", "secp256r1", "secp384r1", "secp521r1"})
_SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_IDENTITY_PREFIX: Final = b"\x00"
_SHA2_256_PREFIX: Final = b"\x12\x20"


class PublicKeyError(ValueError):
    """A `PublicKey` that cannot verify anything; the message says why."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A parsed libp2p public key: its type, canonical protobuf, and the key itself."""

    key_type: KeyType
    protobuf: bytes
    key: _VerifyingKey

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's signature of `data`."""
        key = self.key
        try:
            if isinstance(key, Ed25519PublicKey):
                key.verify(signature, data)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            else:
                key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def peer_id(self) -> bytes:
        """The PeerId (multihash bytes) this key derives."""
        return peer_id_of(self.protobuf)


def encode_public_key(key_type: KeyType, data: bytes) -> bytes:
    """The canonical `PublicKey` protobuf: `Type` then `Data`, nothing else."""
    return encode_varint_field(1, key_type) + encode_bytes_field(2, data)


def peer_id_of(public_key: bytes) -> bytes:
    """The PeerId of the canonical `PublicKey` protobuf `public_key`."""
    if len(public_key) <= MAX_INLINE_KEY_SIZE:
        return _IDENTITY_PREFIX + bytes([len(public_key)]) + public_key
    return _SHA2_256_PREFIX + hashlib.sha256(public_key).digest()


def parse_public_key(protobuf: bytes) -> PublicKey:
    """The key in `PublicKey` protobuf bytes; `PublicKeyError` says why one is refused."""
    try:
        message = Message(protobuf, _PUBLIC_KEY_FIELDS)
    except WireFormatError as error:
        raise PublicKeyError(f"malformed PublicKey: {error}") from None
    type_number = message.varint(1)
    data = message.bytes_value(2)
    if type_number is None or data is None:
        missing = "Type" if type_number is None else "Data"
        raise PublicKeyError(f"PublicKey lacks its required {missing} field")
    try:
        key_type = KeyType(type_number)
    except ValueError:
        known = ", ".join(f"{kind.value} ({kind.name})" for kind in KeyType)
        raise PublicKeyError(f"unsupported key type {type_number}: expected {known}") from None
    if protobuf != encode_public_key(key_type, data):
        raise PublicKeyError(
            "PublicKey is not in canonical form (Type, then Data, and no other field)"
        )
    return PublicKey(key_type, protobuf, _load(key_type, data))


def _load(key_type: KeyType, data: bytes) -> _VerifyingKey:
    if key_type is KeyType.Ed25519:
        if len(data) != _ED25519_SIZE:
            raise PublicKeyError(f"an Ed25519 key is 32 bytes, not {len(data)}")
        return Ed25519PublicKey.from_public_bytes(data)
    if key_type is KeyType.Secp256k1:
        if len(data) != _SECP256K1_SIZE or data[0] not in _COMPRESSED_PREFIXES:
            raise PublicKeyError("a Secp256k1 key is a 33-byte compressed point (02 or 03 first)")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), data)
        except ValueError:
            raise PublicKeyError("Secp256k1 key is not a point on the curve") from None
    key = _load_pkix(key_type, data)
    if isinstance(key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise PublicKeyError(
                f"RSA key of {key.key_size} bits: libp2p takes {MIN_RSA_BITS} to {MAX_RSA_BITS}"
            )
    elif key.curve.name not in _ECDSA_CURVES:
        raise PublicKeyError(f"ECDSA key on unsupported curve {key.curve.name}")
    return key


def _load_pkix(key_type: KeyType, data: bytes) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The RSA or ECDSA key in DER PKIX `data`."""
    try:
        key = serialization.load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise PublicKeyError(f"{key_type.name} key is not a DER PKIX public key: {error}") from None
    expected = rsa.RSAPublicKey if key_type is KeyType.RSA else ec.EllipticCurvePublicKey
    if not isinstance(key, expected):
        raise PublicKeyError(f"{key_type.name} key data holds a {type(key).__name__}")
    # DER has one encoding per key, the one go-libp2p writes; another would give the same key a
    # second PeerId.
    if _pkix(key) != data:
        raise PublicKeyError(f"{key_type.name} key is not in canonical DER")
    return key


def _pkix(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_of(private_key: SigningKey) -> bytes:
    """The canonical `PublicKey` protobuf of `private_key`'s public half.

    `ValueError` for keys libp2p peers would refuse: RSA outside 2048 to 8192 bits, EC keys on
    curves other than secp256k1 and the NIST curves listed above.
    """
    if isinstance(private_key, Ed25519PrivateKey):
        return encode_public_key(KeyType.Ed25519, private_key.public_key().public_bytes_raw())
    public = private_key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256K1):
        point = public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        return encode_public_key(KeyType.Secp256k1, point)
    if isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name not in _ECDSA_CURVES:
            raise ValueError(f"libp2p takes no ECDSA key on curve {public.curve.name}")
        return encode_public_key(KeyType.ECDSA, _pkix(public))
    if not MIN_RSA_BITS <= public.key_size <= MAX_RSA_BITS:
        raise ValueError(
            f"libp2p takes RSA keys of {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, not {public.key_size}"
        )
    return encode_public_key(KeyType.RSA, _pkix(public))


def sign(private_key: SigningKey, data: bytes) -> bytes:
    """`private_key`'s libp2p signature of `data` (see the module docstring).

    Secp256k1 signatures are given the low S value that Bitcoin's BIP 62 (which the spec names)
    requires; libsecp256k1, under py-libp2p among others, refuses the high one.
    """
    if isinstance(private_key, Ed25519PrivateKey):
        return private_key.sign(data)
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    signature = private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    if not isinstance(private_key.curve, ec.SECP256K1):
        return signature
    r, s = decode_dss_signature(signature)
    return encode_dss_signature(r, min(s, _SECP256K1_ORDER - s))
