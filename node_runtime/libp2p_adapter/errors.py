"""The exceptions the py-libp2p adapter raises, each also the builtin a caller would catch."""

from __future__ import annotations

from libp2p.network.exceptions import SwarmException
from libp2p.peer.id import ID
from libp2p.transport.exceptions import SecurityUpgradeFailure

from node_runtime.errors import PeerIdMismatchError
from node_runtime.peer_governor import Decision
from snapshot_schema.errors import SnapshotValueError


class Libp2pAdapterError(Exception):
    """Base class of every error the py-libp2p adapter raises."""


class HostIdentityMismatchError(Libp2pAdapterError, PeerIdMismatchError):
    """A host paired with a node of another identity: its PeerId is not the node's.

    Capturing it would file its peers under another node; replaying into it would hand it
    another node's peers, policy and backoff. A `PeerIdMismatchError`, as `Node.restore`
    raises for a snapshot restored with the wrong identity."""


class UnsupportedHostError(Libp2pAdapterError, TypeError):
    """A host whose parts are not the py-libp2p 0.8 classes the adapter reads and wraps (its
    network a `Swarm`, its peerstore the in-memory `PeerStore`), or whose internals changed
    shape (a py-libp2p upgrade the adapter does not know)."""


class ReplayValueError(Libp2pAdapterError, SnapshotValueError):
    """A node holding state that cannot be replayed into a host: an extension the adapter
    writes is malformed. `path` locates it from the snapshot root
    (`$.framework.extensions[0].value`); nothing was replayed."""


class PeerGateInstalledError(Libp2pAdapterError, RuntimeError):
    """`install_peer_gate` on a host that has a PeerId gate already."""


class PeerRefusedError(Libp2pAdapterError, SwarmException, SecurityUpgradeFailure):
    """A connection, dial or stream refused by the PeerId gate: the node's policy refuses the
    peer (`decision` is `Decision.BLOCKED` or `Decision.NOT_ALLOWED`).

    A `SwarmException`, as py-libp2p's own dial failures are; and a `SecurityUpgradeFailure`,
    which is what the swarm expects when a connection's security upgrade fails (the gate
    refuses a connection right after its handshake)."""

    def __init__(self, peer_id: ID, decision: Decision) -> None:
        self.peer_id = peer_id
        self.decision = decision
        super().__init__(f"peer {peer_id} is refused by the node's policy ({decision})")
