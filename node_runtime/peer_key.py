"""How the runtime components name a peer."""

from typing import TypeAlias

from node_runtime.peer_id import PeerId

PeerKey: TypeAlias = bytes
"""The canonical multihash bytes of a PeerId: hashable, compared by value, and the form a
snapshot stores, so components key their tables by it rather than by a `PeerId` object."""

PeerRef: TypeAlias = PeerKey | PeerId
"""What a component's methods take for a peer: a `PeerId`, or its canonical bytes."""
