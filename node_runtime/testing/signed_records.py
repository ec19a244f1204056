"""Signed peer records that claim whatever a test needs, to check what verification refuses."""

from __future__ import annotations

from collections.abc import Iterable

from node_runtime.identity import Identity
from node_runtime.libp2p_keys import SigningKey, peer_id_of
from node_runtime.signed_record import (
    PEER_RECORD_DOMAIN,
    PEER_RECORD_PAYLOAD_TYPE,
    encode_peer_record,
    seal_envelope,
    signer_public_key,
)


def seal_peer_record(
    signer: Identity | SigningKey,
    seq: int,
    addresses: Iterable[bytes] = (),
    *,
    peer_id: bytes | None = None,
    domain: str = PEER_RECORD_DOMAIN,
    payload_type: bytes = PEER_RECORD_PAYLOAD_TYPE,
) -> bytes:
    """A signed envelope of the peer record `(peer_id, seq, addresses)`, nothing checked.

    `peer_id` defaults to the signer's own PeerId; `addresses` are binary multiaddrs, valid or
    not; `domain` and `payload_type` default to a peer record's. With the defaults and valid
    addresses this is `sign_peer_record`'s envelope; change one to get a record that
    `verify_signed_peer_record` must refuse (another peer's, another domain's, …).
    """
    claimed = peer_id_of(signer_public_key(signer)) if peer_id is None else peer_id
    payload = encode_peer_record(claimed, seq, addresses)
    return seal_envelope(signer, payload_type, payload, domain=domain)
