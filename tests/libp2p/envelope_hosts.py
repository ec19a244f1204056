"""Real py-libp2p hosts on 127.0.0.1 running `EnvelopeService`s, for the envelope tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID
from multiaddr import Multiaddr

from node_runtime import Identity, Node
from node_runtime.libp2p_adapter.envelope_service import EnvelopeService
from node_runtime.libp2p_adapter.envelope_wire import ENVELOPE_PROTOCOL_ID
from node_runtime.peer_id import PeerId

SEEDS = [bytes([n]) * 32 for n in range(1, 6)]
A, B, C, MALLORY, _ = (Identity.from_private_bytes(seed) for seed in SEEDS)
TIMEOUT_S = 15.0
ADDRESS_TTL_S = 3600


def key_pair(identity: Identity) -> KeyPair:
    """The py-libp2p key pair of one of the identities above (same seed, same PeerId)."""
    (seed,) = (
        seed for seed in SEEDS if Identity.from_private_bytes(seed).peer_id == identity.peer_id
    )
    return create_new_key_pair(seed)


def libp2p_id(peer: PeerId | Identity) -> ID:
    return ID((peer.peer_id if isinstance(peer, Identity) else peer).to_bytes())


def run(main: Callable[[], Awaitable[None]]) -> None:
    """Run `main` under trio, failing it instead of hanging."""

    async def bounded() -> None:
        with trio.fail_after(TIMEOUT_S):
            await main()

    trio.run(bounded)


@attrs.frozen
class Peer:
    host: IHost
    node: Node
    service: EnvelopeService

    @property
    def addr(self) -> Multiaddr:
        """The TCP address it listens on, without a /p2p suffix."""
        (address,) = self.host.get_transport_addrs()
        return address

    @property
    def port(self) -> int:
        return int(self.addr.value_for_protocol("tcp"))

    def count(self, name: str) -> int:
        return self.node.counters.get(name)

    def learn(self, *others: Peer) -> None:
        """Put the others' addresses in this host's peerstore."""
        for other in others:
            self.host.get_peerstore().add_addrs(other.host.get_id(), [other.addr], ADDRESS_TTL_S)


def listen_addr(port: int = 0) -> Multiaddr:
    return Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")


@asynccontextmanager
async def serving(node: Node, *, port: int = 0, **service_options: Any) -> AsyncIterator[Peer]:
    """A host for `node` on 127.0.0.1 with its envelope service running; both stop on exit."""
    host = new_host(key_pair=key_pair(node.identity))
    service = EnvelopeService(host, node, **service_options)
    async with host.run(listen_addrs=[listen_addr(port)]), trio.open_nursery() as nursery:
        await nursery.start(service.run)
        try:
            yield Peer(host, node, service)
        finally:
            nursery.cancel_scope.cancel()
            await close(host)


async def close(host: IHost) -> None:
    """Close the host's listeners and connections: py-libp2p 0.8 leaves both open when
    `host.run` ends (a listener that still accepts, a socket a `ResourceWarning` reports)."""
    with trio.CancelScope(shield=True):
        await host.close()


@asynccontextmanager
async def bare_host(identity: Identity) -> AsyncIterator[IHost]:
    """A host with no envelope service, for hand-made protocol traffic."""
    host = new_host(key_pair=key_pair(identity))
    async with host.run(listen_addrs=[listen_addr()]):
        try:
            yield host
        finally:
            await close(host)


async def raw_stream(host: IHost, to: Peer) -> INetStream:
    """An envelope-protocol stream from `host` to `to`, written by hand."""
    host.get_peerstore().add_addrs(to.host.get_id(), [to.addr], ADDRESS_TTL_S)
    return await host.new_stream(to.host.get_id(), [ENVELOPE_PROTOCOL_ID])


async def receive_all(peer: Peer, count: int) -> list[bytes]:
    return [(await peer.service.inbox.receive()).payload for _ in range(count)]


def inbox_empty(peer: Peer) -> bool:
    return peer.service.inbox.statistics().current_buffer_used == 0
