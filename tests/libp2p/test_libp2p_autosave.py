"""TrioAutosave: the Checkpointer rules for a py-libp2p host under trio. A host change is saved
at the end of the interval, an idle host writes nothing, IP-gate changes and blocks wake the
task and are saved within the cooldown (a burst once), a running-low id reservation at once,
and the final save happens on close, cancelled or not.

Virtual time (`trio.testing.MockClock`, moved by hand) drives the task's sleeps and the rules;
the writer thread is real, and `flush` waits for it. One test runs a real host on real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from hang_guard import deadline
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.pubsub.pubsub import Pubsub
from multiaddr import Multiaddr

from node_runtime import Identity, Node, PeerId
from node_runtime.libp2p_adapter import HostChangeTracker, TrioAutosave, capture_host
from node_runtime.libp2p_adapter.host_access import swarm_of
from node_runtime.testing import MemoryStore

HOST_SEED = b"\x11" * 32
IDENTITY = Identity.from_private_bytes(HOST_SEED)
PEER = ID.from_pubkey(create_new_key_pair(b"\x12" * 32).public_key)
ADDRESS = Multiaddr("/ip4/10.0.0.1/tcp/4001")
INTERVAL = 30.0
COOLDOWN = 1.0
DEADLINE_S = 20


class CountingCapture:
    """`capture_host`, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, host: IHost, node: Node, *, pubsub: Pubsub | None = None) -> object:
        self.calls += 1
        return capture_host(host, node, pubsub=pubsub)


class Rig:
    """A host (not running: its state is what matters), its node, tracker, store and autosave,
    the autosave task running under a clock that moves only when `advance` says."""

    def __init__(self, clock: trio.testing.MockClock, *, id_block: int = 1 << 20) -> None:
        self.clock = clock
        self.host = new_host(key_pair=create_new_key_pair(HOST_SEED))
        self.node = Node(IDENTITY)
        self.tracker = HostChangeTracker(self.host)
        self.store = MemoryStore()
        self.capture = CountingCapture()
        self.autosave = TrioAutosave(
            self.host,
            self.node,
            self.store,
            tracker=self.tracker,
            capture=self.capture,
            interval=INTERVAL,
            cooldown=COOLDOWN,
            id_block=id_block,
        )

    @property
    def saves(self) -> int:
        return self.autosave.checkpointer.saves

    async def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass, the task act on it, and the writer finish."""
        self.clock.jump(seconds)
        await trio.testing.wait_all_tasks_blocked()
        await self.autosave.flush()

    def saved_node(self) -> Node:
        stored = self.store.latest()
        assert stored is not None
        return Node.restore(stored.snapshot, IDENTITY)


@asynccontextmanager
async def running(rig: Rig) -> AsyncIterator[None]:
    """The autosave task running, its first save (at once) stored."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rig.autosave.run)
        await rig.advance(0)
        assert rig.saves == 1
        yield
        await rig.autosave.aclose()


def run_virtual(scenario: Callable[[Rig], Awaitable[None]], **rig_options: int) -> None:
    clock = trio.testing.MockClock()

    async def main() -> None:
        rig = Rig(clock, **rig_options)
        try:
            await scenario(rig)
        finally:
            rig.tracker.close()

    with deadline(DEADLINE_S):  # real seconds: trio's own timeouts run on the virtual clock
        trio.run(main, clock=clock)


def saved_addresses(rig: Rig) -> tuple[object, ...]:
    return tuple(map(str, rig.saved_node().peer_addresses(PeerId.from_bytes(PEER.to_bytes()))))


def test_the_first_save_captures_the_host_and_an_idle_host_writes_nothing_after() -> None:
    async def scenario(rig: Rig) -> None:
        rig.host.get_peerstore().add_addrs(PEER, [ADDRESS], 0)  # before the task starts
        async with running(rig):
            assert saved_addresses(rig) == (str(ADDRESS),)
            assert rig.capture.calls == 1
            for _ in range(10):
                await rig.advance(INTERVAL)
            assert rig.saves == 1
            assert rig.capture.calls == 1  # an idle host is not even captured

    run_virtual(scenario)


def test_a_peerstore_change_is_saved_at_the_end_of_the_interval_not_before() -> None:
    async def scenario(rig: Rig) -> None:
        async with running(rig):
            assert saved_addresses(rig) == ()
            rig.host.get_peerstore().add_addrs(PEER, [ADDRESS], 0)
            await rig.advance(INTERVAL - 0.5)
            assert rig.saves == 1
            assert rig.capture.calls == 1
            await rig.advance(0.5)
            assert rig.saves == 2
            assert rig.capture.calls == 2
            assert saved_addresses(rig) == (str(ADDRESS),)

    run_virtual(scenario)


def test_a_node_change_alone_is_saved_without_capturing_the_host() -> None:
    async def scenario(rig: Rig) -> None:
        async with running(rig):
            rig.node.counters.increment("sent")
            await rig.advance(INTERVAL)
            assert rig.saves == 2
            assert rig.capture.calls == 1
            assert rig.saved_node().counters.get("sent") == 1

    run_virtual(scenario)


def test_an_ip_gate_change_wakes_the_task_and_is_saved_within_the_cooldown() -> None:
    async def scenario(rig: Rig) -> None:
        async with running(rig):
            await rig.advance(0.25)
            swarm_of(rig.host).connection_gate.add_to_deny_list("10.9.0.0/16")
            await rig.advance(0)
            assert rig.saves == 1  # the cooldown since the first save has not passed
            await rig.advance(COOLDOWN - 0.25)
            assert rig.saves == 2
            assert [str(n) for n in rig.saved_node().governor.ip_deny] == ["10.9.0.0/16"]

    run_virtual(scenario)


def test_an_ip_gate_change_long_after_a_save_is_saved_at_once() -> None:
    async def scenario(rig: Rig) -> None:
        async with running(rig):
            await rig.advance(5.0)
            swarm_of(rig.host).connection_gate.add_to_allow_list("10.8.0.0/16")
            await rig.advance(0)
            assert rig.saves == 2
            assert [str(n) for n in rig.saved_node().governor.ip_allow] == ["10.8.0.0/16"]

    run_virtual(scenario)


def test_a_burst_of_gate_changes_within_the_cooldown_is_written_once() -> None:
    async def scenario(rig: Rig) -> None:
        async with running(rig):
            gate = swarm_of(rig.host).connection_gate
            for index in range(5):
                gate.add_to_deny_list(f"10.{index}.0.0/16")
                await rig.advance(COOLDOWN / 10)
            assert rig.saves == 1
            await rig.advance(COOLDOWN)
            assert rig.saves == 2
            assert len(rig.saved_node().governor.ip_deny) == 5

    run_virtual(scenario)


def test_a_block_wakes_the_task_and_is_saved_within_the_cooldown() -> None:
    async def scenario(rig: Rig) -> None:
        async with running(rig):
            blocked = PeerId.from_bytes(PEER.to_bytes())
            rig.node.block(blocked)
            await rig.advance(0)
            assert rig.saves == 1
            await rig.advance(COOLDOWN)
            assert rig.saves == 2
            assert rig.saved_node().governor.is_blocked(blocked)

    run_virtual(scenario)


def test_a_running_low_id_reservation_is_saved_at_once() -> None:
    async def scenario(rig: Rig) -> None:
        async with running(rig):
            for _ in range(3):  # half the block of 4, then one: the reservation is extended
                rig.node.command_ids.mint()
            await rig.advance(0)
            assert rig.saves == 2  # no cooldown, no interval
            assert rig.autosave.checkpointer.mint_waits == 0

    run_virtual(scenario, id_block=4)


def test_aclose_saves_a_host_change_made_since_the_last_save() -> None:
    async def scenario(rig: Rig) -> None:
        async with running(rig):
            rig.host.get_peerstore().add_addrs(PEER, [ADDRESS], 0)
        assert rig.saves == 2
        assert saved_addresses(rig) == (str(ADDRESS),)

    run_virtual(scenario)


def test_a_cancelled_host_still_makes_its_final_save() -> None:
    async def scenario(rig: Rig) -> None:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(rig.autosave.run)
                await rig.advance(0)
                rig.host.get_peerstore().add_addrs(PEER, [ADDRESS], 0)
                scope.cancel()
                try:
                    await trio.sleep_forever()
                finally:
                    await rig.autosave.aclose()  # in a cancelled scope: shielded
        assert scope.cancelled_caught
        assert rig.saves == 2
        assert saved_addresses(rig) == (str(ADDRESS),)

    run_virtual(scenario)


def test_run_ends_once_closed_and_a_second_run_is_refused() -> None:
    async def scenario(rig: Rig) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rig.autosave.run)
            await rig.advance(0)
            with pytest.raises(RuntimeError, match="already running"):
                await rig.autosave.run()
            await rig.autosave.aclose()
            await rig.advance(0)
            assert not nursery.child_tasks  # run returned without being cancelled

    run_virtual(scenario)


def test_a_real_host_saves_a_peerstore_change_and_nothing_while_idle() -> None:
    interval = 0.3
    host = new_host(key_pair=create_new_key_pair(HOST_SEED))
    tracker = HostChangeTracker(host)
    store = MemoryStore()
    autosave = TrioAutosave(host, Node(IDENTITY), store, tracker=tracker, interval=interval)

    async def main() -> None:
        with trio.fail_after(DEADLINE_S):
            listening = host.run(listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/0")])
            async with listening, trio.open_nursery() as nursery:
                nursery.start_soon(autosave.run)
                while autosave.checkpointer.saves < 1:
                    await trio.sleep(0.01)
                host.get_peerstore().add_addrs(PEER, [ADDRESS], 3_600)
                changed_at = trio.current_time()
                while autosave.checkpointer.saves < 2:
                    await trio.sleep(0.01)
                assert trio.current_time() - changed_at < 3 * interval
                await trio.sleep(4 * interval)
                assert autosave.checkpointer.saves == 2  # idle since
                await autosave.aclose()

    try:
        trio.run(main)
    finally:
        tracker.close()
    stored = store.latest()
    assert stored is not None
    restored = Node.restore(stored.snapshot, IDENTITY)
    assert restored.peer_addresses(PeerId.from_bytes(PEER.to_bytes())) != ()
    assert autosave.checkpointer.saves == 2  # the final save found nothing new
