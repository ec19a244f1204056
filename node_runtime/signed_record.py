"""Signed peer records: a libp2p signed envelope holding a peer record, verified without libp2p.

The formats (libp2p specs RFC 0002 and RFC 0003, as go-libp2p, js-libp2p and py-libp2p write
them):

    Envelope   { PublicKey public_key = 1; bytes payload_type = 2; bytes payload = 3;
                 bytes signature = 5; }
    PeerRecord { bytes peer_id = 1; uint64 seq = 2; repeated AddressInfo addresses = 3; }
    AddressInfo { bytes multiaddr = 1; }

The signature is over `varint(len(domain)) ‖ domain ‖ varint(len(payload_type)) ‖ payload_type
‖ varint(len(payload)) ‖ payload`. A peer record's payload type is the `libp2p-peer-record`
multicodec (the bytes `03 01`) and its domain `"libp2p-peer-record"`. rust-libp2p signs the same
record under the payload type `"/libp2p/routing-state-record"` and the domain
`"libp2p-routing-state"` (RFC 0003's draft names); both pairs verify, each only with its own
domain. Keys: see `node_runtime.libp2p_keys`.

Verification follows RFC 0003's order: the signature is checked before the payload is parsed,
then the record's PeerId must be the one the envelope's key derives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import attrs

from node_runtime._component_checks import check_int, check_multiaddr, peer_key_of
from node_runtime.component_errors import ComponentTypeError, ComponentValueError
from node_runtime.errors import InvalidMultiaddrError, InvalidPeerIdError
from node_runtime.identity import Identity
from node_runtime.libp2p_keys import (
    KeyType,
    PublicKeyError,
    SigningKey,
    encode_public_key,
    parse_public_key,
    peer_id_of,
    public_key_of,
    sign,
)
from node_runtime.multiaddr import Multiaddr
from node_runtime.peer_id import PeerId
from node_runtime.peer_key import PeerRef
from node_runtime.protobuf_wire import (
    LEN,
    VARINT,
    Field,
    Message,
    WireFormatError,
    encode_bytes_field,
    encode_varint,
    encode_varint_field,
)
from snapshot_schema.checks import U64_MAX
from snapshot_schema.errors import PathElement
from snapshot_schema.reprs import bytes_repr, seq_repr

MAX_SIGNED_RECORD_SIZE: Final = 64 * 1024
"""Envelopes longer than this are refused before they are parsed. An envelope signed by the
largest RSA key (8192 bits) with a hundred addresses is about 6 KiB."""

PEER_RECORD_DOMAIN: Final = "libp2p-peer-record"
"""The signature domain of a peer record (go-libp2p's `PeerRecordEnvelopeDomain`)."""
PEER_RECORD_PAYLOAD_TYPE: Final = b"\x03\x01"
"""The payload type of a peer record: the `libp2p-peer-record` multicodec, 0x0301."""

_DOMAINS: Final = {
    PEER_RECORD_PAYLOAD_TYPE: PEER_RECORD_DOMAIN,
    b"/libp2p/routing-state-record": "libp2p-routing-state",  # rust-libp2p's
}
_ENVELOPE_FIELDS: Final = {
    1: Field("public_key", LEN),
    2: Field("payload_type", LEN),
    3: Field("payload", LEN),
    5: Field("signature", LEN),
}
_RECORD_FIELDS: Final = {
    1: Field("peer_id", LEN),
    2: Field("seq", VARINT),
    3: Field("addresses", LEN, repeated=True),
}
_ADDRESS_FIELDS: Final = {1: Field("multiaddr", LEN)}
_PATH: Final = ("envelope",)


class SignedRecordError(ComponentValueError):
    """A signed peer record refused: malformed (which field, and how), a payload type that is
    not a peer record's, an unsupported or malformed key, a signature that does not verify, or a
    record of another peer than its key's or the one expected. `reason` says which."""

    def __init__(self, reason: str, path: Sequence[PathElement] = _PATH) -> None:
        super().__init__(reason, path)

    def __reduce__(self) -> tuple[type[SignedRecordError], tuple[str, tuple[PathElement, ...]]]:
        return (type(self), (self.reason, self.path))


@attrs.frozen
class SignedPeerRecord:
    """A verified peer record: signed by the key of `peer_id`, which `public_key` is."""

    peer_id: bytes = attrs.field(repr=bytes_repr)
    """The PeerId (multihash bytes) the record is for, derived from `public_key`."""
    seq: int
    """The record's sequence number (u64): a newer record of the same peer has a larger one."""
    addresses: tuple[bytes, ...] = attrs.field(repr=seq_repr)
    """The peer's addresses as binary multiaddrs, each valid, in the record's order."""
    public_key: bytes = attrs.field(repr=bytes_repr)
    """The signer's canonical libp2p `PublicKey` protobuf (`08 <type> 12 <length> <data>`)."""
    envelope: bytes = attrs.field(repr=bytes_repr)
    """The envelope as verified, to keep and pass on with its signature."""


def verify_signed_peer_record(
    envelope: bytes, *, expected_peer: PeerRef | None = None
) -> SignedPeerRecord:
    """The peer record in the signed `envelope`, once verified.

    Checked: the envelope is at most `MAX_SIGNED_RECORD_SIZE` bytes and well-formed; its payload
    type is a peer record's; its key is a supported libp2p key in canonical form; the signature
    verifies under the payload type's domain; the record is well-formed, its PeerId is the one
    the key derives and, when `expected_peer` is given (a `PeerId` or its bytes), that one; each
    address is a valid multiaddr. `SignedRecordError` says what failed; `ComponentTypeError`
    for an argument of the wrong type.
    """
    if type(envelope) is not bytes:
        raise ComponentTypeError(f"expected `bytes`, got `{type(envelope).__name__}`", _PATH)
    expected = None if expected_peer is None else peer_key_of(expected_peer, "expected_peer")
    if len(envelope) > MAX_SIGNED_RECORD_SIZE:
        raise SignedRecordError(
            f"signed record of {len(envelope)} bytes exceeds the "
            f"{MAX_SIGNED_RECORD_SIZE}-byte limit"
        )
    fields = _read(envelope, _ENVELOPE_FIELDS, "envelope")
    key_bytes = fields.bytes_value(1)
    payload_type = fields.bytes_value(2) or b""
    payload = fields.bytes_value(3) or b""
    if key_bytes is None:
        raise SignedRecordError("envelope has no public_key")
    domain = _DOMAINS.get(payload_type)
    if domain is None:
        raise SignedRecordError(
            f"envelope payload type {bytes_repr(payload_type)} is not a peer record's "
            f"({PEER_RECORD_PAYLOAD_TYPE.hex()})"
        )
    try:
        key = parse_public_key(key_bytes)
    except PublicKeyError as error:
        raise SignedRecordError(f"envelope public_key refused: {error}") from None
    if not key.verify(_signed_bytes(domain, payload_type, payload), fields.bytes_value(5) or b""):
        raise SignedRecordError(
            f"bad signature: it does not verify under the {key.key_type.name} key of peer "
            f"{_peer_text(key.peer_id())} for domain {domain!r}"
        )
    record = _read(payload, _RECORD_FIELDS, "peer record")
    peer_id = record.bytes_value(1)
    if peer_id is None:
        raise SignedRecordError("peer record has no peer_id")
    signer = key.peer_id()
    if peer_id != signer:
        raise SignedRecordError(
            f"wrong peer: the record claims peer {_peer_text(peer_id)} but is signed by the key "
            f"of peer {_peer_text(signer)}"
        )
    if expected is not None and peer_id != expected:
        raise SignedRecordError(
            f"wrong peer: the record is peer {_peer_text(peer_id)}'s, "
            f"not the expected peer {_peer_text(expected)}'s"
        )
    addresses = tuple(_address(info, index) for index, info in enumerate(record.repeated_bytes(3)))
    return SignedPeerRecord(peer_id, record.varint(2) or 0, addresses, key.protobuf, envelope)


def sign_peer_record(
    signer: Identity | SigningKey, seq: int, addresses: Iterable[Multiaddr]
) -> bytes:
    """The signed envelope of the peer record `(signer's PeerId, seq, addresses)`: what a node
    hands out as its own record, byte for byte what go-libp2p and py-libp2p would write (fields
    in number order, proto3's zero `seq` left out). Ed25519 and RSA signatures are deterministic,
    so the same inputs give the same bytes; ECDSA and Secp256k1 ones use a fresh nonce.

    `signer`: the node's `Identity` or a private key of a libp2p key type (Ed25519, secp256k1
    or NIST-curve EC, RSA of 2048 to 8192 bits); `seq`: a u64, larger than any earlier record's.
    """
    if not isinstance(signer, Identity | SigningKey):
        raise ComponentTypeError(
            f"expected an `Identity` or a libp2p private key, got `{type(signer).__name__}`",
            ("signer",),
        )
    check_int(seq, 0, U64_MAX, "seq")
    if isinstance(addresses, Multiaddr | bytes | str) or not isinstance(addresses, Iterable):
        raise ComponentTypeError(
            f"expected an iterable of `Multiaddr`, got `{type(addresses).__name__}`",
            ("addresses",),
        )
    binary = [
        check_multiaddr(address, "addresses", index) for index, address in enumerate(addresses)
    ]
    try:
        public_key = signer_public_key(signer)
    except ValueError as error:
        raise ComponentValueError(str(error), ("signer",)) from None
    payload = encode_peer_record(peer_id_of(public_key), seq, binary)
    return seal_envelope(signer, PEER_RECORD_PAYLOAD_TYPE, payload, domain=PEER_RECORD_DOMAIN)


def encode_peer_record(peer_id: bytes, seq: int, addresses: Iterable[bytes]) -> bytes:
    """The `PeerRecord` protobuf of these values, unchecked, as proto3 encoders write it."""
    address_infos = (encode_bytes_field(1, address) for address in addresses)
    return (
        _singular(1, peer_id)
        + (encode_varint_field(2, seq) if seq else b"")
        + b"".join(encode_bytes_field(3, info) for info in address_infos)
    )


def seal_envelope(
    signer: Identity | SigningKey, payload_type: bytes, payload: bytes, *, domain: str
) -> bytes:
    """The `Envelope` of `payload` signed by `signer` under `domain`, unchecked."""
    signed = _signed_bytes(domain, payload_type, payload)
    signature = signer.sign(signed) if isinstance(signer, Identity) else sign(signer, signed)
    return (
        encode_bytes_field(1, signer_public_key(signer))
        + _singular(2, payload_type)
        + _singular(3, payload)
        + _singular(5, signature)
    )


def signer_public_key(signer: Identity | SigningKey) -> bytes:
    """The canonical libp2p `PublicKey` protobuf of `signer`'s public key."""
    if isinstance(signer, Identity):
        return encode_public_key(KeyType.Ed25519, signer.public_key.public_bytes_raw())
    return public_key_of(signer)


def _singular(number: int, value: bytes) -> bytes:
    """A proto3 `bytes` field: left out when empty, as proto3 encoders do."""
    return encode_bytes_field(number, value) if value else b""


def _signed_bytes(domain: str, payload_type: bytes, payload: bytes) -> bytes:
    parts = (domain.encode(), payload_type, payload)
    return b"".join(encode_varint(len(part)) + part for part in parts)


def _read(data: bytes, fields: dict[int, Field], what: str) -> Message:
    try:
        return Message(data, fields)
    except WireFormatError as error:
        raise SignedRecordError(f"malformed {what}: {error}") from None


def _address(info: bytes, index: int) -> bytes:
    multiaddr = _read(info, _ADDRESS_FIELDS, f"peer record address {index}").bytes_value(1)
    if multiaddr is None:
        raise SignedRecordError(f"peer record address {index} has no multiaddr")
    try:
        Multiaddr.from_bytes(multiaddr)
    except InvalidMultiaddrError as error:
        raise SignedRecordError(f"peer record address {index}: {error}") from None
    return multiaddr


def _peer_text(peer_id: bytes) -> str:
    """A PeerId in its text form, or the bytes shown compactly when they are not one."""
    try:
        return str(PeerId(peer_id))
    except InvalidPeerIdError:
        return f"{bytes_repr(peer_id)} (not a PeerId)"
