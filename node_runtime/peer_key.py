"""How the runtime components name a peer."""

from typing import TypeAlias

PeerKey: TypeAlias = bytes
"""The canonical multihash bytes of a PeerId: hashable, compared by value, and the form a
snapshot stores, so components key their tables by it rather than by a `PeerId` object."""
