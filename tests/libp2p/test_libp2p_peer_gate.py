"""`install_peer_gate`: the node's PeerId block and allow lists enforced on a py-libp2p host's
connections, both ways, on real hosts over 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.custom_types import TProtocol
from libp2p.network.exceptions import SwarmException
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p_hosts import MakeHost, RunningHost, RunTrio
from libp2p_peers import HOST, HOST_SEED, peer_id, seed
from multiaddr import Multiaddr

from node_runtime import Identity, Node, PeerId
from node_runtime.libp2p_adapter import (
    HostIdentityMismatchError,
    PeerGateInstalledError,
    PeerRefusedError,
    install_peer_gate,
)
from node_runtime.libp2p_adapter.host_access import negative_cache, swarm_of
from node_runtime.libp2p_adapter.peer_gate import (
    CONNECTIONS_CLOSED,
    DIAL_REFUSED,
    INBOUND_REFUSED,
)

PROTOCOL = TProtocol("/nodesnap/gate-test/1.0.0")
B, C = 1, 2  # the other peers' seeds


def ours(n: int) -> PeerId:
    return Identity.from_private_bytes(seed(n)).peer_id


class Witness(INotifee):
    """What the gated host saw: connections and streams, by peer."""

    def __init__(self) -> None:
        self.connections_seen: list[bytes] = []
        self.streams_seen: list[bytes] = []

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self.connections_seen.append(conn.muxed_conn.peer_id.to_bytes())

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        return None

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        self.streams_seen.append(stream.muxed_conn.peer_id.to_bytes())

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
        return None


async def connect(dialer: IHost, to: IHost) -> None:
    await dialer.connect(info_from_p2p_addr(to.get_addrs()[0]))


def connected(host: IHost, n: int) -> bool:
    return bool(swarm_of(host).connections.get(peer_id(n)))


async def eventually(condition: object) -> None:
    """Wait (within the test's deadline) until `condition()` holds: closing a connection runs
    in the background after a policy change."""
    assert callable(condition)
    while not condition():
        await trio.sleep(0.01)


@asynccontextmanager
async def counting_tcp_server() -> AsyncIterator[tuple[Multiaddr, list[int]]]:
    """A TCP listener on 127.0.0.1 that only counts the connections it accepts."""
    accepted: list[int] = []
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]

    async def accept_all() -> None:
        while True:
            stream = await listener.accept()
            accepted.append(port)
            await stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_all)
        yield Multiaddr(f"/ip4/127.0.0.1/tcp/{port}"), accepted
        nursery.cancel_scope.cancel()
    await listener.aclose()


def test_a_blocked_peer_cannot_connect_and_the_gated_host_never_sees_it(
    run_trio: RunTrio, running_host: RunningHost
) -> None:
    node = Node(HOST)
    witness = Witness()
    handled: list[bytes] = []

    async def main() -> None:
        async with running_host(HOST_SEED) as gated, running_host(seed(B)) as blocked:
            install_peer_gate(gated, node)
            gated.get_network().register_notifee(witness)

            async def handler(stream: INetStream) -> None:
                handled.append(await stream.read())

            gated.set_stream_handler(PROTOCOL, handler)
            node.block(ours(B))

            with pytest.raises(SwarmException):
                await connect(blocked, gated)
            # Its host now backs off from the gated host (py-libp2p's dial backoff): lifted,
            # it tries again, for a stream this time.
            swarm_of(blocked).unblock_peer(gated.get_id())
            with pytest.raises(SwarmException):
                await blocked.new_stream(gated.get_id(), [PROTOCOL])
            await trio.sleep(0.1)  # anything still in flight lands
            assert not connected(gated, B)
            assert (witness.connections_seen, witness.streams_seen, handled) == ([], [], [])
            # Each dial's every attempt (py-libp2p retries a failed address) was refused.
            assert node.counters.get(INBOUND_REFUSED) >= 2

            # The witness does see a peer the gate lets in.
            node.unblock(ours(B))
            swarm_of(blocked).unblock_peer(gated.get_id())
            stream = await blocked.new_stream(gated.get_id(), [PROTOCOL])
            await stream.write(b"hi")
            await stream.close()
            await eventually(lambda: handled)
            assert witness.connections_seen == [peer_id(B).to_bytes()]

    run_trio(main)


def test_the_gated_host_never_opens_tcp_to_a_refused_peer(
    run_trio: RunTrio, running_host: RunningHost
) -> None:
    node = Node(HOST)

    async def main() -> None:
        async with running_host(HOST_SEED) as gated, counting_tcp_server() as (addr, accepted):
            gate = install_peer_gate(gated, node)
            swarm = swarm_of(gated)
            gated.get_peerstore().add_addrs(peer_id(B), [addr], 3600)
            node.block(ours(B))
            attempts = [
                gated.connect(PeerInfo(peer_id(B), [addr])),
                gated.new_stream(peer_id(B), [PROTOCOL]),
                swarm.dial_peer(peer_id(B)),
                swarm.dial_addr(addr, peer_id(B)),
                swarm.dial_addr_as_responder(addr, peer_id(B)),
                swarm.dial_peer_replacement(peer_id(B)),
            ]
            for attempt in attempts:
                with pytest.raises(PeerRefusedError) as refused:
                    await attempt
                assert refused.value.decision == "blocked"
            await trio.sleep(0.1)
            assert accepted == []
            assert node.counters.get(DIAL_REFUSED) == len(attempts)
            assert str(peer_id(B)) not in negative_cache(swarm).entries  # a refusal, no failure

            # The counting server does count: once the peer is let through, the dial reaches it.
            node.unblock(ours(B))
            assert not gate.refuses(peer_id(B))
            with pytest.raises(SwarmException):
                await swarm.dial_addr(addr, peer_id(B))
            await eventually(lambda: accepted)

    run_trio(main)


def test_an_allowlist_admits_only_its_peers_both_ways(
    run_trio: RunTrio, running_host: RunningHost
) -> None:
    node = Node(HOST)

    async def main() -> None:
        async with (
            running_host(HOST_SEED) as gated,
            running_host(seed(B)) as outsider,
            running_host(seed(C)) as member,
        ):
            install_peer_gate(gated, node)
            node.set_allowlist([ours(C)])

            await connect(member, gated)
            with pytest.raises(SwarmException):
                await connect(outsider, gated)
            with pytest.raises(PeerRefusedError) as refused:
                await connect(gated, outsider)
            assert refused.value.decision == "not_allowed"
            assert connected(gated, C)
            assert not connected(gated, B)

    run_trio(main)


def test_unblocking_lets_the_peer_connect_again(
    run_trio: RunTrio, running_host: RunningHost
) -> None:
    node = Node(HOST)

    async def main() -> None:
        async with running_host(HOST_SEED) as gated, running_host(seed(B)) as peer:
            install_peer_gate(gated, node)
            node.block(ours(B))
            with pytest.raises(SwarmException):
                await connect(peer, gated)
            node.unblock(ours(B))
            swarm_of(peer).unblock_peer(gated.get_id())  # the peer's own dial backoff
            await connect(peer, gated)
            await eventually(lambda: connected(gated, B))

    run_trio(main)


def test_blocking_a_connected_peer_closes_its_connection(
    run_trio: RunTrio, running_host: RunningHost
) -> None:
    node = Node(HOST)

    async def main() -> None:
        async with running_host(HOST_SEED) as gated, running_host(seed(B)) as peer:
            install_peer_gate(gated, node)
            await connect(peer, gated)
            await eventually(lambda: connected(gated, B))

            node.block(ours(B))

            await eventually(lambda: not connected(gated, B))
            assert node.counters.get(CONNECTIONS_CLOSED) == 1
            with pytest.raises(PeerRefusedError):
                await gated.new_stream(peer_id(B), [PROTOCOL])

    run_trio(main)


def test_a_block_made_from_another_thread_closes_the_connection_too(
    run_trio: RunTrio, running_host: RunningHost
) -> None:
    node = Node(HOST)

    async def main() -> None:
        async with running_host(HOST_SEED) as gated, running_host(seed(B)) as peer:
            install_peer_gate(gated, node)
            await connect(peer, gated)
            await eventually(lambda: connected(gated, B))

            await trio.to_thread.run_sync(node.block, ours(B))

            await eventually(lambda: not connected(gated, B))

    run_trio(main)


def test_installing_closes_connections_to_peers_refused_already(
    run_trio: RunTrio, running_host: RunningHost
) -> None:
    node = Node(HOST)

    async def main() -> None:
        async with running_host(HOST_SEED) as gated, running_host(seed(B)) as peer:
            await connect(peer, gated)
            await eventually(lambda: connected(gated, B))
            node.block(ours(B))  # no gate yet: the connection stays

            install_peer_gate(gated, node)

            await eventually(lambda: not connected(gated, B))

    run_trio(main)


def test_a_down_peer_is_not_refused(run_trio: RunTrio, running_host: RunningHost) -> None:
    node = Node(HOST)
    for _ in range(3):
        node.record_dial_failure(ours(B))
    assert node.decision(ours(B)) == "down"

    async def main() -> None:
        async with running_host(HOST_SEED) as gated, running_host(seed(B)) as peer:
            install_peer_gate(gated, node)
            await connect(peer, gated)
            await eventually(lambda: connected(gated, B))

    run_trio(main)


def test_uninstalling_gives_the_swarm_its_own_methods_back(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    node = Node(HOST)
    swarm = swarm_of(host)
    own = (type(swarm).dial_peer, type(swarm.upgrader).upgrade_security)

    async def main() -> None:
        gate = install_peer_gate(host, node)
        assert "dial_peer" in vars(swarm)
        gate.uninstall()
        node.block(ours(B))  # the inert listener does nothing
        assert not gate.refuses(peer_id(B))
        install_peer_gate(host, node).uninstall()  # and a new gate may be installed

    trio.run(main)
    assert "dial_peer" not in vars(swarm)
    assert "upgrade_security" not in vars(swarm.upgrader)
    assert (type(swarm).dial_peer, type(swarm.upgrader).upgrade_security) == own


def test_install_refuses_a_second_gate_and_another_identity(make_host: MakeHost) -> None:
    host = make_host(HOST_SEED)
    install_peer_gate(host, Node(HOST))
    with pytest.raises(PeerGateInstalledError):
        install_peer_gate(host, Node(HOST))
    with pytest.raises(HostIdentityMismatchError):
        install_peer_gate(make_host(seed(9)), Node(HOST))
