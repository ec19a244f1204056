"""PeerId: the multihash naming a libp2p node, with its base58btc and CIDv1 text forms.

Semantics follow the libp2p peer-ids spec (https://github.com/libp2p/specs, peer-ids/peer-ids.md):
the public key is protobuf-encoded (`PublicKey{Type, Data}`), and that encoding is wrapped in an
identity multihash when it is at most 42 bytes long, else hashed with sha2-256. An Ed25519 key
encodes to 36 bytes, so its PeerId inlines the key and the key can be read back from it.

The binary form is the multihash itself and round-trips any multihash code. Text is base58btc
(`12D3KooW…`, `Qm…`); the CIDv1 form (`bafz…`, codec `libp2p-key`) is accepted too.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from multiformats import multibase

from node_runtime.errors import InvalidPeerIdError
from snapshot_schema.multihash import (
    MAX_MULTIHASH_SIZE,
    is_multihash,
    multihash_problem,
    read_varint,
)

_ED25519_KEY_PREFIX: Final = bytes([0x08, 0x01, 0x12, 0x20])  # Type=Ed25519, Data=32 bytes
# The 36-byte encoded key is under the spec's 42-byte cut-off, so it is inlined: identity
# multihash code 0x00, digest length 36. (Only longer encodings, such as RSA keys, are hashed.)
_ED25519_PEER_ID_PREFIX: Final = bytes([0x00, 36]) + _ED25519_KEY_PREFIX
_ED25519_PEER_ID_SIZE: Final = len(_ED25519_PEER_ID_PREFIX) + 32

_CID_VERSION: Final = 1
_LIBP2P_KEY_CODEC: Final = 0x72

_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_DIGITS: Final = {char: index for index, char in enumerate(_B58_ALPHABET)}
# Two digits per division halves the big-integer work of encoding.
_B58_PAIRS: Final = tuple(high + low for high in _B58_ALPHABET for low in _B58_ALPHABET)
# base58 of a MAX_MULTIHASH_SIZE-byte value is at most 1399 characters; longer text is refused
# before the quadratic big-integer conversion runs.
_MAX_TEXT_SIZE: Final = 2 * MAX_MULTIHASH_SIZE


# Own base58btc codec: `multiformats.multibase`'s takes ~650 µs to encode an Ed25519 PeerId and
# ~60 µs to decode one, against ~6 µs and ~9 µs here.
def _b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    pairs = []
    while number:
        number, pair = divmod(number, 58 * 58)
        pairs.append(_B58_PAIRS[pair])
    # The top pair may start with a zero digit ('1'); each leading zero byte is one '1', which the
    # integer conversion dropped.
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(pairs)).lstrip("1")


def _b58decode(text: str) -> bytes | None:
    """The bytes `text` encodes in base58btc, or `None` if a character is not in the alphabet."""
    number = 0
    for char in text:
        digit = _B58_DIGITS.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def _multihash_from_cid(text: str) -> bytes:
    """The multihash inside a multibase-encoded CIDv1 with the `libp2p-key` codec."""
    try:
        cid = multibase.decode(text)
    # multiformats raises ValueError and KeyError subclasses (and IndexError) on bad input.
    except (ValueError, LookupError) as error:
        raise InvalidPeerIdError(f"PeerId {text!r} is not multibase-encoded: {error}") from None
    version = read_varint(cid, 0)
    if version is None or version[0] != _CID_VERSION:
        raise InvalidPeerIdError(f"PeerId {text!r} is not a CIDv1")
    codec = read_varint(cid, version[1])
    if codec is None or codec[0] != _LIBP2P_KEY_CODEC:
        raise InvalidPeerIdError(f"PeerId {text!r} is a CID without the `libp2p-key` codec (0x72)")
    return cid[codec[1] :]


class CanonicalBytes:
    """A value held as its one canonical binary form: immutable, hashable, equal (within its own
    type) when the bytes are equal. `PeerId` and `Multiaddr` share this."""

    __slots__ = ("_bytes",)
    _bytes: bytes

    def __eq__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self._bytes == other._bytes
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[CanonicalBytes], tuple[bytes]]:
        # The default slot-state pickling would go through the refused __setattr__.
        return (type(self), (self._bytes,))


class PeerId(CanonicalBytes):
    """The identity of a libp2p node: a multihash, immutable, hashable, ordered by its bytes."""

    __slots__ = ()

    def __init__(self, multihash: bytes) -> None:
        """A PeerId from its canonical multihash bytes; `InvalidPeerIdError` if malformed."""
        if not is_multihash(multihash):
            raise InvalidPeerIdError(f"invalid PeerId bytes: {multihash_problem(multihash)}")
        object.__setattr__(self, "_bytes", multihash)

    @classmethod
    def from_bytes(cls, multihash: bytes) -> PeerId:
        """The PeerId whose canonical (multihash) bytes are `multihash`."""
        return cls(multihash)

    @classmethod
    def from_public_key(cls, key: Ed25519PublicKey) -> PeerId:
        """The PeerId of an Ed25519 public key (an identity multihash of its protobuf encoding)."""
        return cls(_ED25519_PEER_ID_PREFIX + key.public_bytes_raw())

    @classmethod
    def from_string(cls, text: str) -> PeerId:
        """Parse the base58btc form (`12D3KooW…`, `Qm…`) or a multibase CIDv1 (`bafz…`).

        As the spec says, text starting with `1` or `Qm` is base58btc and anything else a CID.
        Other text that is not a valid CID is still read as base58btc, so that `str()` of every
        PeerId (whatever its multihash code) parses back.
        """
        if type(text) is not str:
            raise InvalidPeerIdError(f"expected PeerId text `str`, got `{type(text).__name__}`")
        if not text:
            raise InvalidPeerIdError("empty PeerId text")
        if len(text) > _MAX_TEXT_SIZE:
            raise InvalidPeerIdError(f"PeerId text of {len(text)} characters is too long")
        if text.startswith(("1", "Qm")):
            return cls._from_base58(text)
        try:
            return cls(_multihash_from_cid(text))
        except InvalidPeerIdError as cid_error:
            decoded = _b58decode(text)
            if decoded is not None and is_multihash(decoded):
                return cls(decoded)
            raise cid_error from None

    @classmethod
    def _from_base58(cls, text: str) -> PeerId:
        decoded = _b58decode(text)
        if decoded is None:
            raise InvalidPeerIdError(f"PeerId {text!r} is not valid base58btc")
        if not is_multihash(decoded):
            problem = multihash_problem(decoded)
            raise InvalidPeerIdError(f"PeerId {text!r} is not a valid multihash: {problem}")
        return cls(decoded)

    def to_bytes(self) -> bytes:
        """The canonical binary form: the multihash."""
        return self._bytes

    def to_cid_string(self) -> str:
        """The CIDv1 text form in base32 (`bafz…`)."""
        cid = bytes([_CID_VERSION, _LIBP2P_KEY_CODEC]) + self._bytes
        text: str = multibase.encode(cid, "base32")
        return text

    def public_key(self) -> Ed25519PublicKey | None:
        """The Ed25519 key this PeerId inlines, or `None` when it is a hash or another key type."""
        data = self._bytes
        if len(data) != _ED25519_PEER_ID_SIZE or not data.startswith(_ED25519_PEER_ID_PREFIX):
            return None
        return Ed25519PublicKey.from_public_bytes(data[len(_ED25519_PEER_ID_PREFIX) :])

    def __str__(self) -> str:
        return _b58encode(self._bytes)

    def __repr__(self) -> str:
        return f"PeerId({str(self)!r})"

    def __lt__(self, other: PeerId) -> bool:
        if isinstance(other, PeerId):
            return self._bytes < other._bytes
        return NotImplemented

    def __le__(self, other: PeerId) -> bool:
        if isinstance(other, PeerId):
            return self._bytes <= other._bytes
        return NotImplemented

    def __gt__(self, other: PeerId) -> bool:
        if isinstance(other, PeerId):
            return self._bytes > other._bytes
        return NotImplemented

    def __ge__(self, other: PeerId) -> bool:
        if isinstance(other, PeerId):
            return self._bytes >= other._bytes
        return NotImplemented
