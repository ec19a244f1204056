"""nodesnap for py-libp2p hosts (install the extra: `pip install 'nodesnap[libp2p]'`).

The only package of nodesnap that imports `libp2p` and `trio`: `import node_runtime` never does.
docs/libp2p.md shows how a host adds crash-safe state in a few lines.
"""

from node_runtime.libp2p_adapter.autosave import TrioAutosave
from node_runtime.libp2p_adapter.capture import (
    CLOCK_TOLERANCE_NS,
    CaptureReport,
    capture_host,
    snapshot_host,
)
from node_runtime.libp2p_adapter.change_tracker import HostAlreadyTrackedError, HostChangeTracker
from node_runtime.libp2p_adapter.envelope_service import EnvelopeService, Message
from node_runtime.libp2p_adapter.envelope_wire import (
    ENVELOPE_PROTOCOL_ID,
    Envelope,
    MalformedMessageError,
    MessageTooLargeError,
    TruncatedMessageError,
)
from node_runtime.libp2p_adapter.errors import (
    HostIdentityMismatchError,
    Libp2pAdapterError,
    PeerGateInstalledError,
    PeerRefusedError,
    ReplayValueError,
    UnsupportedHostError,
)
from node_runtime.libp2p_adapter.peer_gate import PeerGate, install_peer_gate
from node_runtime.libp2p_adapter.peer_ids import libp2p_id_of, peer_id_of
from node_runtime.libp2p_adapter.persistence import (
    HostAlreadyRunningError,
    host_identity,
    persist_host,
)
from node_runtime.libp2p_adapter.pubsub_blacklist import (
    BLACKLIST_EXTENSION,
    MalformedBlacklistError,
    decode_blacklist,
    encode_blacklist,
)
from node_runtime.libp2p_adapter.replay import ReplayReport, replay_into_host
from node_runtime.libp2p_adapter.resource_limits import (
    bounded_resource_manager,
    refuse_streams_past_limit,
)

__all__: list[str] = [
    "BLACKLIST_EXTENSION",
    "CLOCK_TOLERANCE_NS",
    "ENVELOPE_PROTOCOL_ID",
    "CaptureReport",
    "Envelope",
    "EnvelopeService",
    "HostAlreadyRunningError",
    "HostAlreadyTrackedError",
    "HostChangeTracker",
    "HostIdentityMismatchError",
    "Libp2pAdapterError",
    "MalformedBlacklistError",
    "MalformedMessageError",
    "Message",
    "MessageTooLargeError",
    "PeerGate",
    "PeerGateInstalledError",
    "PeerRefusedError",
    "ReplayReport",
    "ReplayValueError",
    "TrioAutosave",
    "TruncatedMessageError",
    "UnsupportedHostError",
    "bounded_resource_manager",
    "capture_host",
    "decode_blacklist",
    "encode_blacklist",
    "host_identity",
    "install_peer_gate",
    "libp2p_id_of",
    "peer_id_of",
    "persist_host",
    "refuse_streams_past_limit",
    "replay_into_host",
    "snapshot_host",
]
