"""`EnvelopeService` on real py-libp2p hosts: delivery, acknowledgement, exactly once across
resends and restarts of either side, redelivery, policy, dials and their outcomes."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from envelope_hosts import (
    ADDRESS_TTL_S,
    MALLORY,
    A,
    B,
    C,
    bare_host,
    close,
    inbox_empty,
    key_pair,
    libp2p_id,
    listen_addr,
    raw_stream,
    receive_all,
    run,
    serving,
)
from libp2p import new_host
from libp2p.abc import INetStream
from libp2p.host.exceptions import StreamFailure
from libp2p.network.stream.exceptions import StreamError
from multiaddr import Multiaddr

from node_runtime import BackoffPolicy, Decision, DirectoryStore, IdExhaustedError, Node
from node_runtime.libp2p_adapter import HostIdentityMismatchError, persist_host
from node_runtime.libp2p_adapter.envelope_service import EnvelopeService, Message
from node_runtime.libp2p_adapter.envelope_wire import (
    ENVELOPE_PROTOCOL_ID,
    Envelope,
    MessageTooLargeError,
    decode_ack,
    encode_ack,
    encode_message,
    read_message,
)
from node_runtime.libp2p_adapter.host_access import (
    negative_cache,
    peer_data_map,
    peerstore_of,
    swarm_of,
)
from snapshot_schema import PendingOutboundEntry, decode, encode

QUICK = BackoffPolicy(base_ns=200_000_000, cap_ns=200_000_000, jitter=0.0)


def unused_port() -> int:
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port: int = reserved.getsockname()[1]
    return port


def test_two_services_exchange_100_envelopes_each_way() -> None:
    async def main() -> None:
        async with serving(Node(A)) as a, serving(Node(B)) as b:
            a.learn(b)
            b.learn(a)
            for n in range(100):
                a.service.send(B.peer_id, b"a%d" % n)
                b.service.send(A.peer_id, b"b%d" % n)
            got_b = [await b.service.inbox.receive() for _ in range(100)]
            got_a = [await a.service.inbox.receive() for _ in range(100)]
            assert [m.payload for m in got_b] == [b"a%d" % n for n in range(100)]
            assert [m.payload for m in got_a] == [b"b%d" % n for n in range(100)]
            assert {m.sender for m in got_b} == {A.peer_id}
            assert [m.seq for m in got_b] == sorted({m.seq for m in got_b})
            await a.service.wait_for(lambda: len(a.node.outbound) == 0)
            await b.service.wait_for(lambda: len(b.node.outbound) == 0)
            for peer in (a, b):
                assert peer.count("host:envelopes_delivered") == 100
                assert peer.count("host:duplicates_dropped") == 0
            # Each dialled at most once (at once, they may each dial: two connections).
            assert a.count("dials_succeeded") + b.count("dials_succeeded") in (1, 2)
            assert inbox_empty(a)
            assert inbox_empty(b)

    run(main)


def test_a_burst_of_envelopes_costs_constant_work_per_envelope() -> None:
    # A queue rescanned or rebuilt per envelope or per acknowledgement (quadratic) took over a
    # minute for 3,000; bytes read one at a time and one ack written per envelope, seconds.
    async def main() -> None:
        async with serving(Node(A)) as a, serving(Node(B)) as b:
            a.learn(b)
            seqs = [a.service.send(B.peer_id, b"%d" % n) for n in range(3000)]
            with trio.fail_after(10):
                got = [(await b.service.inbox.receive()).seq for _ in range(3000)]
                await a.service.wait_for(lambda: len(a.node.outbound) == 0)
            assert got == seqs
            assert b.count("host:duplicates_dropped") == 0

    run(main)


def test_envelopes_for_a_peer_without_an_address_go_once_it_connects() -> None:
    async def main() -> None:
        async with serving(Node(A)) as a, serving(Node(B)) as b:
            seq = a.service.send(B.peer_id, b"waiting")  # A knows no address for B
            await trio.sleep(0.1)
            assert a.count("dials_failed") == 0  # no address is no failed dial
            b.learn(a)
            await b.host.get_network().dial_peer(libp2p_id(A))
            assert await b.service.inbox.receive() == Message(A.peer_id, seq, b"waiting")
            assert a.count("dials_succeeded") == 0  # it used B's connection

    run(main)


def test_the_service_asks_its_node_for_a_save_after_each_send_and_delivery() -> None:
    async def main() -> None:
        calls = {"a": 0, "b": 0}
        node_a, node_b = Node(A), Node(B)

        def counting(name: str) -> Callable[[], None]:
            def listener() -> None:
                calls[name] += 1

            return listener

        node_a.add_save_listener(counting("a"))
        node_b.add_save_listener(counting("b"))
        async with serving(node_a) as a, serving(node_b) as b:
            a.learn(b)
            a.service.send(B.peer_id, b"one")
            a.service.send(B.peer_id, b"two")
            assert calls == {"a": 2, "b": 0}
            await receive_all(b, 2)
            await a.service.wait_for(lambda: len(a.node.outbound) == 0)
            assert calls == {"a": 2, "b": 2}

    run(main)


def saved_counter(directory: Path, name: str) -> int:
    with DirectoryStore(directory, read_only=True) as store:
        stored = store.latest()
        return (
            0 if stored is None else dict(stored.snapshot.framework.counters.items()).get(name, 0)
        )


def test_under_persist_host_a_delivery_mark_is_saved_within_the_cooldown(tmp_path: Path) -> None:
    mark = f"host:delivered:{A.peer_id}"

    async def main() -> None:
        host = new_host(key_pair=key_pair(B))
        with DirectoryStore(tmp_path) as store:
            async with persist_host(host, store, interval=3_600, cooldown=0.5) as node:
                service = EnvelopeService(host, node)
                async with host.run(listen_addrs=[listen_addr()]), trio.open_nursery() as nursery:
                    await nursery.start(service.run)
                    async with serving(Node(A)) as a:
                        peerstore = a.host.get_peerstore()
                        peerstore.add_addrs(
                            host.get_id(), host.get_transport_addrs(), ADDRESS_TTL_S
                        )
                        seq = a.service.send(B.peer_id, b"once")
                        assert await service.inbox.receive() == Message(A.peer_id, seq, b"once")
                        # Long before the interval: the autosave's writer thread is waited for.
                        while saved_counter(tmp_path, mark) != seq:
                            await trio.sleep(0.01)
                    nursery.cancel_scope.cancel()
                await close(host)

    run(main)


def test_a_copy_of_a_queued_envelope_is_dropped_by_the_sender_and_counted() -> None:
    async def main() -> None:
        async with serving(Node(A)) as a, serving(Node(B)) as b:
            seq = a.service.send(B.peer_id, b"once")
            queued = a.node.outbound.peek()
            assert queued is not None
            a.node.outbound.enqueue(queued.envelope)  # the same ID queued twice
            a.learn(b)
            await a.service.wait_for(lambda: len(a.node.outbound) == 0)
            assert await b.service.inbox.receive() == Message(A.peer_id, seq, b"once")
            assert a.count("host:outbound_dropped") == 1
            assert b.count("host:duplicates_dropped") == 0  # the copy never left
            assert inbox_empty(b)

    run(main)


def restored_with_queue(node: Node, *extra: bytes) -> Node:
    """`node` through a snapshot whose queue also holds `extra` envelopes, as a hand-edited or
    corrupted snapshot would (decoding accepts any non-empty bytes there)."""
    snapshot = node.snapshot()
    queued = [*snapshot.framework.pending_outbound, *(PendingOutboundEntry(e) for e in extra)]
    framework = attrs.evolve(snapshot.framework, pending_outbound=queued)
    return Node.restore(decode(encode(attrs.evolve(snapshot, framework=framework))), node.identity)


def offline_service(node: Node) -> EnvelopeService:
    """A service whose host never runs: for what `send` does to the node alone."""
    return EnvelopeService(new_host(key_pair=key_pair(node.identity)), node)


@pytest.mark.parametrize("seq", [2**64 - 1, 2**63], ids=["u64-max", "above-the-id-floor"])
def test_a_restored_envelope_the_sender_never_minted_is_dropped_not_delivered(seq: int) -> None:
    # Delivered, it would raise B's mark for A above every seq A mints later: B would drop
    # (and acknowledge) all of them as duplicates.
    async def main() -> None:
        sender = Node(A)
        offline_service(sender).send(B.peer_id, b"before")  # under the ID floor
        node_a = restored_with_queue(sender, Envelope(B.peer_id, seq, b"never minted").encode())
        async with serving(node_a) as a, serving(Node(B)) as b:
            a.learn(b)
            later = a.service.send(B.peer_id, b"after")
            assert await receive_all(b, 2) == [b"before", b"after"]
            await a.service.wait_for(lambda: len(node_a.outbound) == 0)
            assert a.count("host:outbound_dropped") == 1
            assert b.count(f"host:delivered:{A.peer_id}") == later
            assert inbox_empty(b)

    run(main)


def test_a_restored_envelope_out_of_order_for_its_peer_is_dropped() -> None:
    async def main() -> None:
        sender = Node(A)
        service = offline_service(sender)
        first, second = service.send(B.peer_id, b"first"), service.send(B.peer_id, b"second")
        node_a = restored_with_queue(sender, Envelope(B.peer_id, first, b"first").encode())
        async with serving(node_a) as a, serving(Node(B)) as b:
            a.learn(b)
            assert [(await b.service.inbox.receive()).seq for _ in range(2)] == [first, second]
            await a.service.wait_for(lambda: len(node_a.outbound) == 0)
            assert a.count("host:outbound_dropped") == 1
            assert b.count("host:duplicates_dropped") == 0

    run(main)


def test_send_refuses_once_every_seq_is_minted() -> None:
    node = Node(A)
    node.counters.increment("host:message_seq", 2**64 - 1)

    with pytest.raises(IdExhaustedError):
        offline_service(node).send(B.peer_id, b"one too many")

    assert len(node.outbound) == 0
    assert node.counters.get("host:message_seq") == 2**64 - 1


def test_send_checks_its_arguments() -> None:
    node = Node(A)
    service = EnvelopeService(new_host(key_pair=key_pair(A)), node, max_message_size=100)
    with pytest.raises(ValueError, match="itself"):
        service.send(A.peer_id, b"")
    with pytest.raises(MessageTooLargeError, match="exceeds"):
        service.send(B.peer_id, bytes(100 - 48 + 1))  # 48 bytes of envelope header
    service.send(B.peer_id, bytes(100 - 48))  # queued until the service runs
    assert len(node.outbound) == 1


def test_a_service_refuses_a_host_of_another_identity() -> None:
    node = Node(A)
    with pytest.raises(HostIdentityMismatchError):
        EnvelopeService(new_host(key_pair=key_pair(B)), node)
    assert node.revision == Node(A).revision


async def send_by_hand(stream: INetStream, envelope: Envelope) -> int:
    """Write `envelope` on `stream`; the mark its acknowledgement carries."""
    await stream.write(encode_message(envelope.encode()))
    ack = await read_message(stream, 9)
    assert ack is not None
    return decode_ack(ack)


async def ended(stream: INetStream) -> bool:
    """Whether the other side ended `stream` (a reset reads as the end, or as an error)."""
    try:
        return await stream.read(1) == b""
    except StreamError:
        return True


def test_a_receiver_restored_after_delivering_drops_the_copy_resent_to_it() -> None:
    # The sender here is written by hand: it resends an envelope the receiver delivered
    # before its restart, as a sender that never saw the acknowledgement would.
    async def main() -> None:
        envelope = Envelope(B.peer_id, 7, b"once only")
        node_b = Node(B)
        async with bare_host(A) as sender:
            async with serving(node_b) as b:
                assert await send_by_hand(await raw_stream(sender, b), envelope) == 7
                assert await b.service.inbox.receive() == Message(A.peer_id, 7, b"once only")
                saved = node_b.snapshot()
                port = b.port
            async with serving(Node.restore(saved, B), port=port) as b:
                stream = await raw_stream(sender, b)
                assert await send_by_hand(stream, envelope) == 7
                assert b.count("host:duplicates_dropped") == 1
                assert await send_by_hand(stream, Envelope(B.peer_id, 8, b"next")) == 8
                assert (await b.service.inbox.receive()).payload == b"next"
                assert inbox_empty(b)

    run(main)


def test_a_sender_restored_with_a_delivered_envelope_still_queued_resends_it_once() -> None:
    async def main() -> None:
        node_a = Node(A)
        async with serving(Node(B)) as b:
            async with serving(node_a) as a:
                a.learn(b)
                seq = a.service.send(B.peer_id, b"m1")
                sender_snapshot = node_a.snapshot()  # m1 still queued
                assert await b.service.inbox.receive() == Message(A.peer_id, seq, b"m1")
                await a.service.wait_for(lambda: len(node_a.outbound) == 0)
            # A comes back from the older snapshot, which still holds m1.
            restored = Node.restore(sender_snapshot, A)
            assert [e.redelivered for e in restored.outbound.items()] == [True]
            async with serving(restored) as a:
                a.learn(b)
                seq2 = a.service.send(B.peer_id, b"m2")
                assert seq2 > seq  # the wall clock moved on: a fresh ID
                assert await b.service.inbox.receive() == Message(A.peer_id, seq2, b"m2")
                assert b.count("host:duplicates_dropped") == 1  # m1 came again, before m2
                await a.service.wait_for(lambda: len(restored.outbound) == 0)
                assert inbox_empty(b)

    run(main)


def test_envelopes_redelivered_after_both_sides_restart_reach_the_application_once() -> None:
    async def main() -> None:
        node_a, node_b = Node(A), Node(B)
        async with serving(node_a) as a, serving(node_b) as b:
            a.learn(b)
            seq = a.service.send(B.peer_id, b"m1")
            sender_snapshot = node_a.snapshot()  # m1 still queued
            assert (await b.service.inbox.receive()).payload == b"m1"
            await a.service.wait_for(lambda: len(node_a.outbound) == 0)
            receiver_snapshot = node_b.snapshot()  # m1 delivered
            port_b = b.port
        async with (
            serving(Node.restore(receiver_snapshot, B), port=port_b) as b,
            serving(Node.restore(sender_snapshot, A)) as a,
        ):
            a.learn(b)
            seq2 = a.service.send(B.peer_id, b"m2")
            assert seq2 > seq
            assert await b.service.inbox.receive() == Message(A.peer_id, seq2, b"m2")
            assert b.count("host:duplicates_dropped") == 1
            await a.service.wait_for(lambda: len(a.node.outbound) == 0)
            assert inbox_empty(b)

    run(main)


def test_sender_restored_from_an_older_snapshot_mints_fresh_ids() -> None:
    async def main() -> None:
        node_a = Node(A)
        before = node_a.snapshot()  # nothing sent yet
        async with serving(Node(B)) as b:
            async with serving(node_a) as a:
                a.learn(b)
                a.service.send(B.peer_id, b"forgotten by the sender")
                await b.service.inbox.receive()
            async with serving(Node.restore(before, A)) as a:  # the send is lost
                a.learn(b)
                a.service.send(B.peer_id, b"new")
                # A counter-only seq would repeat the first one and be dropped as a duplicate.
                assert (await b.service.inbox.receive()).payload == b"new"

    run(main)


def test_envelopes_queued_while_the_receiver_is_down_are_delivered_when_it_is_back() -> None:
    async def main() -> None:
        port = unused_port()
        node_a = Node(A, failure_threshold=1, backoff_policy=QUICK)
        async with serving(node_a) as a:
            a.host.get_peerstore().add_addrs(
                libp2p_id(B), [Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")], 3600
            )
            seqs = [a.service.send(B.peer_id, b"queued %d" % n) for n in range(3)]
            await a.service.wait_for(lambda: a.count("dials_failed") >= 1)
            assert node_a.decision(B.peer_id) is Decision.DOWN
            assert len(node_a.outbound) == 3  # kept for a later attempt
            # B comes up where A expects it; nothing wakes A but its probe's time.
            async with serving(Node(B), port=port) as b:
                got = [await b.service.inbox.receive() for _ in range(3)]
                assert [m.seq for m in got] == seqs
                await a.service.wait_for(lambda: len(node_a.outbound) == 0)
            assert a.count("dials_succeeded") == 1
            assert node_a.governor.health(B.peer_id.to_bytes()) is None

    run(main)


def test_an_address_whose_ttl_ran_out_is_not_dialled() -> None:
    async def main() -> None:
        dialled: list[object] = []
        (decoy,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = decoy.socket.getsockname()[1]

        async def record() -> None:
            while True:
                connection = await decoy.accept()
                dialled.append(connection.socket.getpeername())
                await connection.aclose()

        async with serving(Node(A)) as a, serving(Node(B)) as b, trio.open_nursery() as nursery:
            nursery.start_soon(record)
            peerstore = a.host.get_peerstore()
            decoy_addr = Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")
            peerstore.add_addrs(libp2p_id(B), [decoy_addr], 1)
            peer_data_map(peerstore_of(a.host))[libp2p_id(B)].last_identified -= 10  # ran out
            a.service.send(B.peer_id, b"hello")
            await trio.testing.wait_all_tasks_blocked(0.2)  # the scheduler has decided
            assert dialled == []
            assert a.count("dials_failed") + a.count("dials_succeeded") == 0
            a.learn(b)  # a fresh address
            assert (await b.service.inbox.receive()).payload == b"hello"
            assert dialled == []
            nursery.cancel_scope.cancel()
        await decoy.aclose()

    run(main)


def test_dial_failure_feeds_governor_health_and_backoff() -> None:
    async def main() -> None:
        node_a = Node(A, failure_threshold=1)
        async with serving(node_a) as a:
            a.host.get_peerstore().add_addrs(
                libp2p_id(B), [Multiaddr(f"/ip4/127.0.0.1/tcp/{unused_port()}")], 3600
            )
            a.service.send(B.peer_id, b"nobody home")
            await a.service.wait_for(lambda: a.count("dials_failed") == 1)
            key = B.peer_id.to_bytes()
            health = node_a.governor.health(key)
            assert health is not None
            assert (health.consecutive_failures, health.down) == (1, True)
            backoff = node_a.backoff.entry(key)
            assert backoff is not None
            assert backoff.attempts == 1
            assert backoff.next_retry_ns > node_a.clock.monotonic_ns()
            assert not node_a.may_dial(B.peer_id)
            assert len(node_a.outbound) == 1
            # The node's backoff, not py-libp2p's 60 s negative cache, decides the next dial.
            assert str(libp2p_id(B)) not in negative_cache(swarm_of(a.host)).entries

    run(main)


@pytest.mark.parametrize("policy", [Decision.BLOCKED, Decision.NOT_ALLOWED])
def test_a_peer_excluded_by_policy_gets_no_envelope_through(policy: Decision) -> None:
    async def main() -> None:
        node_b = Node(B)
        if policy is Decision.BLOCKED:
            node_b.block(A.peer_id)
        else:
            node_b.set_allowlist([C.peer_id])
        async with serving(Node(A)) as a, serving(node_b) as b, serving(Node(C)) as c:
            a.learn(b)
            c.learn(b)
            a.service.send(B.peer_id, b"let me in")
            c.service.send(B.peer_id, b"allowed")
            assert (await b.service.inbox.receive()).sender == C.peer_id
            await a.service.wait_for(lambda: a.count("dials_failed") == 1)
            assert b.count(f"host:refused:{policy}") == 1
            assert not a.node.may_dial(B.peer_id)  # backing off
            assert len(a.node.outbound) == 1  # kept for when policy changes
            assert inbox_empty(b)
            assert b.count(f"host:delivered:{A.peer_id}") == 0

    run(main)


def test_a_refused_peer_is_not_sent_to() -> None:
    async def main() -> None:
        node_a = Node(A)
        node_a.block(B.peer_id)
        async with serving(node_a) as a, serving(Node(B)) as b:
            a.learn(b)
            a.service.send(B.peer_id, b"kept")
            await trio.sleep(0.3)
            assert a.count("dials_failed") + a.count("dials_succeeded") == 0
            assert b.count("host:envelopes_delivered") == 0
            node_a.unblock(B.peer_id)  # a policy change wakes the sender
            assert (await b.service.inbox.receive()).payload == b"kept"

    run(main)


def test_blocking_a_peer_resets_its_live_envelope_streams() -> None:
    async def main() -> None:
        async with bare_host(A) as sender, serving(Node(B)) as b:
            stream = await raw_stream(sender, b)
            assert await send_by_hand(stream, Envelope(B.peer_id, 1, b"m1")) == 1
            b.node.block(A.peer_id)
            assert b.count("host:streams_cut") == 1
            assert await ended(stream)
            assert b.count(f"host:delivered:{A.peer_id}") == 1

    run(main)


GARBAGE = [
    pytest.param(b"\xff" * 10 + b"\x01", id="overlong-varint"),
    pytest.param(encode_message(b"\x99 unknown kind"), id="unknown-kind"),
    pytest.param(encode_message(Envelope(C.peer_id, 1, b"x").encode()), id="wrong-destination"),
    pytest.param(encode_message(encode_ack(5)), id="ack-where-envelopes-go"),
    pytest.param(encode_message(b""), id="empty-body"),
    pytest.param(b"\x80\x80\x80\x80\x01", id="oversize"),  # announces 256 MiB
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_a_malformed_message_resets_only_its_stream(garbage: bytes) -> None:
    async def main() -> None:
        async with serving(Node(A)) as a, serving(Node(B)) as b:
            a.learn(b)
            a.service.send(B.peer_id, b"before")
            assert (await b.service.inbox.receive()).payload == b"before"
            stream = await raw_stream(a.host, b)  # on A's connection, beside A's service
            await stream.write(garbage)
            assert await ended(stream)
            await b.service.wait_for(lambda: b.count("host:malformed_messages") == 1)
            a.service.send(B.peer_id, b"after")
            assert (await b.service.inbox.receive()).payload == b"after"
            assert a.count("dials_succeeded") == 1  # on the same, undisturbed connection
            assert inbox_empty(b)

    run(main)


def test_a_malformed_ack_resets_the_link_and_counts_as_a_failed_dial() -> None:
    async def main() -> None:
        received: list[bytes | None] = []
        async with bare_host(B) as fake_b, serving(Node(A)) as a:

            async def fake_receiver(stream: INetStream) -> None:
                received.append(await read_message(stream, 1 << 20))
                await stream.write(encode_message(b"\x99 not an ack"))
                await trio.sleep_forever()

            fake_b.set_stream_handler(ENVELOPE_PROTOCOL_ID, fake_receiver)
            a.host.get_peerstore().add_addrs(libp2p_id(B), [fake_b.get_transport_addrs()[0]], 3600)
            seq = a.service.send(B.peer_id, b"unacknowledged")
            await a.service.wait_for(lambda: a.count("dials_failed") == 1)
            assert a.count("host:malformed_messages") == 1
            assert received == [Envelope(B.peer_id, seq, b"unacknowledged").encode()]
            assert len(a.node.outbound) == 1  # kept: nothing acknowledged it
            assert not a.node.may_dial(B.peer_id)  # backing off

    run(main)


def test_an_inbound_stream_clears_the_senders_down_state() -> None:
    async def main() -> None:
        node_b = Node(B, failure_threshold=1)
        node_b.record_dial_failure(A.peer_id)
        assert node_b.decision(A.peer_id) is Decision.DOWN
        async with serving(Node(A)) as a, serving(node_b) as b:
            a.learn(b)
            a.service.send(B.peer_id, b"I am back")
            await b.service.inbox.receive()
            assert node_b.may_dial(A.peer_id)
            assert b.count("dials_succeeded") == 0  # B dialled nothing

    run(main)


def test_unsendable_queue_entries_are_dropped_and_counted() -> None:
    async def main() -> None:
        node_a = Node(A, max_outbound=3)
        node_a.outbound.enqueue(b"not an envelope")
        node_a.outbound.enqueue(Envelope(A.peer_id, 1, b"to myself").encode())
        async with serving(node_a) as a, serving(Node(B)) as b:
            a.learn(b)
            a.service.send(B.peer_id, b"fine")
            assert (await b.service.inbox.receive()).payload == b"fine"
            await a.service.wait_for(lambda: len(node_a.outbound) == 0)
            assert a.count("host:outbound_dropped") == 2

    run(main)


def test_stopping_the_service_ends_the_inbox_and_keeps_what_is_unacknowledged() -> None:
    async def main() -> None:
        node_a = Node(A)
        async with serving(node_a) as a:
            a.host.get_peerstore().add_addrs(
                libp2p_id(MALLORY), [Multiaddr(f"/ip4/127.0.0.1/tcp/{unused_port()}")], 3600
            )
            seq = a.service.send(MALLORY.peer_id, b"never acknowledged")
            inbox = a.service.inbox
        with pytest.raises(trio.EndOfChannel):
            await inbox.receive()
        queued = [Envelope.decode(entry.envelope) for entry in node_a.outbound.items()]
        assert queued == [Envelope(MALLORY.peer_id, seq, b"never acknowledged")]

    run(main)


def test_a_stream_opened_after_the_service_stops_is_reset() -> None:
    async def main() -> None:
        host = new_host(key_pair=key_pair(B))
        service = EnvelopeService(host, Node(B))
        async with host.run(listen_addrs=[listen_addr()]), bare_host(MALLORY) as mallory:
            try:
                async with trio.open_nursery() as nursery:
                    await nursery.start(service.run)
                    nursery.cancel_scope.cancel()
                mallory.get_peerstore().add_addrs(libp2p_id(B), host.get_transport_addrs(), 60)
                try:
                    stream = await mallory.new_stream(libp2p_id(B), [ENVELOPE_PROTOCOL_ID])
                except StreamFailure:
                    pass  # reset as soon as the protocol was agreed
                else:
                    await stream.write(encode_message(Envelope(B.peer_id, 1, b"late").encode()))
                    assert await ended(stream)
                assert service.node.counters.get("host:envelopes_delivered") == 0
            finally:
                await close(host)

    run(main)


def test_a_service_runs_once() -> None:
    async def main() -> None:
        async with serving(Node(A)) as a:
            with pytest.raises(RuntimeError, match="once"):
                await a.service.run()

    run(main)
