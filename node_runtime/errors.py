"""The exceptions `node_runtime` raises: each a `SnapshotError` and the builtin users catch."""

from __future__ import annotations

from snapshot_schema.errors import SnapshotError


class InvalidPeerIdError(SnapshotError, ValueError):
    """Bytes or text that are not a valid PeerId.

    A PeerId is a well-formed multihash; its text is base58btc or a `libp2p-key` CIDv1.
    """


class InvalidMultiaddrError(SnapshotError, ValueError):
    """Bytes or text that are not a valid multiaddr.

    An unknown protocol, a malformed or truncated value, a varint not in shortest form, …
    """


class IdentityKeyError(SnapshotError, ValueError):
    """A key file or raw key unusable as the node identity (malformed, encrypted, not Ed25519)."""


class PeerIdMismatchError(SnapshotError, ValueError):
    """A snapshot restored with a keypair whose PeerId is not the one the snapshot belongs to."""
