"""The demo's run: start real py-libp2p nodes, exchange envelopes, SIGKILL the victim, restore
it, and record what every process did (`Measurements`). Nothing here judges; `report` does.

The cast, one OS process each, all on 127.0.0.1:
- `victim`: blocks `blocked`, backs off from two unreachable peers (one of whose addresses is
  stored with a 2 s TTL), queues envelopes for `receiver` while it is down, mints IDs; then is
  killed with SIGKILL and restarted from its newest snapshot on the same port, after that TTL
  ran out. After the restart nobody tells it an address: it finds its peers by PeerId alone;
- `blocked`: keeps sending to the victim, so it keeps trying to connect, before the kill and
  after the restart;
- `receiver`: queues its first envelopes before it knows where anyone is, so they are saved,
  then delivers them; it receives nothing and saves nothing more (its autosave interval is
  long) until it too is killed with SIGKILL. Restored, it still holds those envelopes and
  resends them: the victim, restored with its delivered marks, must drop them as duplicates;
- `peer4`, ...: further nodes (`--nodes`) that exchange envelopes with everyone;
- two unreachable peers: not processes but listeners of the orchestrator's that record when
  each connection arrives and hang up, so the victim's dials to them fail and are timed from
  outside the victim: the `tripwire` (an address kept for an hour: the victim must redial it,
  after its saved backoff) and the `expiring` one (its address expires while the victim is
  down: the victim must not dial it again).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import attrs
from libp2p.peer.envelope import ENVELOPE_DOMAIN, consume_envelope

from node_runtime.demo.processes import NODE_COMMAND, DemoError, Event, NodeProcess
from node_runtime.directory_store import DirectoryStore
from node_runtime.identity import Identity
from node_runtime.libp2p_adapter.envelope_wire import Envelope
from node_runtime.peer_id import PeerId
from node_runtime.storage_errors import StoreError
from snapshot_schema import SnapshotError, TransientSnapshot

VICTIM, BLOCKED, RECEIVER = "victim", "blocked", "receiver"
# The victim retries a failed peer after 10 s: long enough to outlast its kill, the wait for the
# expiring address and its restart, so the restored deadline is still ahead. The others retry
# every 0.5 s, so the blocked peer knocks on the victim's door often. Autosave every second
# (sends, deliveries and policy changes ask for a save at once anyway), but the receiver's
# periodic save is far off: the acknowledgements of its first envelopes stay unsaved.
VICTIM_BACKOFF_S: Final = 10.0
PEER_BACKOFF_S: Final = 0.5
AUTOSAVE_S: Final = 1.0
RECEIVER_AUTOSAVE_S: Final = 600.0
EXPIRING_TTL_S: Final = 2
KEPT_TTL_S: Final = 3600
MESSAGES: Final = 3  # per sender and destination, per round
MINTS: Final = 3  # command and exec IDs the victim mints per round
RUN_TIMEOUT_S: Final = 90.0
STEP_TIMEOUT_S: Final = 20.0
SETTLE_S: Final = 12.0
"""How long to wait for what a broken restore may never do (then measure what happened)."""
LATE_DIAL_S: Final = 1.0
"""After the tripwire's redial, how long to keep watching for a dial to the expiring peer."""

MessageId = tuple[str, str, int]  # (sender, destination, seq)
Progress = Callable[[str], None]
"""Told what the run is about to do, as it starts each phase."""


@attrs.frozen
class Measurements:
    """What the run observed; wall times in ns since the epoch."""

    directory: Path
    stores: tuple[tuple[str, Path], ...]
    seconds: float
    kill_status: int
    killed_at_ns: int
    restarted_at_ns: int  # the restored victim's `ready`
    confirmed_generation: int  # the snapshot seen on disk before the kill
    restored_generation: int | None
    # The victim's identity: before the kill, as the restored process reports it (node and
    # host), and as the peers saw the senders of its envelopes after the restart.
    peer_before: str
    peer_after: tuple[str, ...]
    senders_after: tuple[str, ...]
    # IDs minted by the victim before the kill and after the restart, by kind.
    ids_before: tuple[tuple[str, tuple[int, ...]], ...]
    ids_after: tuple[tuple[str, tuple[int, ...]], ...]
    # The blocked peer: policy, and its connections.
    blocked_in_restored_policy: bool
    sent_by_blocked_after_block: int
    delivered_from_blocked_after_block: int
    blocked_dials_after_restart: int  # failed, and connected
    blocked_connections_after_restart: int  # seen by either side
    refused_at_connect_after_restart: int
    # The tripwire's backoff.
    backoff_deadline_ns: int | None  # in the confirmed snapshot
    dials_before_kill: tuple[int, ...]
    dials_after_restart: tuple[int, ...]
    # The expiring address.
    expiry_ns: int | None  # of the expiring peer's address, in the confirmed snapshot
    expiring_dials_before_kill: tuple[int, ...]
    expiring_dials_after_restart: tuple[int, ...]
    expiring_addresses_restored: int
    # Peers the victim sent to after the restart, which of them it dialled itself, which got
    # its envelopes, and how many addresses it was told after the restart.
    peers_to_reach: tuple[str, ...]
    peers_dialled: tuple[str, ...]
    peers_reached: tuple[str, ...]
    addresses_told_after_restart: int
    # Signed peer records: seq per peer in the confirmed snapshot, and in the restored host
    # (verified ones only) before any peer connected.
    records_saved: tuple[tuple[str, int], ...]
    records_restored: tuple[tuple[str, int], ...]
    # Envelopes queued for the receiver in the confirmed snapshot, and their deliveries.
    pending: tuple[int, ...]
    pending_delivered_after_restart: tuple[int, ...]
    # Every envelope between live nodes that policy allows, and every delivery; the copies the
    # restored receiver resent of envelopes the victim delivered before the kill, and how many
    # duplicates the victim dropped after its restart.
    expected: frozenset[MessageId]
    delivered: tuple[MessageId, ...]
    resent: tuple[int, ...]
    duplicates_dropped_by_victim: int


class _Trap:
    """An unreachable peer: accepts each TCP connection, notes when, and hangs up before the
    security handshake, so the dialer records a failed dial."""

    def __init__(self) -> None:
        self.dials: list[int] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"/ip4/127.0.0.1/tcp/{self._server.sockets[0].getsockname()[1]}"

    def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.dials.append(time.time_ns())
        writer.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


async def _poll(condition: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT_S) -> None:
    """Wait until `condition()` holds: it reads several processes' events, so it is polled."""
    if not await _settle(condition, timeout):
        raise DemoError(f"timed out after {timeout} s waiting for: {what}")


async def _settle(condition: Callable[[], bool], timeout: float = SETTLE_S) -> bool:
    """Wait up to `timeout` s for what a broken restore may never do; whether it happened."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _port(address: str) -> int:
    return int(address.rsplit("/", 1)[1])


def _of(process: NodeProcess, kind: str, since: int = 0) -> list[Event]:
    return [event for event in process.events[since:] if event["event"] == kind]


def _sent(processes: dict[str, NodeProcess], ids: dict[str, str]) -> set[MessageId]:
    return {
        (ids[name], event["to"], event["seq"])
        for name, process in processes.items()
        for event in _of(process, "sent")
    }


def _delivered(processes: dict[str, NodeProcess], ids: dict[str, str]) -> list[MessageId]:
    return [
        (event["sender"], ids[name], event["seq"])
        for name, process in processes.items()
        for event in _of(process, "delivered")
    ]


def _send(
    processes: dict[str, NodeProcess], ids: dict[str, str], pairs: Sequence[tuple[str, str]]
) -> None:
    for sender, to in pairs:
        processes[sender].command(cmd="send", to=ids[to], count=MESSAGES)


async def _all_sent(processes: dict[str, NodeProcess]) -> None:
    """Return once every running node has reported the sends it was told to make: a node obeys
    its commands in order, so its answer to a later `state` command comes after them."""
    for process in processes.values():
        if process.running:
            await process.request_state()


async def _snapshot_where(
    store: Path, owner: str, holds: Callable[[TransientSnapshot], bool], what: str
) -> tuple[int, TransientSnapshot]:
    """The generation and content of `owner`'s newest snapshot in `store` once it holds what
    the checks need: as with a real autosave, the kill comes after the save."""
    found: list[tuple[int, TransientSnapshot]] = []
    signer = PeerId.from_string(owner)

    def saved() -> bool:
        try:
            with DirectoryStore(store, expected_signer=signer, read_only=True) as reader:
                latest = reader.latest()
        except (StoreError, SnapshotError, OSError):
            return False  # caught mid-retention, say: look again
        if latest is None or not holds(latest.snapshot):
            return False
        found.append((latest.ref.generation, latest.snapshot))
        return True

    await _poll(saved, what)
    return found[-1]


def _queued(snapshot: TransientSnapshot) -> list[Envelope]:
    return [Envelope.decode(entry.envelope_bytes) for entry in snapshot.framework.pending_outbound]


def _wall(snapshot: TransientSnapshot, monotonic_ns: int) -> int:
    taken = snapshot.taken_at
    return taken.wall_ns + monotonic_ns - taken.monotonic_ns


def _backoff_deadline(snapshot: TransientSnapshot, peer: PeerId) -> int | None:
    """When, on the wall clock, `snapshot` lets `peer` be retried (`None`: no backoff)."""
    return next(
        (
            _wall(snapshot, entry.next_retry_ns)
            for entry in snapshot.framework.backoff_table
            if entry.peer_id == peer.to_bytes()
        ),
        None,
    )


def _address_expiry(snapshot: TransientSnapshot, peer: PeerId) -> int | None:
    """When, on the wall clock, `peer`'s last-expiring address in `snapshot` expires."""
    for entry in snapshot.framework.address_book:
        if entry.peer_id == peer.to_bytes():
            expiries = [expiry for expiry in entry.expires_ns if expiry is not None]
            return _wall(snapshot, max(expiries)) if expiries else None
    return None


def _signed_records(snapshot: TransientSnapshot) -> dict[str, int]:
    """Each peer's signed record seq in `snapshot`."""
    found = {}
    for record in snapshot.framework.peer_records:
        if record.signed_record is not None:
            _, peer_record = consume_envelope(record.signed_record, ENVELOPE_DOMAIN)
            found[str(PeerId.from_bytes(record.peer_id))] = peer_record.seq
    return found


def _ids(process: NodeProcess, life: int) -> dict[str, tuple[int, ...]]:
    minted = [event for event in _of(process, "minted") if event["life"] == life]
    return {
        "command": tuple(i for event in minted for i in event["command"]),
        "exec": tuple(i for event in minted for i in event["exec"]),
        "envelope seq": tuple(e["seq"] for e in _of(process, "sent") if e["life"] == life),
    }


def _counter(state: Event, name: str) -> int:
    value: int = state["counters"].get(name, 0)
    return value


async def run(
    directory: Path,
    nodes: int,
    progress: Progress,
    *,
    victim_command: Sequence[str] = NODE_COMMAND,
) -> Measurements:
    """Run the scenario with `nodes` (at least 3) node processes under `directory`, telling
    `progress` each phase as it starts. `victim_command` starts the victim's processes (a test
    runs them through a wrapper that breaks restore on purpose)."""
    names = [VICTIM, BLOCKED, RECEIVER, *(f"peer{n}" for n in range(4, nodes + 1))]
    processes = {
        name: NodeProcess(
            name,
            directory / name,
            backoff_s=VICTIM_BACKOFF_S if name == VICTIM else PEER_BACKOFF_S,
            autosave_s=RECEIVER_AUTOSAVE_S if name == RECEIVER else AUTOSAVE_S,
            command=victim_command if name == VICTIM else NODE_COMMAND,
        )
        for name in names
    }
    tripwire, expiring = _Trap(), _Trap()
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            return await _Run(directory, processes, tripwire, expiring, progress).run()
    except TimeoutError:
        raise DemoError(f"the run took over {RUN_TIMEOUT_S} s") from None
    finally:
        for process in processes.values():
            await process.abort()
        tripwire.close()
        expiring.close()


class _Run:
    """One run of the scenario, phase by phase (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        processes: dict[str, NodeProcess],
        tripwire: _Trap,
        expiring: _Trap,
        progress: Progress,
    ) -> None:
        self.directory = directory
        self.processes = processes
        self.victim = processes[VICTIM]
        self.blocked = processes[BLOCKED]
        self.receiver = processes[RECEIVER]
        self.tripwire = tripwire
        self.expiring = expiring
        self.progress = progress
        self.ids: dict[str, str] = {}
        self.ready: dict[str, Event] = {}
        self.values: dict[str, Any] = {}

    async def run(self) -> Measurements:
        started = time.monotonic()
        await self._start()
        await self._round_1()
        await self._before_the_kill()
        await self._kill()
        await self._restart()
        await self._round_2()
        return self._measure(time.monotonic() - started, await self._stop())

    async def _start(self) -> None:
        self.progress(f"starting {len(self.processes)} node processes on 127.0.0.1")
        started = await asyncio.gather(
            *(p.start(timeout=STEP_TIMEOUT_S) for p in self.processes.values())
        )
        self.ready = dict(zip(self.processes, started, strict=True))
        self.ids = {name: event["peer"] for name, event in self.ready.items()}

    async def _round_1(self) -> None:
        self.progress(
            "round 1: the receiver queues envelopes for everyone before it knows their "
            "addresses; then every node learns the others' and sends to all but the receiver; "
            "the victim mints IDs"
        )
        names, ids = list(self.processes), self.ids
        _send(self.processes, ids, [(RECEIVER, to) for to in names if to != RECEIVER])
        await _all_sent(self.processes)
        first = {e["seq"] for e in _of(self.receiver, "sent")}
        await _snapshot_where(
            self.receiver.store,
            ids[RECEIVER],
            lambda s: {e.seq for e in _queued(s)} >= first,
            "the receiver's save of its first envelopes",
        )
        for name, process in self.processes.items():
            for other, event in self.ready.items():
                if other != name:
                    process.command(
                        cmd="peer", peer=event["peer"], addr=event["addr"], ttl=KEPT_TTL_S
                    )
        self.victim.command(cmd="mint", count=MINTS)
        _send(
            self.processes,
            ids,
            [(a, b) for a in names for b in names if RECEIVER not in (a, b) and a != b],
        )
        await _all_sent(self.processes)
        await _poll(
            lambda: _sent(self.processes, ids) <= set(_delivered(self.processes, ids)),
            "round 1 delivered",
        )

    async def _before_the_kill(self) -> None:
        self.progress(
            "the victim blocks a peer, which keeps sending; the receiver is killed; the victim "
            "backs off from two unreachable peers (one address kept for an hour, one for "
            f"{EXPIRING_TTL_S} s), queues envelopes for the receiver and mints more IDs"
        )
        victim, ids = self.victim, self.ids
        victim.command(cmd="block", peer=ids[BLOCKED])
        await victim.wait_for(lambda e: e["event"] == "blocked", "the block")
        self.values["blocked_since"] = len(self.blocked.events)
        self.blocked.command(cmd="send", to=ids[VICTIM], count=MESSAGES)
        await self.receiver.kill()
        self.values["unreachable"] = unreachable = str(Identity.generate().peer_id)
        self.values["expiring"] = gone = str(Identity.generate().peer_id)
        victim.command(
            cmd="peer", peer=unreachable, addr=await self.tripwire.start(), ttl=KEPT_TTL_S
        )
        victim.command(cmd="peer", peer=gone, addr=await self.expiring.start(), ttl=EXPIRING_TTL_S)
        since = len(victim.events)
        victim.command(cmd="send", to=unreachable, count=1)
        victim.command(cmd="send", to=gone, count=1)
        await _poll(
            lambda: bool(self.tripwire.dials and self.expiring.dials),
            "the victim's dials to the unreachable peers",
        )
        victim.command(cmd="send", to=ids[RECEIVER], count=MESSAGES)
        victim.command(cmd="mint", count=MINTS)
        await victim.wait_for(lambda e: e["event"] == "minted", "IDs", since=since)
        pending = {e["seq"] for e in _of(victim, "sent", since) if e["to"] == ids[RECEIVER]}
        minted = _of(victim, "minted")
        blocked_key = PeerId.from_string(ids[BLOCKED]).to_bytes()

        def holds(snapshot: TransientSnapshot) -> bool:
            framework = snapshot.framework
            waiting = {str(PeerId.from_bytes(entry.peer_id)) for entry in framework.backoff_table}
            return (
                blocked_key in framework.peer_governor.blocklist
                and {unreachable, gone} <= waiting
                and _address_expiry(snapshot, PeerId.from_string(gone)) is not None
                and {e.seq for e in _queued(snapshot)} >= pending
                and framework.next_command_id > max(max(e["command"]) for e in minted)
                and framework.next_exec_id > max(max(e["exec"]) for e in minted)
            )

        self.progress("waiting for the victim's autosave of that state")
        self.values["confirmed"] = await _snapshot_where(
            victim.store, ids[VICTIM], holds, "the victim's autosave of the state to check"
        )

    async def _kill(self) -> None:
        generation, snapshot = self.values["confirmed"]
        self.progress(
            f"killing the victim with SIGKILL after its autosave of generation {generation}"
        )
        self.values["kill_status"] = await self.victim.kill()
        self.values["killed_at"] = time.time_ns()
        self.values["dials_before_kill"] = tuple(self.tripwire.dials)
        self.values["expiring_dials_before_kill"] = tuple(self.expiring.dials)
        expiry = _address_expiry(snapshot, PeerId.from_string(self.values["expiring"]))
        self.values["expiry"] = expiry
        self.progress(
            "waiting, the victim down, until its saved address for the expiring peer has expired"
        )
        if expiry is not None:
            await asyncio.sleep(max(0.0, (expiry - time.time_ns()) / 1e9) + 0.5)

    async def _restart(self) -> None:
        self.progress(
            "restarting the victim from its newest snapshot, then the receiver from its own; "
            "the victim is told no address"
        )
        self.values["restarted"] = await self.victim.start(
            port=_port(self.ready[VICTIM]["addr"]), timeout=STEP_TIMEOUT_S
        )
        self.values["restarted_at"] = time.time_ns()
        self.values["receiver_restarted"] = await self.receiver.start(
            port=_port(self.ready[RECEIVER]["addr"]), timeout=STEP_TIMEOUT_S
        )
        self.values["blocked_at_restart"] = await self.blocked.request_state()

    async def _round_2(self) -> None:
        names, ids, victim = list(self.processes), self.ids, self.victim
        self.progress(
            "round 2: the victim sends to its live peers, finding them by PeerId; then every "
            "node sends again; waiting for the deliveries, the victim's redial of the "
            "unreachable peer and the blocked peer's attempts"
        )
        since = len(victim.events)
        victim.command(cmd="mint", count=MINTS)
        targets = [name for name in names if name not in (VICTIM, BLOCKED)]
        _send(self.processes, ids, [(VICTIM, to) for to in targets])
        await _all_sent(self.processes)
        victim_seqs = {e["seq"] for e in _of(victim, "sent", since)}
        to_reach = self.values["to_reach"] = {ids[name] for name in targets}

        def reached() -> set[str]:
            return {
                to
                for sender, to, seq in _delivered(self.processes, ids)
                if sender == ids[VICTIM] and seq in victim_seqs
            }

        await _settle(lambda: reached() >= to_reach)
        self.values["reached"] = reached()
        connections = (await victim.request_state())["connections"]
        self.values["dialled"] = {
            peer for peer, log in connections.items() if any(way == "out" for _, way in log)
        }
        _send(
            self.processes,
            ids,
            [(a, b) for a in names for b in names if a not in (b, VICTIM)],
        )
        await _all_sent(self.processes)
        await _settle(lambda: self._expected() <= set(_delivered(self.processes, ids)))
        killed_at = self.values["killed_at"]
        await _settle(lambda: any(at > killed_at for at in self.tripwire.dials))
        await asyncio.sleep(LATE_DIAL_S)  # a dial to the expiring peer would come about now
        dropped = _counter(self.values["restarted"], "host:duplicates_dropped")
        resent = self._resent()
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline and resent:
            state = await victim.request_state()
            if _counter(state, "host:duplicates_dropped") - dropped >= len(resent):
                break
            await asyncio.sleep(0.1)

    def _resent(self) -> tuple[int, ...]:
        """The envelopes to the victim the restored receiver held that the victim delivered
        before the kill: copies it must drop."""
        victim_id = self.ids[VICTIM]
        queued = {seq for to, seq in self.values["receiver_restarted"]["queued"] if to == victim_id}
        delivered_before = {
            e["seq"]
            for e in _of(self.victim, "delivered")
            if e["life"] == 0 and e["sender"] == self.ids[RECEIVER]
        }
        return tuple(sorted(queued & delivered_before))

    def _expected(self) -> set[MessageId]:
        """Every envelope sent between live nodes that policy allows."""
        ids = self.ids
        blocked_seqs = self._blocked_seqs()
        unreachable = {self.values["unreachable"], self.values["expiring"]}
        return {
            (sender, to, seq)
            for sender, to, seq in _sent(self.processes, ids)
            if to not in unreachable and not (sender == ids[BLOCKED] and seq in blocked_seqs)
        }

    def _blocked_seqs(self) -> set[int]:
        since = self.values["blocked_since"]
        return {e["seq"] for e in _of(self.blocked, "sent", since) if e["to"] == self.ids[VICTIM]}

    async def _stop(self) -> list[Event]:
        """Each node's last reported state, then a clean stop of every node."""
        states = [await process.request_state() for process in self.processes.values()]
        self.progress("stopping the nodes")
        for process in self.processes.values():
            await process.stop()
        return states

    def _measure(self, seconds: float, states: list[Event]) -> Measurements:
        ids, values, victim = self.ids, self.values, self.victim
        final = dict(zip(self.processes, states, strict=True))
        generation, snapshot = values["confirmed"]
        restarted = values["restarted"]
        killed_at, restarted_at = values["killed_at"], values["restarted_at"]
        delivered = _delivered(self.processes, ids)
        victim_life_1 = {e["seq"] for e in _of(victim, "sent") if e["life"] == 1}
        blocked_seqs = self._blocked_seqs()
        pending = tuple(e.seq for e in _queued(snapshot) if str(e.destination) == ids[RECEIVER])
        blocked_before, blocked_after = values["blocked_at_restart"], final[BLOCKED]
        failed_dials = max(
            0,
            blocked_after["failed_dials"].get(ids[VICTIM], 0)
            - blocked_before["failed_dials"].get(ids[VICTIM], 0),
        )
        blocked_out = [
            at
            for at, way in blocked_after["connections"].get(ids[VICTIM], [])
            if way == "out" and at > restarted_at
        ]
        gone = values["expiring"]
        restored_records = {
            peer: entry["record"]["seq"]
            for peer, entry in restarted["restored_peerstore"].items()
            if entry["record"] is not None and entry["record"]["verified"]
        }
        return Measurements(
            directory=self.directory,
            stores=tuple((name, process.store) for name, process in self.processes.items()),
            seconds=seconds,
            kill_status=values["kill_status"],
            killed_at_ns=killed_at,
            restarted_at_ns=restarted_at,
            confirmed_generation=generation,
            restored_generation=restarted["restored"],
            peer_before=ids[VICTIM],
            peer_after=tuple(sorted({restarted["peer"], restarted["host_peer"]})),
            senders_after=tuple(
                sorted({sender for sender, _, seq in delivered if seq in victim_life_1})
            ),
            ids_before=tuple(_ids(victim, 0).items()),
            ids_after=tuple(_ids(victim, 1).items()),
            blocked_in_restored_policy=ids[BLOCKED] in restarted["blocked"],
            sent_by_blocked_after_block=len(blocked_seqs),
            delivered_from_blocked_after_block=sum(
                sender == ids[BLOCKED] and seq in blocked_seqs for sender, _, seq in delivered
            ),
            blocked_dials_after_restart=failed_dials + len(blocked_out),
            blocked_connections_after_restart=len(blocked_out)
            + len(final[VICTIM]["connections"].get(ids[BLOCKED], [])),
            refused_at_connect_after_restart=_counter(final[VICTIM], "libp2p:inbound_refused")
            - _counter(restarted, "libp2p:inbound_refused"),
            backoff_deadline_ns=_backoff_deadline(
                snapshot, PeerId.from_string(values["unreachable"])
            ),
            dials_before_kill=values["dials_before_kill"],
            dials_after_restart=tuple(at for at in self.tripwire.dials if at > killed_at),
            expiry_ns=values["expiry"],
            expiring_dials_before_kill=values["expiring_dials_before_kill"],
            expiring_dials_after_restart=tuple(at for at in self.expiring.dials if at > killed_at),
            expiring_addresses_restored=len(
                restarted["restored_peerstore"].get(gone, {}).get("addrs", [])
            ),
            peers_to_reach=tuple(values["to_reach"]),
            peers_dialled=tuple(p for p in values["to_reach"] if p in values["dialled"]),
            peers_reached=tuple(p for p in values["to_reach"] if p in values["reached"]),
            addresses_told_after_restart=sum(
                e.get("cmd") == "peer" for e in victim.commands if e["life"] == 1
            ),
            records_saved=tuple(sorted(_signed_records(snapshot).items())),
            records_restored=tuple(sorted(restored_records.items())),
            pending=pending,
            pending_delivered_after_restart=tuple(
                event["seq"]
                for event in _of(self.receiver, "delivered")
                if event["life"] == 1 and event["sender"] == ids[VICTIM] and event["seq"] in pending
            ),
            expected=frozenset(self._expected()),
            delivered=tuple(delivered),
            resent=self._resent(),
            duplicates_dropped_by_victim=_counter(final[VICTIM], "host:duplicates_dropped")
            - _counter(restarted, "host:duplicates_dropped"),
        )
