"""`EnvelopeService`: a `Node`'s envelopes between peers as the libp2p protocol
`/nodesnap/envelopes/1.0.0`, over py-libp2p streams (Noise + yamux), under trio.

docs/envelope-protocol.md has the wire format byte by byte and every rule below.

Streams. A sender opens one stream per destination with envelopes waiting (a "link"), writes
them, reads acknowledgements back on it, and closes it once every envelope on it is
acknowledged; the receiver acknowledges on the stream the envelopes came in on. The remote
PeerId is the one the connection's secure channel proved, so an envelope's sender is never
written on the wire. A malformed message resets its stream only. Inbound streams past the
resource manager's limit are refused (`resource_limits`); each message body in flight is
reserved in its memory budget first; a peer may hold at most `max_streams_per_peer` inbound
envelope streams at once.

Policy. A peer the node's governor refuses (blocked, or missing from an allowlist) gets no
envelopes and its envelope streams are reset; a block or allowlist change resets live streams
to peers it now excludes. (Refusing the connection itself is `peer_gate`'s job.)

Sending. `send(peer, payload)` numbers the envelope and appends it to `node.outbound`, where it
stays until the destination acknowledges it, so every snapshot holds every unacknowledged
envelope. A scheduler starts a link for each destination with unacknowledged envelopes: over a
live connection if there is one, else by dialling the peer's addresses in the host's peerstore
when `node.may_dial` allows (policy, backoff; a down peer's dial is its probe). The node's
backoff decides when to redial, so the service keeps py-libp2p's own 60 s negative dial cache
out of it: lifted before each dial, and after each failed one. A failed dial or stream open
goes to `node.record_dial_failure` (health, backoff), an opened stream after a dial to
`record_dial_success`. Each link writes every unacknowledged envelope for its peer, in queue
order: after a restore, as after any lost stream, each may or may not have arrived, so the
`redelivered` flags are not consulted. Acknowledged envelopes leave the queue by rebuilding it
(`OutboundQueue` only pops from the front), which resets the flags of the rest; the same pass
drops, and counts, entries this sender does not send (`envelope_queue`).

Message IDs and de-duplication. An envelope's ID is (sender, `seq`), `seq` a u64 the sender
mints as `max(last + 1, wall clock ns)`, `last` kept in the counter `host:message_seq`. The
receiver keeps one high-water mark per sender, the counter `host:delivered:<sender>`: it
delivers an envelope iff its `seq` is above the mark, raises the mark in the same step, and
acknowledges with the mark. A sender's seqs to one receiver only grow along the queue and a
link never skips an unacknowledged envelope, so every seq at or below the mark was delivered;
the mark is in the receiver's snapshots, so copies resent after a restart of either side are
dropped. The wall clock keeps a sender restored from an older snapshot from minting seqs it
already used (assuming the clock does not step back across a crash by more than the downtime).
The counter names are those of nodesnap's earlier TCP host, so marks in its snapshots count.

Exactly once, and its limit: delivery means "put in `inbox`". A receiver that crashes after
delivering but before its next save comes back with an older mark and may deliver again what a
sender still holds. The service calls `node.request_save()` after every send and delivery, so
an attached autosave (`persist_host`'s, any `Checkpointer`) saves within its cooldown and keeps
that window that short.
"""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

import attrs
import trio
from libp2p.abc import IHost, INetConn, INetStream, INetwork
from libp2p.network.stream.exceptions import StreamError
from libp2p.network.stream.net_stream import NetStream
from libp2p.peer.peerstore import PeerStoreError
from libp2p.rcmgr import ResourceManager

from node_runtime.component_errors import IdExhaustedError
from node_runtime.libp2p_adapter.connection_notifee import ConnectionNotifee
from node_runtime.libp2p_adapter.envelope_queue import SEQ_COUNTER, EnvelopeQueue
from node_runtime.libp2p_adapter.envelope_wire import (
    ACK_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    ENVELOPE_PROTOCOL_ID,
    Envelope,
    MalformedMessageError,
    MessageReader,
    MessageTooLargeError,
    decode_ack,
    encode_ack,
    encode_message,
)
from node_runtime.libp2p_adapter.errors import HostIdentityMismatchError
from node_runtime.libp2p_adapter.peer_ids import libp2p_id_of, peer_id_of
from node_runtime.libp2p_adapter.resource_limits import (
    bounded_resource_manager,
    refuse_streams_past_limit,
)
from node_runtime.node import Node
from node_runtime.peer_governor import Decision
from node_runtime.peer_id import PeerId
from snapshot_schema.checks import U64_MAX

if TYPE_CHECKING:
    from trio_typing import (
        TaskStatus,
    )  # trio-typing's stubs, which py-libp2p installs, shadow trio's

LOG = logging.getLogger(__name__)

DELIVERED_COUNTER_PREFIX: Final = "host:delivered:"
DEFAULT_DIAL_TIMEOUT: Final = 5.0
DEFAULT_INBOX_SIZE: Final = 256
DEFAULT_MAX_STREAMS_PER_PEER: Final = 2
COMPACT_AFTER_ACKS: Final = 64
"""Acknowledged envelopes leave the queue once a link's writes are all acknowledged, or once
this many (or half the queue) are: the queue is rebuilt in one pass, not once per ack."""
ADDRESS_RECHECK_S: Final = 1.0
"""The peerstore does not notify: how often to look again for a waiting peer's addresses."""
_REFUSING: Final = (Decision.BLOCKED, Decision.NOT_ALLOWED)
_RESET_TIMEOUT_S: Final = 1.0


@attrs.frozen
class Message:
    """An envelope delivered to the application: its ID is `(sender, seq)`."""

    sender: PeerId
    seq: int
    payload: bytes


@attrs.define
class _Link:
    """An outbound link's per-stream state."""

    wake: trio.Event = attrs.Factory(trio.Event)
    written: int = 0  # the highest seq written on this stream
    wrote: bool = False  # envelopes were written on this stream
    acked: bool = False  # and an acknowledgement moved forward on it
    finished: bool = False  # every envelope on it acknowledged, both sides closed


class _ConnectionWatch(ConnectionNotifee):
    """Wakes the scheduler when a peer connects: envelopes waiting for it may go now."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._wake()


async def _reset(stream: INetStream) -> None:
    """Reset `stream`, even from a cancelled scope, without waiting long on a dead connection."""
    with trio.CancelScope(shield=True), trio.move_on_after(_RESET_TIMEOUT_S):
        await stream.reset()


async def _close(stream: INetStream) -> None:
    """Release a stream both sides have closed (py-libp2p frees its resources on `close`)."""
    with trio.CancelScope(shield=True), trio.move_on_after(_RESET_TIMEOUT_S):
        await stream.close()


class EnvelopeService:
    """Moves `node`'s envelopes through `host`; see the module docstring.

    Run it with `await service.run()` (or `nursery.start(service.run)`) while the host runs;
    cancelling it stops it. Everything runs in the host's trio run, the only thread that may
    touch `node` meanwhile. The service installs `resource_manager` (default
    `bounded_resource_manager()`) on the host's swarm, refusing streams past its limit: build
    the service before `host.run`.
    """

    def __init__(
        self,
        host: IHost,
        node: Node,
        *,
        resource_manager: ResourceManager | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        dial_timeout: float = DEFAULT_DIAL_TIMEOUT,
        inbox_size: int = DEFAULT_INBOX_SIZE,
        max_streams_per_peer: int = DEFAULT_MAX_STREAMS_PER_PEER,
    ) -> None:
        if host.get_id().to_bytes() != node.peer_id.to_bytes():
            raise HostIdentityMismatchError(
                f"the host is {host.get_id()} but the node is {node.peer_id}: one identity"
            )
        if max_message_size < ACK_SIZE:
            raise ValueError(f"max_message_size must be at least {ACK_SIZE}")
        if inbox_size < 1 or max_streams_per_peer < 1:
            raise ValueError("inbox_size and max_streams_per_peer must be at least 1")
        self.node = node
        self._host = host
        self._resources = resource_manager or bounded_resource_manager()
        self._swarm = refuse_streams_past_limit(host, self._resources)
        self._max_message_size = max_message_size
        self._dial_timeout = dial_timeout
        self._max_streams_per_peer = max_streams_per_peer
        self._inbox_send, self.inbox = trio.open_memory_channel[Message](inbox_size)
        """Delivered messages, each once, in arrival order; it ends when the service stops."""
        self._watch = _ConnectionWatch(self._wake_scheduler)
        self._started = False
        self._running = False
        self._nursery: trio.Nursery | None = None
        self._kick = trio.Event()
        self._progress = trio.Event()
        self._links: dict[PeerId, _Link] = {}
        self._streams: dict[INetStream, PeerId] = {}  # live envelope streams, both directions
        self._inbound: collections.Counter[PeerId] = collections.Counter()
        self._acked: dict[PeerId, int] = {}
        self._acked_since_compaction = 0
        self._queue = EnvelopeQueue(node, max_message_size)
        self._delivery = trio.Lock()  # one mark check-and-raise at a time

    # Public API.

    def send(self, peer: PeerId, payload: bytes) -> int:
        """Queue `payload` for `peer`; its `seq`. Raises `MessageTooLargeError` for an envelope
        over `max_message_size`, `QueueFullError` when `node.outbound` is full and
        `IdExhaustedError` once the seq 2**64-1 has been minted. May be called before `run`."""
        if peer == self.node.peer_id:
            raise ValueError("a node does not send to itself")
        counters = self.node.counters
        last = counters.get(SEQ_COUNTER)
        if last == U64_MAX:
            raise IdExhaustedError(f"every envelope seq up to {U64_MAX} has been minted")
        seq = max(last + 1, self.node.clock.wall_ns())
        envelope = Envelope(peer, seq, payload)
        data = envelope.encode()
        if len(data) > self._max_message_size:
            raise MessageTooLargeError(
                f"an envelope of {len(data)} bytes exceeds the limit of {self._max_message_size}"
            )
        self._queue.append(envelope, data)
        counters.increment(SEQ_COUNTER, seq - last)
        self._wake_scheduler()
        self._changed(durable=True)
        return seq

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once `predicate()` is true; it is re-checked after every delivery, send,
        acknowledgement, dial outcome and stream end. Bound it with `trio.fail_after`."""
        while not predicate():
            await self._progress.wait()

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the protocol and send what `node.outbound` holds until cancelled; then reset
        the streams still open, and every later one, and end `inbox`. Envelopes not
        acknowledged stay queued."""
        if self._started:
            raise RuntimeError("an EnvelopeService runs once")
        self._started = True
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._host.set_stream_handler(ENVELOPE_PROTOCOL_ID, self._handle)
                self._swarm.register_notifee(self._watch)
                self.node.governor.add_policy_listener(self._enforce_policy)
                self._running = True
                task_status.started()
                await self._schedule()
        finally:
            # The handler stays registered and resets every stream from now on: py-libp2p
            # 0.8 fails a connection negotiating a protocol whose handler is being removed.
            self._running = False
            self._inbox_send.close()
            self._swarm.remove_notifee(self._watch)
            for stream in list(self._streams):
                await _reset(stream)

    # Bookkeeping.

    def _wake_scheduler(self) -> None:
        self._kick.set()

    def _changed(self, *, durable: bool = False) -> None:
        """Wake `wait_for` callers; `durable` changes (sends, deliveries) ask for a prompt save."""
        self._progress.set()
        self._progress = trio.Event()
        if durable:
            self.node.request_save()

    def _count(self, name: str, amount: int = 1) -> None:
        self.node.counters.increment(f"host:{name}", amount)

    def _refuses(self, peer: PeerId) -> Decision | None:
        decision = self.node.decision(peer)
        return decision if decision in _REFUSING else None

    # Sending: the queue, the scheduler and the links.

    def _compact(self) -> list[PeerId]:
        """Drop acknowledged and unsendable envelopes from `node.outbound` (see
        `EnvelopeQueue`); the destinations with envelopes still waiting."""
        before = len(self._queue)
        destinations, unsendable = self._queue.compact(self._acked)
        self._acked_since_compaction = 0
        if unsendable:
            self._count("outbound_dropped", unsendable)
        if len(self._queue) < before:
            self._changed()
        return destinations

    def _connected(self, peer: PeerId) -> bool:
        connections = self._swarm.get_connections(libp2p_id_of(peer))
        return any(not connection.is_closed for connection in connections)

    def _has_addresses(self, peer: PeerId) -> bool:
        """Whether the peerstore holds unexpired addresses for `peer`."""
        try:
            return bool(self._host.get_peerstore().addrs(libp2p_id_of(peer)))
        except PeerStoreError:
            return False

    async def _schedule(self) -> None:
        """Start a link for every destination with unacknowledged envelopes that is connected
        or may be dialled; sleep until kicked, or until the earliest backoff among the others
        passes, or until it is time to look again for a waiting peer's addresses."""
        assert self._nursery is not None
        while True:
            self._kick = trio.Event()
            wake_at = math.inf
            for peer in self._compact():
                link = self._links.get(peer)
                if link is not None:
                    link.wake.set()
                elif self._refuses(peer) is not None:
                    continue  # kept queued, for when policy changes
                elif self._connected(peer):
                    self._start_link(peer, dial=False)
                elif not self._has_addresses(peer):
                    wake_at = min(wake_at, trio.current_time() + ADDRESS_RECHECK_S)
                elif self.node.may_dial(peer):
                    self._start_link(peer, dial=True)
                else:  # backing off (a down peer too: its next dial is a probe)
                    ready = self.node.backoff.next_ready_ns(peer.to_bytes())
                    if ready is not None:
                        wait_s = max(0, ready - self.node.clock.monotonic_ns()) / 1e9
                        wake_at = min(wake_at, trio.current_time() + wait_s)
            with trio.move_on_at(wake_at):
                await self._kick.wait()

    def _start_link(self, peer: PeerId, *, dial: bool) -> None:
        assert self._nursery is not None
        link = self._links[peer] = _Link()
        self._nursery.start_soon(self._run_link, peer, link, dial)

    async def _run_link(self, peer: PeerId, link: _Link, dial: bool) -> None:
        try:
            stream = await self._open(peer, dial=dial)
            if stream is not None:
                await self._pump(peer, link, stream)
        finally:
            del self._links[peer]
            self._wake_scheduler()
            self._changed()

    async def _open(self, peer: PeerId, *, dial: bool) -> INetStream | None:
        """A stream to `peer` (dialled first when `dial`); the outcome goes to the node's
        governor and backoff."""
        peer_id = libp2p_id_of(peer)
        stream: INetStream | None = None
        with trio.move_on_after(self._dial_timeout):
            try:
                if dial:
                    self._swarm.unblock_peer(peer_id)  # the node's backoff let this dial go
                    await self._swarm.dial_peer(peer_id)
                stream = await self._host.new_stream(peer_id, [ENVELOPE_PROTOCOL_ID])
            except Exception as error:  # py-libp2p raises many types here
                LOG.info("could not open an envelope stream to %s: %s", peer, error)
        if stream is None:
            self.node.record_dial_failure(peer)
            # The node's backoff now governs this peer: drop py-libp2p's own 60 s refusal,
            # which a capture would otherwise copy into the node as a longer backoff.
            self._swarm.unblock_peer(peer_id)
        elif dial:
            self.node.record_dial_success(peer)
        return stream

    async def _pump(self, peer: PeerId, link: _Link, stream: INetStream) -> None:
        """Send envelopes and read acknowledgements until both sides are done or either fails."""
        self._streams[stream] = peer
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_acks, peer, link, stream, nursery.cancel_scope)
                nursery.start_soon(self._write_envelopes, peer, link, stream)
        finally:
            del self._streams[stream]
            await (_close(stream) if link.finished else _reset(stream))
        # A peer that takes envelopes and ends the stream without acknowledging any is failing,
        # and reopening at once would only repeat that: let backoff space the retries.
        if link.wrote and not link.acked and self._running:
            self.node.record_dial_failure(peer)

    async def _read_acks(
        self, peer: PeerId, link: _Link, stream: INetStream, done: trio.CancelScope
    ) -> None:
        try:
            acks = MessageReader(stream, ACK_SIZE)
            while (body := await acks.read_message()) is not None:
                seq = decode_ack(body)
                if seq > self._acked.get(peer, 0):
                    self._acked[peer] = seq
                    link.acked = True
                    self._acked_since_compaction += 1
                    if seq >= link.written:
                        link.wake.set()  # all written is acknowledged: the writer may be done
                        self._wake_scheduler()  # which drops what is acknowledged
                    elif self._acked_since_compaction >= max(
                        COMPACT_AFTER_ACKS, len(self._queue) // 2
                    ):
                        self._wake_scheduler()
                    self._changed()
            link.finished = not self._has_unacked(peer)
        except MalformedMessageError as error:
            LOG.warning("malformed message from %s, resetting its stream: %s", peer, error)
            self._count("malformed_messages")
        except StreamError:
            pass  # the stream broke: the link ends and the scheduler starts another
        finally:
            done.cancel()

    def _has_unacked(self, peer: PeerId) -> bool:
        return self._queue.last_seq(peer) > self._acked.get(peer, 0)

    async def _write_envelopes(self, peer: PeerId, link: _Link, stream: INetStream) -> None:
        try:
            while True:
                link.wake = trio.Event()
                batch = self._queue.after(peer, max(link.written, self._acked.get(peer, 0)))
                if batch:
                    await stream.write(
                        b"".join(encode_message(data, self._max_message_size) for _, data in batch)
                    )
                    link.written = batch[-1][0]
                    link.wrote = True
                    self._count("envelopes_sent", len(batch))
                elif not self._has_unacked(peer):
                    # All acknowledged: half-close, and the reader waits for the receiver's end.
                    # (py-libp2p's hosts hand out `NetStream`s; `INetStream` lacks close_write.)
                    await cast(NetStream, stream).close_write()
                    return
                else:
                    await link.wake.wait()
        except StreamError:
            pass  # the stream broke; the reader sees it too and ends the link

    # Receiving.

    async def _handle(self, stream: INetStream) -> None:
        """An inbound envelope stream: admit its peer, then deliver and acknowledge."""
        peer = peer_id_of(stream.muxed_conn.peer_id)
        refused = self._refuses(peer)
        if not self._running or refused is not None:
            if refused is not None:
                self._count(f"refused:{refused}")
            await _reset(stream)
            return
        if self._inbound[peer] >= self._max_streams_per_peer:
            self._count("streams_refused")
            await _reset(stream)
            return
        # An inbound stream proves the peer is up: clear its health and backoff (not through
        # record_dial_success, which counts dials, and we dialled nothing). Neither keeps a row
        # for a healthy peer, so any number of peers opening streams costs no state.
        self.node.governor.record_success(peer.to_bytes())
        self.node.backoff.record_success(peer.to_bytes())
        self._wake_scheduler()  # envelopes waiting for this peer may go now
        self._inbound[peer] += 1
        self._streams[stream] = peer
        try:
            await self._receive(peer, stream)
        finally:
            self._inbound[peer] -= 1
            if not self._inbound[peer]:
                del self._inbound[peer]
            self._streams.pop(stream, None)
            self._changed()

    async def _receive(self, peer: PeerId, stream: INetStream) -> None:
        messages = MessageReader(stream, self._max_message_size)
        try:
            while (length := await messages.read_length()) is not None:
                if not self._resources.acquire_memory(length):
                    LOG.warning("memory budget spent: resetting %s's envelope stream", peer)
                    self._count("memory_refused")
                    await _reset(stream)
                    return
                try:
                    envelope = self._inbound_envelope(await messages.read_body(length))
                    mark = await self._deliver(peer, envelope)
                finally:
                    self._resources.release_memory(length)
                if not messages.holds_a_message():  # one ack covers a burst: it says "up to"
                    await stream.write(encode_message(encode_ack(mark)))
            await stream.close()  # the sender is done, and so are we
        except MalformedMessageError as error:
            LOG.warning("malformed message from %s, resetting its stream: %s", peer, error)
            self._count("malformed_messages")
            await _reset(stream)
        except (StreamError, trio.ClosedResourceError):
            await _reset(stream)  # the peer went away (it resends what we did not acknowledge)

    def _inbound_envelope(self, body: bytes) -> Envelope:
        envelope = Envelope.decode(body)
        if envelope.destination != self.node.peer_id:
            raise MalformedMessageError(f"envelope addressed to {envelope.destination}")
        return envelope

    async def _deliver(self, sender: PeerId, envelope: Envelope) -> int:
        """Deliver `envelope` unless its seq is at or below `sender`'s mark; the new mark."""
        async with self._delivery:
            counters = self.node.counters
            name = f"{DELIVERED_COUNTER_PREFIX}{sender}"
            mark = counters.get(name)
            if envelope.seq <= mark:
                self._count("duplicates_dropped")
                return mark
            await self._inbox_send.send(Message(sender, envelope.seq, envelope.payload))
            counters.increment(name, envelope.seq - mark)
            self._count("envelopes_delivered")
            self._changed(durable=True)
            return envelope.seq

    def _enforce_policy(self) -> None:
        """Reset live envelope streams to and from peers a block or allowlist change excludes."""
        if not self._running or self._nursery is None:
            return
        for stream, peer in list(self._streams.items()):
            if self._refuses(peer) is not None:
                self._count("streams_cut")
                self._nursery.start_soon(_reset, stream)
        self._wake_scheduler()
