"""`Host`: delivery, acknowledgement, exactly-once across resends and restarts, refusals at
connect, malformed frames, dial failures."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest

from node_runtime import (
    BackoffPolicy,
    Checkpointer,
    Decision,
    DirectoryStore,
    Identity,
    IdExhaustedError,
    Multiaddr,
    Node,
)
from node_runtime.host import (
    Envelope,
    Hello,
    Host,
    Message,
    PeerRefusedError,
    Role,
    accept_handshake,
    dial_handshake,
    encode_auth,
    encode_frame,
    read_frame,
    transcript,
)
from snapshot_schema import PendingOutboundEntry, decode, encode

IDS = [Identity.from_private_bytes(bytes([n]) * 32) for n in range(1, 6)]
A, B, C, MALLORY, _ = IDS
TIMEOUT = 5.0


def run(main: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(TIMEOUT):
            await main()

    asyncio.run(bounded())


@asynccontextmanager
async def hosts(*nodes: Node) -> AsyncIterator[list[Host]]:
    """Started hosts for `nodes`, each knowing every other's address; stopped on exit."""
    started = [Host(node) for node in nodes]
    try:
        for host in started:
            await host.start()
        for host in started:
            for other in started:
                if other is not host:
                    host.add_peer_address(other.node.peer_id, other.listen_addr)
        yield started
    finally:
        for host in started:
            await host.stop()


async def connect(host: Host) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    (_, ip), (_, port) = host.listen_addr.components()
    assert ip is not None
    assert port is not None
    return await asyncio.open_connection(ip, int(port))


def counter(host: Host, name: str) -> int:
    return host.node.counters.get(name)


def test_two_hosts_exchange_100_envelopes_each_way() -> None:
    async def main() -> None:
        async with hosts(Node(A), Node(B)) as (a, b):
            for n in range(100):
                a.send(B.peer_id, b"a%d" % n)
                b.send(A.peer_id, b"b%d" % n)
            got_b = [await b.inbox.get() for _ in range(100)]
            got_a = [await a.inbox.get() for _ in range(100)]
            assert [m.payload for m in got_b] == [b"a%d" % n for n in range(100)]
            assert [m.payload for m in got_a] == [b"b%d" % n for n in range(100)]
            assert {m.sender for m in got_b} == {A.peer_id}
            assert [m.seq for m in got_b] == sorted({m.seq for m in got_b})
            await a.wait_for(lambda: len(a.node.outbound) == 0)
            await b.wait_for(lambda: len(b.node.outbound) == 0)
            for host in (a, b):
                assert counter(host, "host:envelopes_delivered") == 100
                assert counter(host, "dials_succeeded") == 1  # one connection carried them all
            assert a.inbox.empty()
            assert b.inbox.empty()

    run(main)


def test_a_copy_of_a_queued_envelope_is_dropped_by_the_sender_and_counted() -> None:
    async def main() -> None:
        node_a = Node(A)
        async with hosts(node_a, Node(B)) as (a, b):
            seq = a.send(B.peer_id, b"once")
            queued = node_a.outbound.peek()
            assert queued is not None
            node_a.outbound.enqueue(queued.envelope)  # the same ID queued twice
            await a.wait_for(lambda: len(node_a.outbound) == 0)
            assert await b.inbox.get() == Message(A.peer_id, seq, b"once")
            assert counter(a, "host:outbound_dropped") == 1
            assert counter(b, "host:duplicates_dropped") == 0  # the copy never left
            assert b.inbox.empty()

    run(main)


def restored_with_queue(node: Node, *extra: bytes) -> Node:
    """`node` through a snapshot whose queue also holds `extra` envelopes, as a hand-edited or
    corrupted snapshot would (decoding accepts any non-empty bytes there)."""
    snapshot = node.snapshot()
    queued = [*snapshot.framework.pending_outbound, *(PendingOutboundEntry(e) for e in extra)]
    framework = attrs.evolve(snapshot.framework, pending_outbound=queued)
    return Node.restore(decode(encode(attrs.evolve(snapshot, framework=framework))), node.identity)


@pytest.mark.parametrize(
    "seq",
    [2**64 - 1, 2**63],
    ids=["u64-max", "above-the-id-floor"],
)
def test_a_restored_envelope_the_sender_never_minted_is_dropped_not_delivered(seq: int) -> None:
    # Delivered, it would raise B's mark for A above every seq A mints later: B would drop
    # (and acknowledge) all of them as duplicates.
    async def main() -> None:
        sender = Node(A)
        Host(sender).send(B.peer_id, b"before")  # queued, with a seq under the ID floor
        node_a = restored_with_queue(sender, Envelope(B.peer_id, seq, b"never minted").encode())
        async with hosts(node_a, Node(B)) as (a, b):
            later = a.send(B.peer_id, b"after")
            assert [(await b.inbox.get()).payload for _ in range(2)] == [b"before", b"after"]
            await a.wait_for(lambda: len(node_a.outbound) == 0)
            assert counter(a, "host:outbound_dropped") == 1
            assert counter(b, f"host:delivered:{A.peer_id}") == later
            assert b.inbox.empty()

    run(main)


def test_a_restored_envelope_out_of_order_for_its_peer_is_dropped() -> None:
    async def main() -> None:
        sender = Node(A)
        host = Host(sender)
        first, second = host.send(B.peer_id, b"first"), host.send(B.peer_id, b"second")
        old = Envelope(B.peer_id, first, b"first").encode()
        node_a = restored_with_queue(sender, old)  # a second copy, behind a later seq
        async with hosts(node_a, Node(B)) as (a, b):
            assert [(await b.inbox.get()).seq for _ in range(2)] == [first, second]
            await a.wait_for(lambda: len(node_a.outbound) == 0)
            assert counter(a, "host:outbound_dropped") == 1
            assert counter(b, "host:duplicates_dropped") == 0

    run(main)


def test_send_refuses_once_every_seq_is_minted() -> None:
    node = Node(A)
    node.counters.increment("host:message_seq", 2**64 - 1)
    host = Host(node)

    with pytest.raises(IdExhaustedError):
        host.send(B.peer_id, b"one too many")

    assert len(node.outbound) == 0
    assert node.counters.get("host:message_seq") == 2**64 - 1


def test_envelopes_redelivered_after_restarts_reach_the_application_once() -> None:
    async def main() -> None:
        node_a, node_b = Node(A), Node(B)
        async with hosts(node_a, node_b) as (a, b):
            seq = a.send(B.peer_id, b"m1")
            sender_snapshot = node_a.snapshot()  # m1 still queued
            assert (await b.inbox.get()).payload == b"m1"
            await a.wait_for(lambda: len(node_a.outbound) == 0)
            receiver_snapshot = node_b.snapshot()  # m1 delivered
            b_addr = b.listen_addr

        # Both restart: the sender still holds m1, the receiver remembers delivering it.
        node_a = Node.restore(sender_snapshot, A)
        node_b = Node.restore(receiver_snapshot, B)
        assert [e.redelivered for e in node_a.outbound.items()] == [True]
        a, b = Host(node_a), Host(node_b)
        try:
            assert await b.start(b_addr) == b_addr
            await a.start()
            seq2 = a.send(B.peer_id, b"m2")
            assert seq2 > seq
            message = await b.inbox.get()
            assert (message.payload, message.seq) == (b"m2", seq2)
            assert counter(b, "host:duplicates_dropped") == 1  # m1 came again, before m2
            await a.wait_for(lambda: len(node_a.outbound) == 0)
            assert b.inbox.empty()
        finally:
            await a.stop()
            await b.stop()

    run(main)


def test_sender_restored_from_an_older_snapshot_mints_fresh_ids() -> None:
    async def main() -> None:
        node_a = Node(A)
        before = node_a.snapshot()  # nothing sent yet
        async with hosts(node_a, Node(B)) as (a, b):
            a.send(B.peer_id, b"forgotten by the sender")
            await b.inbox.get()
            node_a = Node.restore(before, A)  # the send after the snapshot is lost
            restored = Host(node_a)
            try:
                await restored.start()
                restored.add_peer_address(B.peer_id, b.listen_addr)
                restored.send(B.peer_id, b"new")
                # A counter-only seq would repeat the first one and be dropped as a duplicate.
                assert (await b.inbox.get()).payload == b"new"
            finally:
                await restored.stop()

    run(main)


@pytest.mark.parametrize("policy", [Decision.BLOCKED, Decision.NOT_ALLOWED])
def test_peer_excluded_by_policy_is_refused_at_connect(policy: Decision) -> None:
    async def main() -> None:
        node_b = Node(B)
        if policy is Decision.BLOCKED:
            node_b.governor.block(A.peer_id.to_bytes())
        else:
            node_b.governor.set_allowlist([C.peer_id.to_bytes()])
        async with hosts(Node(A), node_b, Node(C)) as (a, b, c):
            a.send(B.peer_id, b"let me in")
            c.send(B.peer_id, b"allowed")
            assert (await b.inbox.get()).sender == C.peer_id
            await a.wait_for(lambda: counter(a, "dials_failed") == 1)
            assert counter(b, f"host:refused:{policy}") == 1
            assert not a.node.may_dial(B.peer_id)  # backing off
            assert len(a.node.outbound) == 1  # kept for when policy changes
            assert b.inbox.empty()
            # The handshake itself tells the dialer why the connection ends.
            reader, writer = await connect(b)
            with pytest.raises(PeerRefusedError):
                await dial_handshake(reader, writer, A, B.peer_id)
            writer.close()

    run(main)


def test_impostor_is_refused_before_any_envelope_is_accepted() -> None:
    async def main() -> None:
        node_b = Node(B)
        node_b.governor.set_allowlist([A.peer_id.to_bytes()])
        async with hosts(node_b) as (b,):
            reader, writer = await connect(b)
            frame = await read_frame(reader)
            assert frame is not None
            theirs = Hello.decode(frame)
            mine = Hello.fresh(A.peer_id)  # claims A, signs with Mallory's key
            signature = MALLORY.sign(transcript(Role.DIALER, mine, theirs))
            envelope = Envelope(B.peer_id, 1, b"forged").encode()
            writer.write(
                encode_frame(mine.encode())
                + encode_frame(encode_auth(signature))
                + encode_frame(envelope)
            )
            rest = await reader.read()  # B's AUTH, then the close
            assert len(rest) == 4 + 1 + 64
            writer.close()
            await b.wait_for(lambda: counter(b, "host:handshakes_failed") == 1)
            assert b.inbox.empty()
            assert counter(b, f"host:delivered:{A.peer_id}") == 0

    run(main)


@pytest.mark.parametrize(
    "garbage",
    [
        (2**32 - 1).to_bytes(4, "big"),  # a header announcing 4 GiB
        encode_frame(b"\x99 unknown kind"),
        encode_frame(Envelope(C.peer_id, 1, b"not for B").encode()),
        encode_frame(b"\x11" + bytes(8)),  # an ack where envelopes go
    ],
    ids=["oversize", "unknown-kind", "wrong-destination", "ack"],
)
def test_malformed_frame_closes_only_its_connection(garbage: bytes) -> None:
    async def main() -> None:
        async with hosts(Node(A), Node(B)) as (a, b):
            a.send(B.peer_id, b"before")
            assert (await b.inbox.get()).payload == b"before"
            reader, writer = await connect(b)
            await dial_handshake(reader, writer, MALLORY, B.peer_id)
            writer.write(garbage)
            assert await reader.read() == b""  # closed
            writer.close()
            assert counter(b, "host:malformed_frames") == 1
            a.send(B.peer_id, b"after")
            assert (await b.inbox.get()).payload == b"after"
            assert counter(a, "dials_succeeded") == 1  # on the same, undisturbed connection
            assert b.inbox.empty()

    run(main)


def test_dial_failure_feeds_governor_health_and_backoff() -> None:
    async def main() -> None:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        node_a = Node(A, failure_threshold=1)
        async with hosts(node_a) as (a,):
            a.add_peer_address(B.peer_id, Multiaddr.from_string(f"/ip4/127.0.0.1/tcp/{port}"))
            a.send(B.peer_id, b"nobody home")
            await a.wait_for(lambda: counter(a, "dials_failed") == 1)
            key = B.peer_id.to_bytes()
            health = node_a.governor.health(key)
            assert health is not None
            assert (health.consecutive_failures, health.down) == (1, True)
            backoff = node_a.backoff.entry(key)
            assert backoff is not None
            assert backoff.attempts == 1
            assert backoff.next_retry_ns > node_a.clock.monotonic_ns()
            assert not node_a.may_dial(B.peer_id)
            assert len(node_a.outbound) == 1  # kept for a later attempt

    run(main)


def test_blocking_a_connected_peer_cuts_its_connection() -> None:
    async def main() -> None:
        async with hosts(Node(A), Node(B)) as (a, b):
            a.send(B.peer_id, b"m1")
            assert (await b.inbox.get()).payload == b"m1"
            b.node.governor.block(A.peer_id.to_bytes())
            assert counter(b, "host:connections_cut") == 1
            a.send(B.peer_id, b"m2")
            await a.wait_for(lambda: counter(a, "dials_failed") == 1)  # redial refused
            assert counter(b, "host:refused:blocked") == 1
            assert b.inbox.empty()

    run(main)


def test_a_down_peer_is_probed_when_its_backoff_passes() -> None:
    async def main() -> None:
        with socket.socket() as reserved:
            reserved.bind(("127.0.0.1", 0))
            port = reserved.getsockname()[1]
        address = Multiaddr.from_string(f"/ip4/127.0.0.1/tcp/{port}")
        quick = BackoffPolicy(base_ns=200_000_000, cap_ns=200_000_000, jitter=0.0)
        node_a = Node(A, failure_threshold=1, backoff_policy=quick)
        async with hosts(node_a) as (a,):
            a.add_peer_address(B.peer_id, address)
            a.send(B.peer_id, b"are you back?")
            await a.wait_for(lambda: counter(a, "dials_failed") == 1)
            assert node_a.governor.decision(B.peer_id.to_bytes()) is Decision.DOWN
            b = Host(Node(B))
            try:
                await b.start(address)  # B comes back; nothing wakes A but the probe's time
                assert (await b.inbox.get()).payload == b"are you back?"
            finally:
                await b.stop()
            assert counter(a, "dials_succeeded") == 1
            assert node_a.governor.health(B.peer_id.to_bytes()) is None

    run(main)


def test_peers_that_only_complete_a_handshake_leave_no_state() -> None:
    async def main() -> None:
        node_b = Node(B)
        empty = encode(node_b.snapshot())
        async with hosts(node_b) as (b,):
            for _ in range(20):
                reader, writer = await connect(b)
                await dial_handshake(reader, writer, Identity.generate(), B.peer_id)
                writer.write_eof()
                assert await reader.read() == b""  # B saw the end and is done with this peer
                writer.close()
        assert list(node_b.governor.health_items()) == []
        assert list(node_b.backoff.items()) == []
        assert len(encode(node_b.snapshot())) == len(empty)

    run(main)


def test_inbound_connection_clears_the_dialers_down_state() -> None:
    async def main() -> None:
        node_b = Node(B, failure_threshold=1)
        node_b.record_dial_failure(A.peer_id)
        assert node_b.governor.decision(A.peer_id.to_bytes()) is Decision.DOWN
        async with hosts(Node(A), node_b) as (a, b):
            a.send(B.peer_id, b"I am back")
            await b.inbox.get()
            assert b.node.may_dial(A.peer_id)
            assert counter(b, "dials_succeeded") == 0  # B dialed nothing

    run(main)


def test_send_checks_its_arguments() -> None:
    host = Host(Node(A), max_frame_size=100)
    with pytest.raises(ValueError, match="itself"):
        host.send(A.peer_id, b"")
    with pytest.raises(ValueError, match="exceeds"):
        host.send(B.peer_id, bytes(100 - 48 + 1))
    host.send(B.peer_id, bytes(100 - 48))  # queued until the host starts
    assert len(host.node.outbound) == 1
    with pytest.raises(RuntimeError):
        _ = host.listen_addr


def test_address_with_another_peers_p2p_suffix_is_not_dialed() -> None:
    async def main() -> None:
        async with hosts(Node(A), Node(B)) as (a, b):
            # B listens there, but the address says it belongs to C: not B's address.
            wrong = Multiaddr.from_string(f"{b.listen_addr}/p2p/{C.peer_id}")
            other = Host(Node(A))
            try:
                await other.start()
                other.add_peer_address(B.peer_id, wrong)
                other.send(B.peer_id, b"x")
                await other.wait_for(lambda: counter(other, "dials_failed") == 1)
            finally:
                await other.stop()
            assert counter(b, "host:handshakes_failed") == 0  # never even connected
            assert a.inbox.empty()

    run(main)


def test_autosave_keeps_unacknowledged_envelopes(tmp_path: Path) -> None:
    async def main() -> None:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        with DirectoryStore(tmp_path, fsync=False) as store:
            node = Node(A)
            host = Host(node, checkpointer=Checkpointer(node, store))
            await host.start()
            host.add_peer_address(B.peer_id, Multiaddr.from_string(f"/ip4/127.0.0.1/tcp/{port}"))
            seq = host.send(B.peer_id, b"survives")
            await host.wait_for(lambda: counter(host, "dials_failed") == 1)
            await host.stop()  # the final save
            latest = store.latest()
        assert latest is not None
        restored = Node.restore(latest.snapshot, A)
        queued = [Envelope.decode(e.envelope) for e in restored.outbound.items()]
        assert queued == [Envelope(B.peer_id, seq, b"survives")]
        assert restored.counters.get("host:message_seq") == seq

    run(main)


def test_unsendable_queue_entries_are_dropped_and_counted() -> None:
    async def main() -> None:
        node_a = Node(A, max_outbound=3)
        node_a.outbound.enqueue(b"not an envelope")
        node_a.outbound.enqueue(Envelope(A.peer_id, 1, b"to myself").encode())
        async with hosts(node_a, Node(B)) as (a, b):
            a.send(B.peer_id, b"fine")
            assert (await b.inbox.get()).payload == b"fine"
            await a.wait_for(lambda: len(node_a.outbound) == 0)
            assert counter(a, "host:outbound_dropped") == 2

    run(main)


def test_a_malformed_ack_closes_the_link_and_counts_as_a_failed_dial() -> None:
    async def main() -> None:
        received: list[bytes] = []

        async def fake_receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await accept_handshake(reader, writer, B, lambda _: True)
            frame = await read_frame(reader)
            assert frame is not None
            received.append(frame)
            writer.write(encode_frame(b"\x99 not an ack"))
            await reader.read()
            writer.close()

        server = await asyncio.start_server(fake_receiver, "127.0.0.1", 0)
        async with server, hosts(Node(A)) as (a,):
            port = server.sockets[0].getsockname()[1]
            a.add_peer_address(B.peer_id, Multiaddr.from_string(f"/ip4/127.0.0.1/tcp/{port}"))
            seq = a.send(B.peer_id, b"unacknowledged")
            await a.wait_for(lambda: counter(a, "dials_failed") == 1)
            assert counter(a, "host:malformed_frames") == 1
            assert received == [Envelope(B.peer_id, seq, b"unacknowledged").encode()]
            assert len(a.node.outbound) == 1  # kept: nothing acknowledged it
            assert not a.node.may_dial(B.peer_id)  # backing off

    run(main)
