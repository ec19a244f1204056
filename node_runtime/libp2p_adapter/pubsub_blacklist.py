"""The pubsub blacklist as a node extension: `libp2p/pubsub-blacklist`.

The bytes are a msgpack array of the blacklisted peers' PeerIds, each as its multihash bytes
(msgpack `bin`), sorted ascending, each once: equal blacklists give equal bytes. A node holds
no such extension while the blacklist is empty. A later layout would take a new namespace, so
these bytes never change meaning. Pure: libp2p is not needed to read or write them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgpack

from node_runtime.errors import InvalidPeerIdError
from node_runtime.peer_id import PeerId

BLACKLIST_EXTENSION: Final = "libp2p/pubsub-blacklist"


class MalformedBlacklistError(ValueError):
    """Bytes that are not a pubsub blacklist as `encode_blacklist` writes it."""


def encode_blacklist(peers: Iterable[bytes]) -> bytes:
    """The extension bytes of a blacklist of peers (PeerId multihash bytes; repeats count
    once)."""
    return msgpack.packb(sorted(set(peers)), use_bin_type=True)


def decode_blacklist(data: bytes) -> tuple[bytes, ...]:
    """The PeerIds (multihash bytes, sorted) `data` lists. Raises `MalformedBlacklistError` for
    anything `encode_blacklist` would not write: not one msgpack array of `bin`, out of order or
    repeated, or holding bytes that are no PeerId."""
    try:
        peers = msgpack.unpackb(data, use_list=False, raw=False)
    except (ValueError, msgpack.UnpackException) as error:
        raise MalformedBlacklistError(f"not msgpack: {error}") from None
    if type(peers) is not tuple:
        raise MalformedBlacklistError(f"expected an array, got `{type(peers).__name__}`")
    for index, peer in enumerate(peers):
        if type(peer) is not bytes:
            raise MalformedBlacklistError(
                f"entry {index}: expected bytes, got `{type(peer).__name__}`"
            )
        try:
            PeerId.from_bytes(peer)
        except InvalidPeerIdError as error:
            raise MalformedBlacklistError(f"entry {index}: {error}") from None
        if index and peers[index - 1] >= peer:
            raise MalformedBlacklistError(f"entry {index}: not sorted ascending, or repeated")
    return peers
