"""`persist_host`: a py-libp2p host's state saved while it runs and restored into a fresh host
with the same key, its PeerId policy enforced, and a SIGKILL losing at most one interval; the
misuses it refuses, before touching the host."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio
from hang_guard import deadline
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.secp256k1 import create_new_key_pair as create_secp256k1_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.exceptions import SwarmException
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStore, PeerStoreError
from libp2p.pubsub.floodsub import FloodSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service
from libp2p_hosts import RunTrio, loopback
from libp2p_persist_child import HOST_SEED as CHILD_SEED
from libp2p_persist_child import peer as child_peer
from multiaddr import Multiaddr

from node_runtime import BackoffPolicy, DirectoryStore, Identity, ManualClock, Node, PeerId
from node_runtime import Multiaddr as OurMultiaddr
from node_runtime.libp2p_adapter import (
    BLACKLIST_EXTENSION,
    HostAlreadyRunningError,
    HostAlreadyTrackedError,
    HostIdentityMismatchError,
    ReplayValueError,
    UnsupportedHostError,
    persist_host,
)
from node_runtime.libp2p_adapter.host_access import swarm_of
from node_runtime.libp2p_adapter.peer_gate import INBOUND_REFUSED

CHILD = Path(__file__).with_name("libp2p_persist_child.py")
HOST_SEED = b"\x41" * 32
PEER_SEED = b"\x42" * 32
PEER = ID.from_pubkey(create_new_key_pair(PEER_SEED).public_key)
ADDRESS = Multiaddr("/ip4/10.0.0.1/tcp/4001")
FLOODSUB = TProtocol("/floodsub/1.0.0")


def make_host(seed: bytes = HOST_SEED) -> IHost:
    return new_host(key_pair=create_new_key_pair(seed))


def peerstore(host: IHost) -> PeerStore:
    store = host.get_peerstore()
    assert isinstance(store, PeerStore)
    return store


def ours(peer: ID) -> PeerId:
    return PeerId.from_bytes(peer.to_bytes())


def generations(directory: Path) -> list[int]:
    with DirectoryStore(directory, read_only=True) as store:
        return [ref.generation for ref in store.list()]


def saved_states(directory: Path) -> list[tuple[int, int]]:
    """Each generation and the deltas its journal holds."""
    with DirectoryStore(directory, read_only=True) as store:
        return [(ref.generation, ref.journal_deltas) for ref in store.list()]


def test_a_fresh_host_with_the_same_key_gets_back_what_the_last_one_had(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    blocked = ours(ID.from_pubkey(create_new_key_pair(b"\x43" * 32).public_key))

    async def first_life() -> None:
        host = make_host()
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store) as node:
                assert node.peer_id.to_bytes() == host.get_id().to_bytes()
                assert generations(tmp_path) == [1]  # durable before the host runs
                async with host.run(listen_addrs=[loopback()]):
                    peerstore(host).add_addrs(PEER, [ADDRESS], 3_600)
                    peerstore(host).put(PEER, "score", 7)
                    swarm_of(host).connection_gate.add_to_deny_list("10.9.0.0/16")
                    node.block(blocked)
                    node.counters.increment("greetings", 3)

    async def second_life() -> None:
        host = make_host()
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store) as node:
                assert [str(a) for a in peerstore(host).addrs(PEER)] == [str(ADDRESS)]
                assert peerstore(host).get(PEER, "score") == 7
                deny = swarm_of(host).connection_gate.deny_list
                assert [str(network) for network in deny] == ["10.9.0.0/16"]
                assert node.governor.is_blocked(blocked)
                assert node.counters.get("greetings") == 3

    run_trio(first_life)
    run_trio(second_life)


def test_an_empty_store_starts_a_new_node_for_the_host(tmp_path: Path, run_trio: RunTrio) -> None:
    async def main() -> None:
        host = make_host()
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store) as node:
                assert node.peer_id == Identity.from_private_bytes(HOST_SEED).peer_id
                assert list(node.address_book.peers()) == []
                assert [ref.generation for ref in store.list()] == [1]

    run_trio(main)


S = 1_000_000_000


def test_the_node_options_reach_a_new_and_a_restored_node(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    first_policy = BackoffPolicy(base_ns=60 * S, cap_ns=60 * S, jitter=0.0)
    second_policy = BackoffPolicy(base_ns=5 * S, cap_ns=5 * S, jitter=0.0)
    first_rng, second_rng = random.Random(1), random.Random(7)
    wall = 1_764_000_000 * S

    async def first_life() -> None:
        clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=wall)
        with DirectoryStore(tmp_path) as store:
            async with persist_host(
                make_host(),
                store,
                clock=clock,
                backoff_policy=first_policy,
                rng=first_rng,
                failure_threshold=5,
                max_outbound=7,
            ) as node:
                assert node.backoff.policy is first_policy
                assert node.rng is first_rng
                assert node.governor.failure_threshold == 5
                assert node.outbound.max_len == 7
                assert node.record_dial_failure(ours(PEER)) == 1_060 * S

    async def second_life() -> None:
        # Restarted 2 minutes later: the retry, due 60 s after the snapshot, fell due meanwhile.
        clock = ManualClock(monotonic_ns=5 * S, wall_ns=wall + 120 * S)
        with DirectoryStore(tmp_path) as store:
            async with persist_host(
                make_host(),
                store,
                clock=clock,
                backoff_policy=second_policy,
                rng=second_rng,
                max_outbound=9,
                restart_stagger_ns=10 * S,
            ) as node:
                assert node.backoff.policy is second_policy
                assert node.rng is second_rng
                assert node.governor.failure_threshold == 5  # the saved one
                assert node.outbound.max_len == 9
                spread = random.Random(7).randrange(10 * S)  # within the 10 s stagger
                assert node.backoff.next_ready_ns(ours(PEER).to_bytes()) == 5 * S + spread

    async def third_life() -> None:
        with DirectoryStore(tmp_path) as store:
            async with persist_host(make_host(), store, failure_threshold=2) as node:
                assert node.governor.failure_threshold == 2

    run_trio(first_life)
    run_trio(second_life)
    run_trio(third_life)


def test_the_final_save_is_made_when_the_host_is_cancelled(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    async def main() -> None:
        host = make_host()
        with DirectoryStore(tmp_path) as store, trio.CancelScope() as scope:
            async with persist_host(host, store, interval=3_600):
                peerstore(host).add_addrs(PEER, [ADDRESS], 0)
                scope.cancel()
                await trio.sleep_forever()
        assert scope.cancelled_caught
        with DirectoryStore(tmp_path, read_only=True) as store:
            stored = store.latest()
            assert stored is not None
            node = Node.restore(stored.snapshot, Identity.from_private_bytes(HOST_SEED))
            assert [str(a) for a in node.peer_addresses(ours(PEER))] == [str(ADDRESS)]

    run_trio(main)


def test_a_peer_blocked_before_the_restart_cannot_connect_to_the_restored_host(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    async def first_life() -> None:
        with DirectoryStore(tmp_path) as store:
            async with persist_host(make_host(), store) as node:
                node.block(ours(PEER))

    async def second_life() -> None:
        host, peer = make_host(), make_host(PEER_SEED)
        with DirectoryStore(tmp_path) as store:
            async with (
                persist_host(host, store) as node,
                host.run(listen_addrs=[loopback()]),
                peer.run(listen_addrs=[loopback()]),
            ):
                with pytest.raises(SwarmException):
                    await peer.connect(PeerInfo(host.get_id(), host.get_addrs()))
                assert host.get_network().get_connections(peer.get_id()) == []
                assert node.counters.get(INBOUND_REFUSED) > 0  # py-libp2p retries the dial

    run_trio(first_life)
    run_trio(second_life)


def test_a_pubsub_blacklist_comes_back_when_pubsub_is_given(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    async def life(blacklist: bool) -> bool:
        host = make_host()
        pubsub = Pubsub(host, FloodSub(protocols=[FLOODSUB]))
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store, pubsub=pubsub), background_trio_service(pubsub):
                if blacklist:
                    pubsub.add_to_blacklist(PEER)
                return pubsub.is_peer_blacklisted(PEER)

    async def main() -> None:
        assert await life(blacklist=True)
        assert await life(blacklist=False)  # restored, not blacklisted again

    run_trio(main)


def test_on_exit_the_host_gets_its_own_methods_back(tmp_path: Path, run_trio: RunTrio) -> None:
    host = make_host()

    async def main() -> None:
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store):
                assert "add_addrs" in vars(peerstore(host))  # tracked
                assert "dial_peer" in vars(swarm_of(host))  # gated

    run_trio(main)
    assert_untouched(host)


# What persist_host refuses, leaving the host as it was.


def assert_untouched(host: IHost) -> None:
    """No tracker or gate wraps the host's methods, and its peerstore holds the host alone."""
    assert "add_addrs" not in vars(peerstore(host))
    assert "dial_peer" not in vars(swarm_of(host))
    assert peerstore(host).peer_ids() == [host.get_id()]


def refusal(
    run_trio: RunTrio, body: Callable[[], Awaitable[None]], error: type[Exception], match: str
) -> None:
    async def main() -> None:
        with pytest.raises(error, match=match):
            await body()

    run_trio(main)


def test_entering_after_host_run_is_refused(tmp_path: Path, run_trio: RunTrio) -> None:
    host = make_host()

    async def main() -> None:
        with DirectoryStore(tmp_path) as store:
            async with host.run(listen_addrs=[loopback()]):
                with pytest.raises(HostAlreadyRunningError, match=r"before host\.run"):
                    async with persist_host(host, store):
                        pass
                assert_untouched(host)

    run_trio(main)
    assert generations(tmp_path) == []


def test_a_second_persist_host_for_one_host_is_refused(tmp_path: Path, run_trio: RunTrio) -> None:
    host = make_host()

    async def body() -> None:
        with DirectoryStore(tmp_path / "a") as first, DirectoryStore(tmp_path / "b") as second:
            async with persist_host(host, first), persist_host(host, second):
                pass

    refusal(run_trio, body, HostAlreadyTrackedError, "already tracked")
    assert generations(tmp_path / "b") == []
    assert_untouched(host)  # and the first one, exited, put everything back


def test_a_snapshot_of_another_peer_is_refused_naming_its_file(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    async def other_host_saves() -> None:
        with DirectoryStore(tmp_path) as store:
            async with persist_host(make_host(b"\x44" * 32), store) as node:
                node.counters.increment("theirs")

    run_trio(other_host_saves)
    host = make_host()

    async def body() -> None:
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store):
                pass

    refusal(run_trio, body, HostIdentityMismatchError, r"00000000000000000001\.nsnap.* not to")
    assert_untouched(host)
    # The other peer's first save and its final delta, and nothing written over them.
    assert saved_states(tmp_path) == [(1, 1)]


def test_a_host_key_other_than_ed25519_is_refused(tmp_path: Path, run_trio: RunTrio) -> None:
    host = new_host(key_pair=create_secp256k1_key_pair())

    async def body() -> None:
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store):
                pass

    refusal(run_trio, body, UnsupportedHostError, "Secp256k1.*Ed25519")
    assert_untouched(host)


def test_a_snapshot_that_cannot_be_replayed_leaves_the_host_as_it_was(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    node = Node(Identity.from_private_bytes(HOST_SEED))
    node.add_peer_address(ours(PEER), OurMultiaddr.from_string(str(ADDRESS)))
    node.set_extension(BLACKLIST_EXTENSION, b"not a blacklist")
    with DirectoryStore(tmp_path) as store:
        store.save(node.snapshot())
    host = make_host()
    pubsub = Pubsub(host, FloodSub(protocols=[FLOODSUB]))

    async def body() -> None:
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store, pubsub=pubsub):
                pass

    refusal(run_trio, body, ReplayValueError, r"\$\.framework\.extensions")
    assert_untouched(host)  # no address replayed, and the gate and tracker taken off again
    assert generations(tmp_path) == [1]


def test_a_host_whose_peer_id_is_not_its_key_s_is_refused(
    tmp_path: Path, run_trio: RunTrio, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = make_host()
    monkeypatch.setattr(host, "get_private_key", lambda: create_new_key_pair(PEER_SEED).private_key)

    async def body() -> None:
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store):
                pass

    refusal(run_trio, body, HostIdentityMismatchError, "is not its key's")
    assert "add_addrs" not in vars(peerstore(host))


# A SIGKILL loses at most one interval.

INTERVAL_S = 0.5
SLACK_S = 1.0  # the save's own time (encode, fsync) on a busy machine
KILL_AFTER_PEERS = 60  # 3 s of changes: about six saves


def test_a_sigkilled_host_comes_back_with_all_but_its_last_interval(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    added: dict[int, float] = {}
    with subprocess.Popen(
        [sys.executable, str(CHILD), str(tmp_path), str(INTERVAL_S)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            with deadline(60):
                assert child.stdout.readline() == "ready\n"
                while len(added) < KILL_AFTER_PEERS:
                    _, n, at = child.stdout.readline().split()
                    added[int(n)] = float(at)
                child.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                child.wait()
                for line in child.stdout:  # what it printed before it died
                    _, n, at = line.split()
                    added[int(n)] = float(at)
        finally:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    async def restore() -> None:
        host = make_host(CHILD_SEED)
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store):
                known = {n for n in added if _has_address(host, child_peer(n))}
        # Saved in order: every peer up to the last one saved, none after.
        assert known == set(range(len(known)))
        must_have = {n for n, at in added.items() if at <= killed_at - INTERVAL_S - SLACK_S}
        assert len(must_have) >= KILL_AFTER_PEERS // 3  # the bound below says something
        assert must_have <= known

    run_trio(restore)


def _has_address(host: IHost, peer: ID) -> bool:
    try:
        return bool(peerstore(host).addrs(peer))
    except PeerStoreError:
        return False


class BlockError(Exception):
    """What the block under `persist_host` raises in a test."""


def test_an_error_in_the_block_comes_out_as_raised_after_the_final_save(
    tmp_path: Path, run_trio: RunTrio
) -> None:
    host = make_host()

    async def fail_in_block(store: DirectoryStore) -> None:
        async with persist_host(host, store, interval=3_600):
            peerstore(host).add_addrs(PEER, [ADDRESS], 0)
            raise BlockError

    async def main() -> None:
        with DirectoryStore(tmp_path) as store:
            with pytest.raises(BlockError):  # not an ExceptionGroup around it
                await fail_in_block(store)
            # The first save, then the final one: a delta in the first one's journal.
            assert [(ref.generation, ref.journal_deltas) for ref in store.list()] == [(1, 1)]

    run_trio(main)
