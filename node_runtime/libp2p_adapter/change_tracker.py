"""`HostChangeTracker`: notices changes to a py-libp2p host's state, which does not notify.

It replaces the mutating methods of the host's objects, on those instances only, with wrappers
that call the original and then move `revision`: the peerstore's (addresses, keys, protocols,
metadata, latency, signed records, peer removal), the dial backoff cache's, the connection
gate's IP lists' and, given one, the pubsub blacklist's. A read costs nothing; a tracked call
costs one Python call more (benchmarks/libp2p_tracking.py). Gate-list and blacklist changes are
policy: they also set `urgent` and call the urgent listeners, so a saver need not wait.

It cannot see what bypasses those methods: direct writes to `peerstore.peer_data_map` or its
`PeerData` objects, to `gate.allow_list` / `deny_list`, to `pubsub.blacklisted_peers`; calls
through the class (`PeerStore.add_addrs(store, ...)`); a component replaced after tracking began
(a new `swarm.connection_gate`). Code that does so calls `touch()` (`touch(urgent=True)` for a
policy change). Nor does it count what time alone does (addresses expiring, reads dropping
expired ones, backoff entries running out): a snapshot keeps the deadlines, so nothing is lost.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from libp2p.abc import IHost

from node_runtime.libp2p_adapter.errors import Libp2pAdapterError, UnsupportedHostError
from node_runtime.libp2p_adapter.host_access import (
    connection_gate,
    negative_peer_cache,
    peerstore_of,
    swarm_of,
)

if TYPE_CHECKING:
    from libp2p.pubsub.pubsub import Pubsub

PEERSTORE_MUTATORS: Final = (
    "add_addr",
    "add_addrs",
    "clear_addrs",
    "add_pubkey",
    "add_privkey",
    "add_key_pair",
    "clear_keydata",
    "add_protocols",
    "set_protocols",
    "remove_protocols",
    "clear_protocol_data",
    "put",
    "clear_metadata",
    "record_latency",
    "clear_metrics",
    "consume_peer_record",
    "consume_peer_records",
    "clear_peerdata",
    # py-libp2p's own periodic cleanup (`start_cleanup_task`) drops expired peers whole.
    "_cleanup_expired_records",
)
"""The peerstore methods that change what a snapshot captures."""
NEGATIVE_CACHE_MUTATORS: Final = ("mark_failed", "evict", "clear")
GATE_MUTATORS: Final = (
    "add_to_allow_list",
    "remove_from_allow_list",
    "add_to_deny_list",
    "remove_from_deny_list",
)
BLACKLIST_MUTATORS: Final = ("add_to_blacklist", "remove_from_blacklist", "clear_blacklist")

_TRACKER_ATTRIBUTE: Final = "__nodesnap_tracker__"


class HostAlreadyTrackedError(Libp2pAdapterError, RuntimeError):
    """A second tracker for a host another tracker still follows (close that one first)."""


class HostChangeTracker:
    """Moves `revision` on every change made through a py-libp2p host's mutating methods.

    One tracker per host at a time; `close()` puts the original methods back.
    """

    def __init__(self, host: IHost, *, pubsub: Pubsub | None = None) -> None:
        swarm = swarm_of(host)
        targets: list[tuple[object, tuple[str, ...], bool]] = [
            (peerstore_of(host), PEERSTORE_MUTATORS, False),
            (negative_peer_cache(swarm), NEGATIVE_CACHE_MUTATORS, False),
            (connection_gate(swarm), GATE_MUTATORS, True),
        ]
        if pubsub is not None:
            targets.append((pubsub, BLACKLIST_MUTATORS, True))
        for target, names, _urgent in targets:
            _check_trackable(target, names)
        self.revision = 0
        """Moves on every tracked change (and `touch`): equal readings, nothing changed."""
        self.urgent = False
        """Set by a gate-list or blacklist change (or `touch(urgent=True)`); `take_urgent`
        clears it."""
        self._urgent_listeners: list[Callable[[], object]] = []
        # Each wrapped method, with what the instance held under its name before (None: the
        # class's method showed through).
        self._installed: list[tuple[object, str, object]] = []
        for target, names, urgent in targets:
            for name in names:
                self._installed.append((target, name, vars(target).get(name)))
                setattr(target, name, self._wrap(getattr(target, name), urgent))

    def _wrap(self, method: Callable[..., object], urgent: bool) -> Callable[..., object]:
        # Counted even when the method raises: py-libp2p may have changed something first
        # (`add_pubkey` creates the peer's entry before it checks the key).
        if urgent:

            @functools.wraps(method)
            def tracked_policy(*args: object, **kwargs: object) -> object:
                try:
                    return method(*args, **kwargs)
                finally:
                    self.touch(urgent=True)

            tracked = tracked_policy
        else:

            @functools.wraps(method)
            def tracked_state(*args: object, **kwargs: object) -> object:
                try:
                    return method(*args, **kwargs)
                finally:
                    self.revision += 1

            tracked = tracked_state
        setattr(tracked, _TRACKER_ATTRIBUTE, self)
        return tracked

    def touch(self, *, urgent: bool = False) -> None:
        """Count a change the tracker cannot see; `urgent` for a policy change (IP lists,
        blacklist), which calls the urgent listeners."""
        self.revision += 1
        if urgent:
            self.urgent = True
            for listener in self._urgent_listeners:
                listener()

    def take_urgent(self) -> bool:
        """Whether an urgent change happened since the last call."""
        urgent, self.urgent = self.urgent, False
        return urgent

    def add_urgent_listener(self, listener: Callable[[], object]) -> None:
        """Call `listener` after every urgent change, on the thread that made it."""
        self._urgent_listeners.append(listener)

    def close(self) -> None:
        """Put the original methods back; later changes are not counted."""
        for target, name, before in self._installed:
            if getattr(getattr(target, name), _TRACKER_ATTRIBUTE, None) is not self:
                continue  # wrapped again since: taking ours out would drop the other wrapper
            if before is None:
                delattr(target, name)
            else:
                setattr(target, name, before)
        self._installed.clear()


def _check_trackable(target: object, names: tuple[str, ...]) -> None:
    missing = [name for name in names if not callable(getattr(target, name, None))]
    if missing:
        raise UnsupportedHostError(
            f"{type(target).__name__} lacks {', '.join(missing)}: py-libp2p changed"
        )
    tracked = [name for name in names if hasattr(getattr(target, name), _TRACKER_ATTRIBUTE)]
    if tracked:
        raise HostAlreadyTrackedError(
            f"{type(target).__name__} is already tracked: close the other tracker first"
        )
