"""`Host`: a reference asyncio host that moves a `Node`'s envelopes between peers over TCP.

Connections. A host sends only over connections it dialed (one "link" per destination with
envelopes waiting) and receives only over connections it accepted; the receiver acknowledges on
the connection the envelopes came in on. Two hosts talking both ways hold two connections, and
no simultaneous-open tie-breaking is needed. Every connection starts with the mutual handshake
of `handshake.py`; after it, the listener's governor decides (blocked or not on the allowlist:
refused, counted, closed). A block or allowlist change also closes live connections to peers it
now excludes. A malformed frame or envelope closes that connection only.

Sending. `send(peer, payload)` numbers the envelope and appends it to `node.outbound`, where it
stays until the destination acknowledges it, so every snapshot holds every unacknowledged
envelope. A scheduler task starts a link for each destination with unacknowledged envelopes
that `node.may_dial` allows (policy, backoff; a down peer's dial is its probe) and that has an
unexpired TCP address in the address book, and otherwise wakes when the earliest backoff
passes; dial, connect and handshake failures go to `node.record_dial_failure` (governor
health, backoff), a completed handshake to `record_dial_success`. On each new connection a
link resends
every unacknowledged envelope for that peer, in queue order: the `redelivered` flags of a
restored queue are therefore not consulted, since after a restore, as after any lost
connection, every unacknowledged envelope may or may not have arrived. Acknowledged envelopes
are removed from the queue by rebuilding it (`OutboundQueue` only pops from the front), which
resets the flags of the rest to `False`. The same pass drops, and counts, what the host will not
send (see `_queued`), notably envelopes a restored snapshot holds that this sender cannot have
minted: a delivered seq above every later one would make the receiver drop those as duplicates.

Message IDs and de-duplication. An envelope's ID is (sender, `seq`), `seq` a u64 the sender
mints as `max(last + 1, wall clock ns)`, `last` kept in the counter `host:message_seq`. The
receiver keeps one high-water mark per sender, the counter `host:delivered:<sender>`: it
delivers an envelope iff its `seq` is above the mark, then raises the mark, and acknowledges
with the mark. This is exact because a sender's `seq`s to one receiver only grow along the queue
and a link never skips an unacknowledged envelope, so every `seq` at or below the mark was
delivered. The state is one counter per sender, and it is in the receiver's snapshots, so
duplicates resent after a receiver restart are dropped too. The wall clock is why IDs are not
reused after a crash: a sender restored from an older snapshot has forgotten `seq`s it minted
afterwards, but the wall clock has moved past them (the counter alone would mint them again and
the receiver would drop the new envelopes as duplicates). This assumes the wall clock does not
step back across a crash by more than the downtime.

Exactly once, and its limit: delivery means "put in `inbox`", and the mark moves in the same
step. A receiver that crashes after delivering but before its next save comes back with an
older mark; if the sender still holds those envelopes (it had not seen the acknowledgement, or
it too was restored), they are delivered again, which matches an application whose own state
rolled back with the node's. A `checkpointer` given to the host is asked to save after every
delivery and every send (its cooldown coalesces these), which keeps that window short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Final

import attrs

from node_runtime.checkpointer import DEFAULT_TIMEOUT_S, Checkpointer
from node_runtime.component_errors import IdExhaustedError
from node_runtime.host.envelope import Envelope, EnvelopeError, decode_ack, encode_ack
from node_runtime.host.framing import (
    DEFAULT_MAX_FRAME_SIZE,
    FrameError,
    FrameTooLargeError,
    encode_frame,
    read_frame,
    write_frame,
)
from node_runtime.host.handshake import (
    DEFAULT_HANDSHAKE_TIMEOUT,
    HandshakeError,
    PeerRefusedError,
    accept_handshake,
    dial_handshake,
)
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.peer_governor import Decision
from node_runtime.peer_id import PeerId
from snapshot_schema.checks import U64_MAX

LOG = logging.getLogger(__name__)

DEFAULT_DIAL_TIMEOUT: Final = 5.0
SEQ_COUNTER: Final = "host:message_seq"
DELIVERED_COUNTER_PREFIX: Final = "host:delivered:"
_REFUSING: Final = (Decision.BLOCKED, Decision.NOT_ALLOWED)
_TCP_HOSTS: Final = ("ip4", "ip6", "dns", "dns4", "dns6")


@attrs.frozen
class Message:
    """An envelope delivered to the application: its ID is `(sender, seq)`."""

    sender: PeerId
    seq: int
    payload: bytes


def _tcp_target(address: Multiaddr, peer: PeerId | None = None) -> tuple[str, int] | None:
    """`(host, port)` of `/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT[/p2p/ID]`, else `None`.

    A `/p2p/ID` suffix must name `peer` when one is given.
    """
    parts = address.components()
    if len(parts) == 3 and parts[2][0] == "p2p":
        if peer is not None and parts[2][1] != str(peer):
            return None
        parts = parts[:2]
    if len(parts) != 2:
        return None
    (kind, host), (transport, port) = parts
    if kind not in _TCP_HOSTS or transport != "tcp" or host is None or port is None:
        return None
    return host, int(port)


@attrs.define
class _Link:
    """An outbound link's per-connection state."""

    wake: asyncio.Event = attrs.Factory(asyncio.Event)
    wrote: bool = False  # envelopes were written on this connection
    acked: bool = False  # and an acknowledgement moved forward on it


class Host:
    """Moves `node`'s envelopes over TCP; see the module docstring and docs/host.md.

    Start once with `await start()`, end with `await stop()`. Everything runs on the event
    loop's thread, the only thread that may touch `node` while the host runs.
    """

    def __init__(
        self,
        node: Node,
        *,
        checkpointer: Checkpointer | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        dial_timeout: float = DEFAULT_DIAL_TIMEOUT,
    ) -> None:
        encode_frame(b"", max_size=max_frame_size)  # validates max_frame_size
        self.node = node
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        """Delivered messages, each exactly once, in arrival order."""
        self._checkpointer = checkpointer
        self._max_frame_size = max_frame_size
        self._handshake_timeout = handshake_timeout
        self._dial_timeout = dial_timeout
        self._server: asyncio.Server | None = None
        self._listen_addr: Multiaddr | None = None
        self._stopped = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._links: dict[PeerId, _Link] = {}
        self._connections: dict[asyncio.StreamWriter, PeerId] = {}
        self._acked: dict[PeerId, int] = {}
        self._kick = asyncio.Event()
        self._progress = asyncio.Event()

    # Public API.

    @property
    def listen_addr(self) -> Multiaddr:
        """The address peers dial, e.g. `/ip4/127.0.0.1/tcp/40123`."""
        if self._listen_addr is None:
            raise RuntimeError("the host is not listening: call start() first")
        return self._listen_addr

    async def start(self, listen_addr: Multiaddr | None = None) -> Multiaddr:
        """Listen on `listen_addr` (default `/ip4/127.0.0.1/tcp/0`, an ephemeral port), start
        sending what `node.outbound` holds, and start the checkpointer; the bound address."""
        if self._server is not None or self._stopped:
            raise RuntimeError("a host starts once")
        target = _tcp_target(listen_addr or Multiaddr.from_string("/ip4/127.0.0.1/tcp/0"))
        if target is None:
            raise ValueError(f"not a TCP address to listen on: {listen_addr}")
        self._server = await asyncio.start_server(self._accept, *target)
        ip, port = self._server.sockets[0].getsockname()[:2]
        self._listen_addr = Multiaddr.from_string(
            f"/{'ip6' if ':' in ip else 'ip4'}/{ip}/tcp/{port}"
        )
        self.node.governor.add_policy_listener(self._enforce_policy)
        self._spawn(self._schedule())
        if self._checkpointer is not None:
            self._spawn(self._checkpointer.run())
        return self._listen_addr

    def add_peer_address(self, peer: PeerId, address: Multiaddr) -> bool:
        """`node.add_peer_address`, and wake the sender so waiting envelopes go out."""
        added = self.node.add_peer_address(peer, address)
        self._kick.set()
        return added

    def send(self, peer: PeerId, payload: bytes) -> int:
        """Queue `payload` for `peer`; its `seq`. Raises `FrameTooLargeError` for a payload that
        does not fit a frame, `QueueFullError` when `node.outbound` is full and
        `IdExhaustedError` once the seq 2**64-1 has been minted."""
        if peer == self.node.peer_id:
            raise ValueError("a host does not send to itself")
        counters = self.node.counters
        last = counters.get(SEQ_COUNTER)
        if last == U64_MAX:
            raise IdExhaustedError(f"every envelope seq up to {U64_MAX} has been minted")
        seq = max(last + 1, self.node.clock.wall_ns())
        data = Envelope(peer, seq, payload).encode()
        if len(data) > self._max_frame_size:
            raise FrameTooLargeError(
                f"envelope of {len(data)} bytes exceeds the frame limit of {self._max_frame_size}"
            )
        self.node.outbound.enqueue(data)
        counters.increment(SEQ_COUNTER, seq - last)
        self._kick.set()
        self._changed(durable=True)
        return seq

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once `predicate()` is true; it is re-checked after every delivery, send,
        acknowledgement, dial result and connection change. Bound it with `asyncio.timeout`."""
        while not predicate():
            await self._progress.wait()

    async def stop(self, timeout: float | None = DEFAULT_TIMEOUT_S) -> None:
        """Close the listener and every connection, stop all tasks, then close the checkpointer
        (a final save, `TimeoutError` if it takes longer than `timeout`). Envelopes not yet
        acknowledged stay in `node.outbound`."""
        self._stopped = True
        if self._server is not None:
            self._server.close()
        for writer in self._connections:
            writer.close()
        while self._tasks:
            task = self._tasks.pop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
        if self._checkpointer is not None:
            await self._checkpointer.aclose(timeout)

    # Bookkeeping.

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOG.error("host task failed", exc_info=task.exception())

    def _changed(self, *, durable: bool = False) -> None:
        """Wake `wait_for` callers; `durable` changes (sends, deliveries) ask for a save."""
        self._progress.set()
        self._progress = asyncio.Event()
        if durable and self._checkpointer is not None:
            self._checkpointer.request_save()

    def _count(self, name: str) -> None:
        self.node.counters.increment(f"host:{name}")

    # Sending: the scheduler and the outbound links.

    def _queued(self) -> Iterator[tuple[Envelope | None, bytes]]:
        """Each queued entry, decoded; `None` for one this host does not send, which compaction
        drops: not an envelope, larger than a frame, addressed to this node, or a seq this
        sender cannot have minted (above the ID floor `SEQ_COUNTER`, or not above the seq of an
        earlier envelope to the same peer: a copy). `send` appends seqs in increasing order
        and raises the floor with each, so only a queue restored from a snapshot that
        contradicts itself, or filled by hand, holds such an entry; sent, it would be lost or,
        delivered, make the receiver drop the sender's later envelopes as duplicates."""
        floor = self.node.counters.get(SEQ_COUNTER)
        latest: dict[PeerId, int] = {}  # per destination, the seq of the last envelope kept
        for entry in self.node.outbound.items():
            data = entry.envelope
            try:
                envelope: Envelope | None = Envelope.decode(data)
            except EnvelopeError:
                envelope = None
            if envelope is not None:
                peer = envelope.destination
                if (
                    len(data) > self._max_frame_size
                    or peer == self.node.peer_id
                    or not latest.get(peer, 0) < envelope.seq <= floor
                ):
                    envelope = None
                else:
                    latest[peer] = envelope.seq
            yield envelope, data

    def _unacked(self, envelope: Envelope | None) -> bool:
        return envelope is not None and envelope.seq > self._acked.get(envelope.destination, 0)

    def _compact(self) -> list[Envelope]:
        """Drop acknowledged and unsendable envelopes from `node.outbound`, keeping the order;
        the unacknowledged ones, which stay."""
        kept: list[Envelope] = []
        kept_data: list[bytes] = []
        unsendable = 0
        for envelope, data in self._queued():
            if envelope is None:
                unsendable += 1
            elif self._unacked(envelope):
                kept.append(envelope)
                kept_data.append(data)
        if len(kept) < len(self.node.outbound):
            if unsendable:
                self.node.counters.increment("host:outbound_dropped", unsendable)
            self.node.outbound.drain()
            for data in kept_data:
                self.node.outbound.enqueue(data)
            self._changed()
        return kept

    async def _schedule(self) -> None:
        """Start a link for every destination that has unacknowledged envelopes and may be
        dialed; sleep until kicked or until the earliest backoff among the others expires."""
        while not self._stopped:
            self._kick.clear()
            destinations: dict[PeerId, None] = {}
            for envelope in self._compact():
                destinations[envelope.destination] = None
            next_retry: int | None = None
            for peer in destinations:
                link = self._links.get(peer)
                if link is not None:
                    link.wake.set()
                elif not self.node.peer_addresses(peer):  # expired addresses left out
                    continue  # waits for add_peer_address
                elif self.node.may_dial(peer):
                    self._links[peer] = _Link()
                    self._spawn(self._run_link(peer))
                elif self.node.governor.decision(peer.to_bytes()) not in _REFUSING:
                    # Backing off (a down peer too: its next dial is a probe).
                    ready = self.node.backoff.next_ready_ns(peer.to_bytes())
                    if ready is not None and (next_retry is None or ready < next_retry):
                        next_retry = ready
            timeout = None
            if next_retry is not None:
                timeout = max(0, next_retry - self.node.clock.monotonic_ns()) / 1e9
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout)

    async def _run_link(self, peer: PeerId) -> None:
        link = self._links[peer]
        try:
            connection = await self._dial(peer)
            if connection is not None:
                await self._pump(peer, link, *connection)
        finally:
            del self._links[peer]
            self._kick.set()
            self._changed()

    async def _dial(self, peer: PeerId) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """Connect to `peer` at its first address that answers and authenticates; the outcome
        goes to the node's governor and backoff."""
        for address in self.node.peer_addresses(peer):
            target = _tcp_target(address, peer)
            if target is None:
                continue
            try:
                async with asyncio.timeout(self._dial_timeout):
                    reader, writer = await asyncio.open_connection(*target)
            except (OSError, TimeoutError):
                continue
            try:
                await dial_handshake(
                    reader, writer, self.node.identity, peer, timeout=self._handshake_timeout
                )
            except HandshakeError as error:
                LOG.info("handshake with %s at %s failed: %s", peer, address, error)
                writer.close()
                continue
            self.node.record_dial_success(peer)
            return reader, writer
        self.node.record_dial_failure(peer)
        return None

    async def _pump(
        self,
        peer: PeerId,
        link: _Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Send envelopes and read acknowledgements until either side stops."""
        self._connections[writer] = peer
        tasks = [
            asyncio.create_task(self._read_acks(peer, link, reader)),
            asyncio.create_task(self._write_envelopes(peer, link, writer)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            del self._connections[writer]
            writer.close()
        # A peer that takes envelopes and closes without acknowledging any is failing, and
        # reconnecting at once would only repeat that: let backoff space the retries.
        if link.wrote and not link.acked and not self._stopped:
            self.node.record_dial_failure(peer)

    async def _read_acks(self, peer: PeerId, link: _Link, reader: asyncio.StreamReader) -> None:
        try:
            while (frame := await read_frame(reader, max_size=self._max_frame_size)) is not None:
                seq = decode_ack(frame)
                if seq > self._acked.get(peer, 0):
                    self._acked[peer] = seq
                    link.acked = True
                    self._kick.set()  # the scheduler drops what is acknowledged
                    self._changed()
        except (FrameError, EnvelopeError) as error:
            LOG.warning("malformed frame from %s, closing: %s", peer, error)
            self._count("malformed_frames")
        except OSError:
            pass  # the connection broke: the link ends and the scheduler redials

    async def _write_envelopes(
        self, peer: PeerId, link: _Link, writer: asyncio.StreamWriter
    ) -> None:
        sent = 0  # the highest seq written on this connection
        try:
            while True:
                link.wake.clear()
                floor = max(sent, self._acked.get(peer, 0))
                batch = [
                    (envelope.seq, data)
                    for envelope, data in self._queued()
                    if envelope is not None
                    and envelope.destination == peer
                    and envelope.seq > floor
                ]
                if not batch:
                    await link.wake.wait()
                    continue
                for seq, data in batch:
                    writer.write(encode_frame(data, max_size=self._max_frame_size))
                    sent = seq
                link.wrote = True
                self.node.counters.increment("host:envelopes_sent", len(batch))
                await writer.drain()
        except OSError:
            pass  # the connection broke: the link ends and the scheduler redials

    # Receiving.

    def _admit(self, peer: PeerId) -> bool:
        decision = self.node.governor.decision(peer.to_bytes())
        if decision in _REFUSING:
            self._count(f"refused:{decision}")
            return False
        return True

    def _enforce_policy(self) -> None:
        """Close live connections to peers a block or allowlist change now excludes."""
        for writer, peer in self._connections.items():
            if self.node.governor.decision(peer.to_bytes()) in _REFUSING:
                self._count("connections_cut")
                writer.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Served by a task of our own, which stop() may cancel: Python 3.11 reports the
        # cancellation of start_server's own callback task as an unhandled error.
        if self._stopped:
            writer.close()  # accepted while stop() was closing the listener
            return
        self._spawn(self._serve(reader, writer))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                peer = await accept_handshake(
                    reader,
                    writer,
                    self.node.identity,
                    self._admit,
                    timeout=self._handshake_timeout,
                )
            except PeerRefusedError:
                return  # counted by _admit
            except HandshakeError as error:
                LOG.info("inbound handshake failed: %s", error)
                self._count("handshakes_failed")
                return
            # An inbound connection proves the peer is up: clear its health and backoff (not
            # through record_dial_success, which counts dials, and we dialed nothing). Neither
            # keeps a row for a healthy peer, so any number of peers connecting costs no state.
            self.node.governor.record_success(peer.to_bytes())
            self.node.backoff.record_success(peer.to_bytes())
            self._connections[writer] = peer
            self._kick.set()  # envelopes waiting for this peer may go now
            await self._receive(peer, reader, writer)
        finally:
            self._connections.pop(writer, None)
            writer.close()
            self._changed()

    async def _receive(
        self, peer: PeerId, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while (frame := await read_frame(reader, max_size=self._max_frame_size)) is not None:
                mark = self._deliver(peer, self._inbound_envelope(frame))
                await write_frame(writer, encode_ack(mark), max_size=self._max_frame_size)
        except (FrameError, EnvelopeError) as error:
            LOG.warning("malformed frame from %s, closing: %s", peer, error)
            self._count("malformed_frames")
        except OSError:
            pass  # the peer went away; it resends whatever we did not acknowledge

    def _inbound_envelope(self, frame: bytes) -> Envelope:
        envelope = Envelope.decode(frame)
        if envelope.destination != self.node.peer_id:
            raise EnvelopeError(f"envelope addressed to {envelope.destination}")
        return envelope

    def _deliver(self, sender: PeerId, envelope: Envelope) -> int:
        """Deliver `envelope` unless its seq is at or below `sender`'s mark; the new mark."""
        counters = self.node.counters
        name = f"{DELIVERED_COUNTER_PREFIX}{sender}"
        mark = counters.get(name)
        if envelope.seq <= mark:
            self._count("duplicates_dropped")
            return mark
        counters.increment(name, envelope.seq - mark)
        self.inbox.put_nowait(Message(sender, envelope.seq, envelope.payload))
        self._count("envelopes_delivered")
        self._changed(durable=True)
        return envelope.seq
