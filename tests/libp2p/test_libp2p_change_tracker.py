"""HostChangeTracker: every change made through a py-libp2p host's mutating methods moves the
revision, reads do not, IP-gate and blacklist changes are urgent, what it cannot see is flagged
with `touch`, and `close` puts py-libp2p's own methods back."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
import trio
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.exceptions import SwarmException
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStore, PeerStoreError, create_signed_peer_record
from libp2p.pubsub.floodsub import FloodSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service
from multiaddr import Multiaddr

from benchmarks import libp2p_tracking
from node_runtime.libp2p_adapter import (
    HostAlreadyTrackedError,
    HostChangeTracker,
    UnsupportedHostError,
)
from node_runtime.libp2p_adapter.change_tracker import (
    BLACKLIST_MUTATORS,
    GATE_MUTATORS,
    NEGATIVE_CACHE_MUTATORS,
    PEERSTORE_MUTATORS,
)
from node_runtime.libp2p_adapter.host_access import negative_cache, negative_peer_cache, swarm_of

PEER_KEYS = create_new_key_pair(b"\x07" * 32)
PEER = ID.from_pubkey(PEER_KEYS.public_key)
OTHER_KEYS = create_new_key_pair(b"\x08" * 32)
ADDRESS = Multiaddr("/ip4/10.0.0.1/tcp/4001")


@pytest.fixture
def host() -> IHost:
    return new_host(key_pair=create_new_key_pair(b"\x01" * 32))


@pytest.fixture
def pubsub(host: IHost) -> Pubsub:
    return Pubsub(host, FloodSub(protocols=[TProtocol("/floodsub/1.0.0")]))


@pytest.fixture
def tracker(host: IHost, pubsub: Pubsub) -> Iterator[HostChangeTracker]:
    tracker = HostChangeTracker(host, pubsub=pubsub)
    yield tracker
    tracker.close()


def peerstore(host: IHost) -> PeerStore:
    store = host.get_peerstore()
    assert isinstance(store, PeerStore)
    return store


def known_peer(host: IHost) -> PeerStore:
    """The peerstore, holding `PEER` with an address, a key, protocols, metadata, latency."""
    store = peerstore(host)
    store.add_addrs(PEER, [ADDRESS], 3_600)
    store.add_pubkey(PEER, PEER_KEYS.public_key)
    store.add_protocols(PEER, ["/a/1"])
    store.put(PEER, "agent", "x/1")
    store.record_latency(PEER, 0.01)
    return store


# Each peerstore mutator, called as py-libp2p's own code calls it.
PEERSTORE_CALLS: dict[str, Callable[[PeerStore], object]] = {
    "add_addr": lambda store: store.add_addr(PEER, Multiaddr("/ip4/10.0.0.2/tcp/1"), 60),
    "add_addrs": lambda store: store.add_addrs(PEER, [Multiaddr("/ip4/10.0.0.2/tcp/1")], 60),
    "clear_addrs": lambda store: store.clear_addrs(PEER),
    "add_pubkey": lambda store: store.add_pubkey(PEER, PEER_KEYS.public_key),
    "add_privkey": lambda store: store.add_privkey(PEER, PEER_KEYS.private_key),
    "add_key_pair": lambda store: store.add_key_pair(PEER, PEER_KEYS),
    "clear_keydata": lambda store: store.clear_keydata(PEER),
    "add_protocols": lambda store: store.add_protocols(PEER, ["/b/1"]),
    "set_protocols": lambda store: store.set_protocols(PEER, ["/b/1"]),
    "remove_protocols": lambda store: store.remove_protocols(PEER, ["/a/1"]),
    "clear_protocol_data": lambda store: store.clear_protocol_data(PEER),
    "put": lambda store: store.put(PEER, "score", 5),
    "clear_metadata": lambda store: store.clear_metadata(PEER),
    "record_latency": lambda store: store.record_latency(PEER, 0.02),
    "clear_metrics": lambda store: store.clear_metrics(PEER),
    "consume_peer_record": lambda store: store.consume_peer_record(
        create_signed_peer_record(PEER, [ADDRESS], PEER_KEYS.private_key), 60
    ),
    "consume_peer_records": lambda store: store.consume_peer_records(
        [create_signed_peer_record(PEER, [ADDRESS], PEER_KEYS.private_key)], 60
    ),
    "clear_peerdata": lambda store: store.clear_peerdata(PEER),
    "_cleanup_expired_records": lambda store: store._cleanup_expired_records(),
}


def test_every_tracked_peerstore_mutator_has_a_call_here() -> None:
    assert set(PEERSTORE_CALLS) == set(PEERSTORE_MUTATORS)


@pytest.mark.parametrize("name", PEERSTORE_MUTATORS)
def test_each_peerstore_mutator_moves_the_revision_and_is_not_urgent(
    host: IHost, tracker: HostChangeTracker, name: str
) -> None:
    store = known_peer(host)
    before = tracker.revision
    PEERSTORE_CALLS[name](store)
    assert tracker.revision > before
    assert not tracker.urgent


def test_reads_leave_the_revision_alone(host: IHost, tracker: HostChangeTracker) -> None:
    store = known_peer(host)
    before = tracker.revision
    assert store.addrs(PEER) == [ADDRESS]
    assert store.peer_info(PEER) == PeerInfo(PEER, [ADDRESS])
    assert store.get(PEER, "agent") == "x/1"
    assert store.pubkey(PEER) == PEER_KEYS.public_key
    assert store.get_protocols(PEER) == ["/a/1"]
    assert store.latency_EWMA(PEER) == pytest.approx(0.01)
    assert PEER in store.peer_ids()
    assert PEER in store.peers_with_addrs()
    assert tracker.revision == before


def test_a_mutator_that_raises_is_still_counted(host: IHost, tracker: HostChangeTracker) -> None:
    store = peerstore(host)
    with pytest.raises(PeerStoreError):
        store.add_pubkey(PEER, OTHER_KEYS.public_key)  # the wrong key, refused...
    assert PEER in store.peer_ids()  # ...after py-libp2p made an entry for the peer
    assert tracker.revision == 1


@pytest.mark.parametrize("name", NEGATIVE_CACHE_MUTATORS)
def test_each_dial_backoff_change_moves_the_revision(
    host: IHost, tracker: HostChangeTracker, name: str
) -> None:
    cache = negative_peer_cache(swarm_of(host))
    before = tracker.revision
    getattr(cache, name)(*(() if name == "clear" else (str(PEER),)))
    assert tracker.revision > before
    assert not tracker.urgent


@pytest.mark.parametrize("name", GATE_MUTATORS)
def test_each_ip_gate_change_is_urgent_and_calls_the_listeners(
    host: IHost, tracker: HostChangeTracker, name: str
) -> None:
    calls: list[None] = []
    tracker.add_urgent_listener(lambda: calls.append(None))
    before = tracker.revision
    getattr(swarm_of(host).connection_gate, name)("10.1.0.0/16")
    assert tracker.revision > before
    assert calls == [None]
    assert tracker.take_urgent()
    assert not tracker.take_urgent()  # taken


def in_running_pubsub(pubsub: Pubsub, action: Callable[[], object]) -> None:
    """Run `action` while `pubsub` runs (blacklisting a peer starts a task in it)."""

    async def run() -> None:
        with trio.fail_after(10):
            async with background_trio_service(pubsub):
                action()

    trio.run(run)


@pytest.mark.parametrize("name", BLACKLIST_MUTATORS)
def test_each_pubsub_blacklist_change_is_urgent(
    pubsub: Pubsub, tracker: HostChangeTracker, name: str
) -> None:
    before = tracker.revision
    in_running_pubsub(
        pubsub, lambda: getattr(pubsub, name)(*() if name == "clear_blacklist" else (PEER,))
    )
    assert tracker.revision > before
    assert tracker.urgent


def test_a_blacklist_is_not_tracked_without_its_pubsub(host: IHost, pubsub: Pubsub) -> None:
    tracker = HostChangeTracker(host)
    try:
        in_running_pubsub(pubsub, lambda: pubsub.add_to_blacklist(PEER))
        assert pubsub.is_peer_blacklisted(PEER)
        assert tracker.revision == 0
    finally:
        tracker.close()


def test_what_bypasses_the_methods_is_unseen_and_touch_flags_it(
    host: IHost, tracker: HostChangeTracker
) -> None:
    store = known_peer(host)
    before = tracker.revision
    store.peer_data_map[PEER].put_metadata("direct", 1)  # straight into py-libp2p's PeerData
    swarm_of(host).connection_gate.deny_list.clear()
    assert tracker.revision == before
    tracker.touch()
    assert tracker.revision == before + 1
    assert not tracker.urgent
    tracker.touch(urgent=True)
    assert tracker.take_urgent()


def test_close_puts_the_original_methods_back(host: IHost, pubsub: Pubsub) -> None:
    tracker = HostChangeTracker(host, pubsub=pubsub)
    store = peerstore(host)
    gate = swarm_of(host).connection_gate
    tracker.close()
    store.add_addrs(PEER, [ADDRESS], 60)
    gate.add_to_deny_list("10.1.0.0/16")
    in_running_pubsub(pubsub, lambda: pubsub.add_to_blacklist(PEER))
    assert tracker.revision == 0
    assert not tracker.urgent
    for target, names in ((store, PEERSTORE_MUTATORS), (gate, GATE_MUTATORS)):
        assert not set(names) & set(vars(target))  # the class's methods show through again


def test_close_keeps_a_method_the_instance_held_before(host: IHost) -> None:
    store = peerstore(host)
    calls: list[ID] = []
    original = store.clear_addrs

    def own_clear_addrs(peer_id: ID) -> None:
        calls.append(peer_id)
        original(peer_id)

    store.clear_addrs = own_clear_addrs  # type: ignore[method-assign]  # as an application might
    tracker = HostChangeTracker(host)
    store.clear_addrs(PEER)
    tracker.close()
    assert store.clear_addrs is own_clear_addrs
    assert calls == [PEER]
    assert tracker.revision == 1


def test_a_second_tracker_on_a_tracked_host_is_refused_until_the_first_closes(
    host: IHost, tracker: HostChangeTracker
) -> None:
    with pytest.raises(HostAlreadyTrackedError, match="already tracked"):
        HostChangeTracker(host)
    peerstore(host).add_addrs(PEER, [ADDRESS], 60)
    assert tracker.revision == 1  # the refused tracker wrapped nothing
    tracker.close()
    second = HostChangeTracker(host)
    peerstore(host).add_addrs(PEER, [ADDRESS], 60)
    assert second.revision == 1
    second.close()


def test_a_peerstore_without_a_tracked_method_is_refused_by_name(
    host: IHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a py-libp2p upgrade that renamed a method would look.
    for owner in PeerStore.__mro__:
        if "record_latency" in vars(owner):
            monkeypatch.delattr(owner, "record_latency")
    with pytest.raises(UnsupportedHostError, match="record_latency"):
        HostChangeTracker(host)
    assert "add_addrs" not in vars(peerstore(host))  # refused before wrapping anything


def _refusing_port() -> tuple[socket.socket, int]:
    """A loopback port bound but not listening: a dial to it is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def test_a_running_host_s_own_dial_failure_and_connection_move_the_revision() -> None:
    dialer = new_host(key_pair=create_new_key_pair(b"\x02" * 32))
    listener = new_host(key_pair=create_new_key_pair(b"\x03" * 32))
    tracker = HostChangeTracker(dialer)
    listen = [Multiaddr("/ip4/127.0.0.1/tcp/0")]
    sock, port = _refusing_port()

    async def scenario() -> None:
        with trio.fail_after(30):
            async with dialer.run(listen_addrs=listen), listener.run(listen_addrs=listen):
                unreachable = ID.from_pubkey(OTHER_KEYS.public_key)
                dead = Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")
                before = tracker.revision
                with pytest.raises(SwarmException, match="unable to connect"):
                    await dialer.connect(PeerInfo(unreachable, [dead]))
                assert tracker.revision > before  # the address was added, the failure cached
                assert str(unreachable) in negative_cache(swarm_of(dialer)).entries

                before = tracker.revision
                await dialer.connect(PeerInfo(listener.get_id(), listener.get_addrs()))
                assert tracker.revision > before
                assert peerstore(dialer).addrs(listener.get_id())
                await dialer.disconnect(listener.get_id())

    try:
        trio.run(scenario)
    finally:
        sock.close()
        tracker.close()


def test_the_quick_tracking_benchmark_runs_and_reports_both_tables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Its own checks run too: every tracked call counted, reads not, an idle host never saved.
    assert libp2p_tracking.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "| N peers | call | untracked ns | tracked ns | difference ns | vs untracked |" in out
    assert out.count("\n| 100 | ") == len(libp2p_tracking.OPERATIONS) + 1
    assert out.rstrip().endswith("| 0 |")  # no save while idle
