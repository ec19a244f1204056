"""Bounds on what peers can make a py-libp2p host hold: its resource manager (`libp2p.rcmgr`).

py-libp2p counts streams and memory in a `ResourceManager`, but as `new_host` wires it an
inbound stream past the stream limit is not refused: it waits behind a semaphore, its task and
its yamux buffers held, so a peer opening streams could still pin memory without bound.
`refuse_streams_past_limit` makes the host refuse (reset) such streams instead, and
`bounded_resource_manager` builds a manager whose limits stay what they were set to (py-libp2p's
"graceful degradation" would otherwise shrink them each time a peer exhausts one).
"""

from __future__ import annotations

from typing import Final

from libp2p.abc import IHost
from libp2p.network.swarm import Swarm
from libp2p.rcmgr import ResourceLimits, ResourceManager, new_resource_manager

from node_runtime.libp2p_adapter.host_access import swarm_of

DEFAULT_MAX_STREAMS: Final = 256
DEFAULT_MAX_MEMORY_BYTES: Final = 64 << 20
DEFAULT_MAX_CONNECTIONS: Final = 256


def bounded_resource_manager(
    *,
    max_streams: int = DEFAULT_MAX_STREAMS,
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> ResourceManager:
    """A resource manager with these fixed limits: streams (both directions, all peers),
    bytes reserved with `acquire_memory`, connections."""
    for name, value in (
        ("max_streams", max_streams),
        ("max_memory_bytes", max_memory_bytes),
        ("max_connections", max_connections),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    limits = ResourceLimits(max_connections=max_connections, max_streams=max_streams)
    limits.max_memory_bytes = max_memory_bytes  # the constructor takes whole MiB only
    return new_resource_manager(limits=limits, enable_graceful_degradation=False)


def refuse_streams_past_limit(host: IHost, resource_manager: ResourceManager) -> Swarm:
    """Make `host` account streams in `resource_manager` and reset each inbound stream past its
    limit (an outbound one past it raises) instead of queueing it; the host's swarm. Call
    before `host.run`. `UnsupportedHostError` if its network is not py-libp2p's `Swarm`."""
    swarm = swarm_of(host)
    swarm.set_resource_manager(resource_manager, enable_stream_semaphore=False)
    return swarm
