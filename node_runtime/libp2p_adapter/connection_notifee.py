"""`ConnectionNotifee`: a py-libp2p network notifee that hears only of new connections.

py-libp2p's `INotifee` has six abstract events; code that needs one of them subclasses this
and overrides `connected`, instead of writing five empty methods again.
"""

from __future__ import annotations

from libp2p.abc import INetConn, INetStream, INetwork, INotifee


class ConnectionNotifee(INotifee):
    """Ignores every network event; override `connected` (or any other) to hear of it."""

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        """A connection was added to the swarm (either way)."""

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        """Ignored."""

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        """Ignored."""

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        """Ignored."""

    async def listen(self, network: INetwork, multiaddr: object) -> None:
        """Ignored."""

    async def listen_close(self, network: INetwork, multiaddr: object) -> None:
        """Ignored."""
