"""The node's Ed25519 identity: its keypair, PeerId, signatures, and its key file.

The key file is an unencrypted PKCS8 PEM private key, readable by the owner only (mode 0600).
Like ssh with its private keys, `load` refuses a key file that group or others may access.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from node_runtime.durable_io import write_atomically
from node_runtime.errors import IdentityKeyError
from node_runtime.peer_id import PeerId

_KEY_FILE_MODE = 0o600
_GROUP_OR_OTHER = stat.S_IRWXG | stat.S_IRWXO


class Identity:
    """An Ed25519 keypair and the PeerId derived from it."""

    __slots__ = ("_peer_id", "_private_key", "_public_key")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._public_key = private_key.public_key()
        self._peer_id = PeerId.from_public_key(self._public_key)

    @classmethod
    def generate(cls) -> Identity:
        """A fresh random identity."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> Identity:
        """The identity whose Ed25519 private key (seed) is the 32 bytes `raw`."""
        try:
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as error:
            raise IdentityKeyError(f"not a 32-byte Ed25519 private key: {error}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Identity:
        """Read a key file written by `save`.

        `IdentityKeyError` names the file and says why it is refused (group or others may read,
        write or run it, as ssh refuses a private key; malformed PEM, encrypted, not Ed25519);
        errors reading the file (`FileNotFoundError`, …) propagate as `OSError`.
        """
        with Path(path).open("rb") as file:
            # The mode of the file read, not of whatever the path names a moment earlier.
            mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
            if mode & _GROUP_OR_OTHER:
                raise IdentityKeyError(
                    f"{os.fspath(path)}: permissions {mode:04o} are too open: a private key must "
                    "be accessible by its owner only; run `chmod 600` on it"
                )
            data = file.read()
        try:
            key = serialization.load_pem_private_key(data, password=None)
        # cryptography raises ValueError for malformed data, TypeError for an encrypted key.
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise IdentityKeyError(f"{os.fspath(path)}: not a usable key file: {error}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityKeyError(
                f"{os.fspath(path)}: expected an Ed25519 private key, found {type(key).__name__}"
            )
        return cls(key)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the private key to `path` atomically, readable by the owner only.

        The key goes to a new temporary file in the same directory, created with mode 0600 (never
        briefly wider), is flushed to disk, and then renamed over `path`; the directory is synced
        so the rename survives a crash. A reader sees the old file or the new one, never a part.
        """
        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomically(Path(path), pem, mode=_KEY_FILE_MODE)

    @property
    def peer_id(self) -> PeerId:
        """The PeerId of this identity's public key."""
        return self._peer_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The Ed25519 public key."""
        return self._public_key

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `data`."""
        return self._private_key.sign(data)

    def __repr__(self) -> str:
        # Never the private key: identities end up in logs.
        return f"Identity(peer_id={self._peer_id!r})"


def verify(peer_id: PeerId, data: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid signature of `data` by the key `peer_id` inlines.

    False as well when `peer_id` does not inline an Ed25519 key (a hashed PeerId cannot verify
    anything without the key itself).
    """
    key = peer_id.public_key()
    if key is None:
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
