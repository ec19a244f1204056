"""A PeerId gate for a py-libp2p host: the node's block and allow lists, enforced on connections.

py-libp2p 0.8 gates connections by IP only (`ConnectionGate`). `install_peer_gate(host, node)`
adds the PeerId half: a peer `node.decision(peer)` refuses (`BLOCKED`, or `NOT_ALLOWED` under
an allowlist) can neither connect to the host nor be dialled by it.

- **Inbound**: the swarm's security upgrade is wrapped. Once the handshake (Noise) has
  authenticated the remote PeerId, a refused peer's connection is closed, before the muxer:
  it never becomes a connection of the swarm, no notifee hears of it, no stream handler runs.
  Counted in `libp2p:inbound_refused`.
- **Outbound**: the swarm's `dial_peer`, `dial_addr`, `dial_addr_as_responder`,
  `dial_peer_replacement` and `new_stream` refuse a refused peer before any transport is
  touched (no TCP connect is made), raising `PeerRefusedError` (a `SwarmException`), and the
  swarm's dial backoff is left alone (a refusal is no failure of the peer's addresses).
  `host.connect` and `host.new_stream` go through them. Counted in `libp2p:dial_refused`; so
  is an outbound connection the security upgrade refuses (a dial that began before a block).
- **Connections that skip the security upgrade** (a pre-multiplexed transport such as QUIC) are
  refused by the swarm's `add_conn`, before the swarm registers them.
- **Policy changes**: after every block, allowlist or IP filter change (the governor's policy
  listeners), the gate closes every live connection to a peer now refused, counted in
  `libp2p:connections_closed` (one per peer). Installing the gate closes those open already.
  The closing runs as a trio system task of the run the change happens in (or of the run the
  gate was installed in, for a change made from another thread).

A `DOWN` peer is not refused: down is health's verdict, not policy, and a connection from it is
the best probe there is. The host itself is never refused. The gate reads the governor of the
node it was given: install it on the node the host runs with (a restored node is a new one).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Final

import trio
from libp2p.abc import IHost, IMuxedConn, INetConn, INetStream, IRawConnection, ISecureConn
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from multiaddr import Multiaddr

from node_runtime.libp2p_adapter.errors import (
    HostIdentityMismatchError,
    PeerGateInstalledError,
    PeerRefusedError,
)
from node_runtime.libp2p_adapter.host_access import swarm_of
from node_runtime.node import Node
from node_runtime.peer_governor import Decision

LOG = logging.getLogger(__name__)

INBOUND_REFUSED: Final = "libp2p:inbound_refused"
DIAL_REFUSED: Final = "libp2p:dial_refused"
CONNECTIONS_CLOSED: Final = "libp2p:connections_closed"

REFUSED_DECISIONS: Final = frozenset({Decision.BLOCKED, Decision.NOT_ALLOWED})

_SWARM_METHODS: Final = (
    "dial_peer",
    "dial_addr",
    "dial_addr_as_responder",
    "dial_peer_replacement",
    "new_stream",
    "add_conn",
)
_GATES: weakref.WeakKeyDictionary[Swarm, PeerGate] = weakref.WeakKeyDictionary()


class PeerGate:
    """The PeerId gate of one host, installed as it is made (by `install_peer_gate`, which
    checks the host first)."""

    def __init__(self, host: IHost, node: Node, swarm: Swarm) -> None:
        self.host = host
        self.node = node
        self._swarm = swarm
        self._installed = False
        self._close_scheduled = False
        try:
            self._token: trio.lowlevel.TrioToken | None = trio.lowlevel.current_trio_token()
        except RuntimeError:
            self._token = None  # installed outside trio: changes made in a run close in it
        self._install()
        node.governor.add_policy_listener(self._policy_changed)
        if swarm.connections:
            self._policy_changed()  # close those open already

    @property
    def installed(self) -> bool:
        return self._installed

    def decision(self, peer_id: ID) -> Decision:
        """What the node's policy says of `peer_id` (health included)."""
        return self.node.governor.decision(peer_id.to_bytes())

    def refuses(self, peer_id: ID) -> bool:
        """Whether the gate keeps `peer_id` out: blocked, or not on a set allowlist."""
        return self._installed and self.decision(peer_id) in REFUSED_DECISIONS

    async def close_refused(self) -> int:
        """Close every live connection to a peer the policy now refuses; how many peers."""
        refused = [peer for peer in list(self._swarm.connections) if self.refuses(peer)]
        if refused:  # counted first: a connection is gone for its peer before `close_peer` ends
            self.node.counters.increment(CONNECTIONS_CLOSED, len(refused))
        for peer in refused:
            await self._swarm.close_peer(peer)
        return len(refused)

    def uninstall(self) -> None:
        """Give the swarm its own methods back; the gate refuses nothing from then on."""
        if not self._installed:
            return
        self._installed = False
        for name in _SWARM_METHODS:
            self._swarm.__dict__.pop(name, None)
        self._swarm.upgrader.__dict__.pop("upgrade_security", None)
        _GATES.pop(self._swarm, None)

    # Installing.

    def _install(self) -> None:
        swarm = self._swarm
        self._installed = True
        _GATES[swarm] = self
        originals = {name: getattr(swarm, name) for name in _SWARM_METHODS}
        upgrade_security = swarm.upgrader.upgrade_security

        async def dial_peer(peer_id: ID) -> list[INetConn]:
            self._refuse_dial(peer_id)
            connections: list[INetConn] = await originals["dial_peer"](peer_id)
            return connections

        async def dial_addr(
            addr: Multiaddr, peer_id: ID, source: tuple[str, int] | None = None
        ) -> INetConn:
            self._refuse_dial(peer_id)
            connection: INetConn = await originals["dial_addr"](addr, peer_id, source)
            return connection

        async def dial_addr_as_responder(
            addr: Multiaddr, peer_id: ID, source: tuple[str, int] | None = None
        ) -> INetConn:
            self._refuse_dial(peer_id)
            connection: INetConn = await originals["dial_addr_as_responder"](addr, peer_id, source)
            return connection

        async def dial_peer_replacement(peer_id: ID) -> INetConn | None:
            self._refuse_dial(peer_id)
            connection: INetConn | None = await originals["dial_peer_replacement"](peer_id)
            return connection

        async def new_stream(peer_id: ID) -> INetStream:
            self._refuse_dial(peer_id)
            stream: INetStream = await originals["new_stream"](peer_id)
            return stream

        async def add_conn(muxed_conn: IMuxedConn, direction: str = "unknown") -> INetConn:
            peer_id = muxed_conn.peer_id
            if self.refuses(peer_id):
                await self._close_quietly(muxed_conn.close)
                raise self._refusal(peer_id, inbound=direction == "inbound")
            connection: INetConn = await originals["add_conn"](muxed_conn, direction)
            return connection

        async def gated_upgrade_security(
            raw_conn: IRawConnection, is_initiator: bool, peer_id: ID | None = None
        ) -> ISecureConn:
            secure_conn = await upgrade_security(raw_conn, is_initiator, peer_id)
            remote = secure_conn.get_remote_peer()
            if self.refuses(remote):
                await self._close_quietly(secure_conn.close)
                raise self._refusal(remote, inbound=not is_initiator)
            return secure_conn

        wrappers: dict[str, Callable[..., Awaitable[object]]] = {
            "dial_peer": dial_peer,
            "dial_addr": dial_addr,
            "dial_addr_as_responder": dial_addr_as_responder,
            "dial_peer_replacement": dial_peer_replacement,
            "new_stream": new_stream,
            "add_conn": add_conn,
        }
        for name, wrapper in wrappers.items():
            setattr(swarm, name, wrapper)
        setattr(swarm.upgrader, "upgrade_security", gated_upgrade_security)  # noqa: B010

    # Refusing.

    def _refuse_dial(self, peer_id: ID) -> None:
        if self.refuses(peer_id):
            raise self._refusal(peer_id, inbound=False)

    def _refusal(self, peer_id: ID, *, inbound: bool) -> PeerRefusedError:
        self.node.counters.increment(INBOUND_REFUSED if inbound else DIAL_REFUSED)
        LOG.debug("%s %s refused by the PeerId gate", "inbound" if inbound else "dial", peer_id)
        return PeerRefusedError(peer_id, self.decision(peer_id))

    @staticmethod
    async def _close_quietly(close: Callable[[], Awaitable[object]]) -> None:
        """Close a connection being refused: a failure to close it refuses it all the same."""
        try:
            await close()
        except Exception:  # a connection already broken
            LOG.debug("closing a refused connection failed", exc_info=True)

    # Policy changes.

    def _policy_changed(self) -> None:
        """A governor listener: schedule closing the connections the new policy refuses."""
        if not self._installed or self._close_scheduled:
            return
        self._close_scheduled = True
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            if self._token is None:
                self._close_scheduled = False
                return  # no run to close them in: the next connection is judged anyway
            try:
                self._token.run_sync_soon(self._spawn_close)
            except trio.RunFinishedError:
                self._close_scheduled = False
            return
        self._spawn_close()

    def _spawn_close(self) -> None:
        trio.lowlevel.spawn_system_task(self._close_refused_in_background)

    async def _close_refused_in_background(self) -> None:
        self._close_scheduled = False  # a change from now on schedules another pass
        try:
            await self.close_refused()
        except Exception:  # a system task must not crash the run; the next change retries
            LOG.exception("closing connections the policy refuses failed")


def install_peer_gate(host: IHost, node: Node) -> PeerGate:
    """Enforce `node`'s PeerId block and allow lists on `host`'s connections, both ways, and
    close live connections to peers a policy change refuses; the gate (`uninstall()` removes
    it). Install it before the host runs, from inside trio, so that no connection escapes it.

    Raises `HostIdentityMismatchError` when the host is not the node's, `PeerGateInstalledError`
    when the host has a gate already, and `UnsupportedHostError` for a host whose network is
    not py-libp2p's `Swarm`.
    """
    if host.get_id().to_bytes() != node.peer_id.to_bytes():
        raise HostIdentityMismatchError(
            f"the host is {host.get_id()}, but the node belongs to {node.peer_id}"
        )
    swarm = swarm_of(host)
    held = _GATES.get(swarm)
    if held is not None and held.installed:
        raise PeerGateInstalledError(f"host {host.get_id()} has a PeerId gate already")
    return PeerGate(host, node, swarm)
