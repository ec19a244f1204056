"""`persist_host`: crash-safe state for a py-libp2p host in a few lines.

    with DirectoryStore("state") as store:
        async with persist_host(host, store) as node:
            async with host.run(listen_addrs=[...]):
                ...

On entry: the newest snapshot in the store is restored (a `Node` with the host's identity) and
replayed into the host, or, with none, a new node is made for the host's identity; the node's
PeerId block and allow lists are enforced on the host's connections; the state is saved and
durable before the block runs; autosave runs in the background. On exit, cancelled or not: a
final save.

Enter it before `host.run(...)`: a host that listens or dials before its restored state and the
PeerId gate are in place could let a blocked peer in, or dial a peer in backoff. Entering it
for a host that has run is refused (`HostAlreadyRunningError`), as is a second `persist_host`
for a host one already persists (`HostAlreadyTrackedError`).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.tools.anyio_service.exceptions import LifecycleError

from node_runtime.backoff import BackoffPolicy
from node_runtime.checkpointer import DEFAULT_COOLDOWN_S, DEFAULT_INTERVAL_S, DEFAULT_TIMEOUT_S
from node_runtime.clock import Clock
from node_runtime.identity import Identity
from node_runtime.libp2p_adapter.autosave import TrioAutosave
from node_runtime.libp2p_adapter.change_tracker import HostChangeTracker
from node_runtime.libp2p_adapter.errors import (
    HostIdentityMismatchError,
    Libp2pAdapterError,
    UnsupportedHostError,
)
from node_runtime.libp2p_adapter.host_access import swarm_of
from node_runtime.libp2p_adapter.peer_gate import install_peer_gate
from node_runtime.libp2p_adapter.replay import replay_into_host
from node_runtime.node import DEFAULT_FAILURE_THRESHOLD, Node
from node_runtime.peer_id import PeerId
from node_runtime.rebase import DEFAULT_RESTART_STAGGER_NS
from node_runtime.snapshot_store import SnapshotStore, StoredSnapshot

if TYPE_CHECKING:
    from libp2p.abc import IHost
    from libp2p.pubsub.pubsub import Pubsub


class HostAlreadyRunningError(Libp2pAdapterError, RuntimeError):
    """`persist_host` entered for a host that runs or has run: enter it before `host.run`."""


def host_identity(host: IHost) -> Identity:
    """The nodesnap identity of `host`: its Ed25519 key (a nodesnap `Node`'s identity is
    Ed25519; another key type is an `UnsupportedHostError`)."""
    key = host.get_private_key()
    if not isinstance(key, Ed25519PrivateKey):
        raise UnsupportedHostError(
            f"the host's key is {key.get_type().name}: a nodesnap node's identity is Ed25519"
        )
    identity = Identity.from_private_bytes(key.to_bytes())
    if identity.peer_id.to_bytes() != host.get_id().to_bytes():
        raise HostIdentityMismatchError(
            f"the host's PeerId {host.get_id()} is not its key's, {identity.peer_id}"
        )
    return identity


@asynccontextmanager
async def persist_host(
    host: IHost,
    store: SnapshotStore,
    *,
    pubsub: Pubsub | None = None,
    interval: float = DEFAULT_INTERVAL_S,
    cooldown: float = DEFAULT_COOLDOWN_S,
    clock: Clock | None = None,
    close_timeout: float | None = DEFAULT_TIMEOUT_S,
    backoff_policy: BackoffPolicy | None = None,
    rng: random.Random | None = None,
    failure_threshold: int | None = None,
    max_outbound: int | None = None,
    restart_stagger_ns: int = DEFAULT_RESTART_STAGGER_NS,
) -> AsyncIterator[Node]:
    """Restore (or start) the node of `host` from `store`, enforce its PeerId policy on the
    host's connections, and autosave both while the block runs; the node.

    The host's state is saved every `interval` seconds if it changed, block, allow and IP-gate
    changes within `cooldown` (docs/storage.md has the rules); `pubsub`, given, has its
    blacklist saved and restored too. `clock` is the node's (the system's by default).
    `close_timeout` bounds the wait for the first and the final save (`TimeoutError`).

    The node's own options, which no snapshot holds (pass the same ones at every start), go to
    `Node(...)` or `Node.restore(...)`: `backoff_policy` (`BackoffPolicy()` by default), `rng`
    (the backoff jitter's and the restart stagger's; an unseeded one by default),
    `max_outbound` (the outbound queue's bound; none by default) and `failure_threshold`
    (consecutive failures that make a peer down: 3 for a new node by default; a restored node
    keeps its saved one unless it is given). `restart_stagger_ns` spreads the backoff retries
    that fell due while the host was down (restore only; docs/runtime.md, "The clock rule on
    restore").

    Refused before the host is touched: a host that has run (`HostAlreadyRunningError`), one
    another `persist_host` already follows (`HostAlreadyTrackedError`), a host key that is not
    Ed25519 (`UnsupportedHostError`), a store whose newest snapshot belongs to another PeerId
    (`HostIdentityMismatchError`, naming the snapshot's file). A store's errors reading or
    saving come through as they are (`SnapshotError`s), and so does what the block raises
    (not wrapped in an `ExceptionGroup`). On exit, after the final save, the host gets its own
    methods back: the PeerId gate and the change tracker are removed.
    """
    _refuse_started(host)
    identity = host_identity(host)
    stored = await trio.to_thread.run_sync(store.latest)
    if stored is None:
        node = Node(
            identity,
            clock=clock,
            failure_threshold=(
                DEFAULT_FAILURE_THRESHOLD if failure_threshold is None else failure_threshold
            ),
            backoff_policy=backoff_policy,
            rng=rng,
            max_outbound=max_outbound,
        )
    else:
        _refuse_other_peer(stored, identity)
        node = Node.restore(
            stored.snapshot,
            identity,
            clock=clock,
            backoff_policy=backoff_policy,
            rng=rng,
            max_outbound=max_outbound,
            restart_stagger_ns=restart_stagger_ns,
            failure_threshold=failure_threshold,
        )
    tracker = HostChangeTracker(host, pubsub=pubsub)
    try:
        gate = install_peer_gate(host, node)
        try:
            if stored is not None:
                replay_into_host(node, host, pubsub=pubsub)
            autosave = TrioAutosave(
                host,
                node,
                store,
                tracker=tracker,
                pubsub=pubsub,
                interval=interval,
                cooldown=cooldown,
            )
            async with _running(autosave, close_timeout):
                yield node
        finally:
            gate.uninstall()
    finally:
        tracker.close()


@asynccontextmanager
async def _running(autosave: TrioAutosave, close_timeout: float | None) -> AsyncIterator[None]:
    """The first save, durable before the block runs; autosave during it; the final save."""
    try:
        autosave.checkpointer.poll()  # the first save, at once
        await autosave.flush(close_timeout)
        sole: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(autosave.run)
                try:
                    yield
                finally:
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The nursery wraps what the block raises: hand it back as it was raised.
            if len(group.exceptions) != 1:
                raise
            sole = group.exceptions[0]
        if sole is not None:
            raise sole  # outside the handler, so it does not gain the group as context
    finally:
        await autosave.aclose(close_timeout)


def _refuse_started(host: IHost) -> None:
    try:
        swarm_of(host).get_manager()
    except LifecycleError:
        return  # no manager yet: the host has never run
    raise HostAlreadyRunningError(
        "persist_host must be entered before host.run(...): the host has run already, so its "
        "restored state and PeerId gate would come too late"
    )


def _refuse_other_peer(stored: StoredSnapshot, identity: Identity) -> None:
    owner = stored.snapshot.framework.peer_id_bytes
    if owner != identity.peer_id.to_bytes():
        raise HostIdentityMismatchError(
            f"the newest snapshot in the store ({stored.ref.path}) belongs to "
            f"{PeerId.from_bytes(owner)}, not to this host, {identity.peer_id}"
        )
