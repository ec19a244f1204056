"""`EnvelopeQueue`: a node's queued envelopes (`Node.outbound`), decoded once and indexed by
destination, for the envelope service.

The queue is the node's: it is what snapshots hold. This view of it is rebuilt only when the
queue changed under it (its revision moved, or the ID floor did), not on every look: the
service's own appends extend it in place, and its compaction rebuilds both at once. So the cost
per envelope sent, acknowledged or looked up stays constant, however long the queue.

The rules of what the service sends (an entry it does not send is `None` in `entries()`,
dropped and counted at the next compaction): an envelope, within the message limit, not
addressed to this node, with a seq this sender can have minted: at or below the ID floor
(`host:message_seq`), and above the seq of every earlier envelope to the same peer (else it is a
copy, or out of order). `send` appends seqs in increasing order and raises the floor with each,
so only a queue restored from a snapshot that contradicts itself, or filled by hand, holds such
an entry; sent, it would be lost or, delivered, make the receiver drop the sender's later
envelopes as duplicates.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Final

from node_runtime.libp2p_adapter.envelope_wire import Envelope, MalformedMessageError
from node_runtime.node import Node
from node_runtime.peer_id import PeerId

SEQ_COUNTER: Final = "host:message_seq"


class EnvelopeQueue:
    """The envelopes in `node.outbound`, decoded and indexed (see the module docstring)."""

    def __init__(self, node: Node, max_message_size: int) -> None:
        self._node = node
        self._max_message_size = max_message_size
        self._entries: list[tuple[Envelope | None, bytes]] = []
        self._seqs: dict[PeerId, list[int]] = {}  # per destination, increasing
        self._data: dict[PeerId, list[bytes]] = {}
        self._seen: tuple[int, int] | None = None  # (queue revision, floor) the view is of

    def __len__(self) -> int:
        return len(self._node.outbound)

    def _state(self) -> tuple[int, int]:
        return self._node.outbound.revision, self._node.counters.get(SEQ_COUNTER)

    def _current(self) -> None:
        if self._seen != self._state():
            self._rebuild()

    def _rebuild(self) -> None:
        floor = self._node.counters.get(SEQ_COUNTER)
        self._entries, self._seqs, self._data = [], {}, {}
        for entry in self._node.outbound.items():
            data = entry.envelope
            try:
                envelope: Envelope | None = Envelope.decode(data)
            except MalformedMessageError:
                envelope = None
            if envelope is not None:
                peer = envelope.destination
                seqs = self._seqs.get(peer)
                if (
                    len(data) > self._max_message_size
                    or peer == self._node.peer_id
                    or not (seqs[-1] if seqs else 0) < envelope.seq <= floor
                ):
                    envelope = None
                else:
                    self._index(envelope, data)
            self._entries.append((envelope, data))
        self._seen = self._state()

    def _index(self, envelope: Envelope, data: bytes) -> None:
        self._seqs.setdefault(envelope.destination, []).append(envelope.seq)
        self._data.setdefault(envelope.destination, []).append(data)

    def append(self, envelope: Envelope, data: bytes) -> None:
        """Queue `envelope` (encoded as `data`), freshly minted: above the floor and every
        queued seq. The caller raises the floor to its seq right after."""
        self._current()
        self._node.outbound.enqueue(data)
        self._entries.append((envelope, data))
        self._index(envelope, data)
        self._seen = (self._node.outbound.revision, envelope.seq)

    def entries(self) -> list[tuple[Envelope | None, bytes]]:
        """Every queued entry in queue order, decoded; `None` for one the service does not
        send."""
        self._current()
        return self._entries

    def after(self, peer: PeerId, seq: int) -> list[tuple[int, bytes]]:
        """`peer`'s sendable envelopes with a seq above `seq`, in order: `(seq, data)`."""
        self._current()
        seqs = self._seqs.get(peer, [])
        start = bisect.bisect_right(seqs, seq)
        return list(zip(seqs[start:], self._data[peer][start:], strict=True)) if seqs else []

    def last_seq(self, peer: PeerId) -> int:
        """The highest seq queued for `peer` (0: none)."""
        self._current()
        seqs = self._seqs.get(peer)
        return seqs[-1] if seqs else 0

    def compact(self, acked: Mapping[PeerId, int]) -> tuple[list[PeerId], int]:
        """Drop acknowledged (seq at or below `acked[peer]`) and unsendable entries from
        `node.outbound`, keeping the order; the destinations that still have envelopes, in
        queue order, and how many unsendable entries were dropped."""
        self._current()
        kept: list[tuple[Envelope, bytes]] = [
            (envelope, data)
            for envelope, data in self._entries
            if envelope is not None and envelope.seq > acked.get(envelope.destination, 0)
        ]
        unsendable = sum(envelope is None for envelope, _ in self._entries)
        if len(kept) < len(self._entries):
            outbound = self._node.outbound
            outbound.drain()
            self._entries, self._seqs, self._data = [], {}, {}
            for envelope, data in kept:
                outbound.enqueue(data)
                self._entries.append((envelope, data))
                self._index(envelope, data)
            self._seen = self._state()
        return list(self._seqs), unsendable
