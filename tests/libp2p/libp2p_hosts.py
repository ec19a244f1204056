"""Shared fixtures for the py-libp2p adapter tests: real hosts on 127.0.0.1 under trio (registered
for this directory by its conftest.py; test modules import the types from here).

pytest runs each test as a plain function; a test that needs hosts passes an async `main` to
`run_trio`, which runs it under `trio.run` with a deadline so nothing hangs, and opens hosts
inside it with `running_host`.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
import trio
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.peerstore import PeerStore
from libp2p.tools.timed_cache.base_timed_cache import BaseTimedCache
from multiaddr import Multiaddr

TRIO_DEADLINE_S = 20.0
"""Far above what any test here needs (a host starts in ~0.1 s, a connect takes ~0.3 s)."""

RunTrio = Callable[[Callable[[], Awaitable[None]]], None]
MakeHost = Callable[..., IHost]
RunningHost = Callable[..., AbstractAsyncContextManager[IHost]]


@pytest.fixture
def run_trio() -> RunTrio:
    """Run an async `main` under trio, failing it after `TRIO_DEADLINE_S` instead of hanging."""

    def run(main: Callable[[], Awaitable[None]]) -> None:
        async def bounded() -> None:
            with trio.fail_after(TRIO_DEADLINE_S):
                await main()

        trio.run(bounded)

    return run


def loopback() -> Multiaddr:
    """A listen address on 127.0.0.1, port chosen by the system."""
    return Multiaddr("/ip4/127.0.0.1/tcp/0")


@pytest.fixture
def make_host() -> MakeHost:
    """`make_host(seed, max_peers=1000)`: a py-libp2p host, not running, whose Ed25519 key
    comes from the 32-byte `seed` (so `Identity.from_private_bytes(seed)` is its identity)."""

    def make(seed: bytes, *, max_peers: int = 1000) -> IHost:
        return new_host(
            key_pair=create_new_key_pair(seed),
            peerstore_opt=PeerStore(max_records=max_peers, max_peers=max_peers),
        )

    return make


@pytest.fixture
def running_host(make_host: MakeHost) -> RunningHost:
    """`running_host(seed, max_peers=1000)`: `make_host`'s host, listening on 127.0.0.1 while
    the context is open, then closed with its connections."""

    @asynccontextmanager
    async def open_host(seed: bytes, *, max_peers: int = 1000) -> AsyncIterator[IHost]:
        host = make_host(seed, max_peers=max_peers)
        async with host.run(listen_addrs=[loopback()]):
            try:
                yield host
            finally:
                # py-libp2p 0.8 leaves listeners and connections open when `run` ends (a
                # socket a `ResourceWarning` reports): closed here, whatever ended the test.
                with trio.CancelScope(shield=True):
                    await host.close()

    return open_host


@pytest.fixture(autouse=True, scope="module")
def stop_pubsub_cache_threads() -> Iterator[None]:
    """py-libp2p's `Pubsub` starts a cleanup thread for its seen-message cache and never stops
    it: stopped when each test module ends, so that later tests that fork (the crash tests)
    find no thread of ours running."""
    yield
    for cache in [item for item in gc.get_objects() if isinstance(item, BaseTimedCache)]:
        cache.stop()
