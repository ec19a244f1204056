"""One peer, two types: py-libp2p's `ID` and nodesnap's `PeerId` hold the same multihash bytes.

The host's API takes `ID`s and the node's `PeerId`s, so a host that blocks a peer it met
through py-libp2p writes `node.block(peer_id_of(remote))`.

    >>> from libp2p.crypto.ed25519 import create_new_key_pair
    >>> remote = ID.from_pubkey(create_new_key_pair(bytes(32)).public_key)
    >>> libp2p_id_of(peer_id_of(remote)) == remote
    True
    >>> str(peer_id_of(remote)) == str(remote)
    True
"""

from __future__ import annotations

from libp2p.peer.id import ID

from node_runtime.peer_id import PeerId


def peer_id_of(peer: ID) -> PeerId:
    """nodesnap's `PeerId` for py-libp2p's `ID` (`InvalidPeerIdError` if it is none)."""
    return PeerId.from_bytes(peer.to_bytes())


def libp2p_id_of(peer: PeerId) -> ID:
    """py-libp2p's `ID` for nodesnap's `PeerId`."""
    return ID(peer.to_bytes())
