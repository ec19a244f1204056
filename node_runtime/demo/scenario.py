"""The demo's run: start the nodes, exchange envelopes, SIGKILL the victim, restore it, and
record what happened (`Measurements`). Nothing here judges; `report` does.

The cast, one OS process each, all on 127.0.0.1:
- `victim`: blocks `blocked`, backs off from an unreachable peer, queues envelopes for
  `receiver` while it is down, mints IDs; then is killed with SIGKILL and restarted from its
  newest snapshot on the same port;
- `blocked`: keeps sending to the victim, before the kill and after the restart;
- `receiver`: stopped (cleanly) while the victim queues envelopes for it, started again after
  the victim's restart;
- `peer4`, ...: further nodes (`--nodes`) that exchange envelopes with everyone;
- an unreachable peer: not a process but a listener of the orchestrator's that records when
  each dial arrives and hangs up, so the victim's dials to it fail (backoff) and are timed
  from outside the victim.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

import attrs

from node_runtime.demo.processes import DemoError, Event, NodeProcess
from node_runtime.directory_store import DirectoryStore
from node_runtime.host import Envelope
from node_runtime.identity import Identity
from node_runtime.peer_id import PeerId
from node_runtime.storage_errors import StoreError
from snapshot_schema import SnapshotError, TransientSnapshot

VICTIM, BLOCKED, RECEIVER = "victim", "blocked", "receiver"
# The victim retries a failed peer after 3 s: long enough to outlast its own kill and restart,
# so the restored deadline is still ahead. The others retry every 0.5 s, so the blocked peer
# knocks on the victim's door often. Autosave every second; sends, deliveries and policy
# changes ask for a save at once anyway.
VICTIM_BACKOFF_S: Final = 3.0
PEER_BACKOFF_S: Final = 0.5
AUTOSAVE_S: Final = 1.0
MESSAGES: Final = 3  # per sender and destination, per round
MINTS: Final = 3  # command and exec IDs the victim mints per round
RUN_TIMEOUT_S: Final = 50.0
STEP_TIMEOUT_S: Final = 15.0

MessageId = tuple[str, str, int]  # (sender, destination, seq)
Progress = Callable[[str], None]
"""Told what the run is about to do, as it starts each phase."""


@attrs.frozen
class Measurements:
    """What the run observed; wall times in ns since the epoch."""

    directory: Path
    stores: tuple[tuple[str, Path], ...]
    seconds: float
    # The victim's identity across the kill.
    peer_before: str
    peer_after: str
    kill_status: int
    killed_at_ns: int
    confirmed_generation: int  # the snapshot seen on disk before the kill
    restored_generation: int | None
    # IDs minted by the victim before the kill and after the restart, by kind.
    ids_before: tuple[tuple[str, tuple[int, ...]], ...]
    ids_after: tuple[tuple[str, tuple[int, ...]], ...]
    # The blocked peer.
    blocked_in_restored_policy: bool
    refusals_after_restart: int
    sent_by_blocked_after_block: int
    delivered_from_blocked_after_block: int
    # The unreachable peer's backoff.
    backoff_deadline_ns: int | None  # in the confirmed snapshot
    dials_before_kill: tuple[int, ...]
    dials_after_restart: tuple[int, ...]
    # Envelopes queued for the receiver in the confirmed snapshot, and their deliveries.
    pending: tuple[int, ...]
    pending_delivered_after_restart: tuple[int, ...]
    # Every envelope between live nodes that policy allows, and every delivery.
    expected: frozenset[MessageId]
    delivered: tuple[MessageId, ...]
    duplicates_dropped: int


class _Tripwire:
    """The unreachable peer: accepts each TCP connection, notes when, and hangs up before the
    handshake, so the dialer records a failed dial."""

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
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout} s waiting for: {what}")
        await asyncio.sleep(0.02)


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


def _exchange(processes: dict[str, NodeProcess], ids: dict[str, str], skip: set[str]) -> None:
    """Every running node sends `MESSAGES` envelopes to every other, except `skip` pairs
    (written "sender>destination")."""
    for name, process in processes.items():
        for other in processes:
            if other != name and f"{name}>{other}" not in skip:
                process.command(cmd="send", to=ids[other], count=MESSAGES)


async def _all_sent(processes: dict[str, NodeProcess]) -> None:
    """Return once every node has reported the sends it was told to make: a node obeys its
    commands in order, so its answer to a later `state` command comes after them."""
    for process in processes.values():
        await process.request_state()


def _snapshot_holds(
    snapshot: TransientSnapshot,
    blocked: PeerId,
    unreachable: PeerId,
    pending: Iterable[int],
    minted: list[Event],
) -> bool:
    """Whether the victim's state to check after the kill is all in `snapshot`."""
    framework = snapshot.framework
    queued = {Envelope.decode(entry.envelope_bytes).seq for entry in framework.pending_outbound}
    return (
        blocked.to_bytes() in framework.peer_governor.blocklist
        and any(entry.peer_id == unreachable.to_bytes() for entry in framework.backoff_table)
        and queued.issuperset(pending)
        and framework.next_command_id > max(max(e["command"]) for e in minted)
        and framework.next_exec_id > max(max(e["exec"]) for e in minted)
    )


async def _confirmed_snapshot(
    store: Path, victim: PeerId, holds: Callable[[TransientSnapshot], bool]
) -> tuple[int, TransientSnapshot]:
    """The generation and content of the victim's newest snapshot once it holds what the
    checks need: as with a real autosave interval, the kill comes after the save."""
    found: list[tuple[int, TransientSnapshot]] = []

    def saved() -> bool:
        try:
            with DirectoryStore(store, expected_signer=victim, read_only=True) as reader:
                latest = reader.latest()
        except (StoreError, SnapshotError, OSError):
            return False  # caught mid-retention, say: look again
        if latest is None or not holds(latest.snapshot):
            return False
        found.append((latest.ref.generation, latest.snapshot))
        return True

    await _poll(saved, "the victim's autosave of the state to check")
    return found[-1]


def _ids(process: NodeProcess, life: int, victim_seqs: list[int]) -> dict[str, tuple[int, ...]]:
    minted = [event for event in _of(process, "minted") if event["life"] == life]
    return {
        "command": tuple(i for event in minted for i in event["command"]),
        "exec": tuple(i for event in minted for i in event["exec"]),
        "envelope seq": tuple(victim_seqs),
    }


async def run(directory: Path, nodes: int, progress: Progress) -> Measurements:
    """Run the scenario with `nodes` (at least 3) node processes under `directory`, telling
    `progress` each phase as it starts."""
    names = [VICTIM, BLOCKED, RECEIVER, *(f"peer{n}" for n in range(4, nodes + 1))]
    processes = {
        name: NodeProcess(
            name,
            directory / name,
            backoff_s=VICTIM_BACKOFF_S if name == VICTIM else PEER_BACKOFF_S,
            autosave_s=AUTOSAVE_S,
        )
        for name in names
    }
    tripwire = _Tripwire()
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            return await _run(directory, processes, tripwire, progress)
    except TimeoutError:
        raise DemoError(f"the run took over {RUN_TIMEOUT_S} s") from None
    finally:
        for process in processes.values():
            await process.abort()
        tripwire.close()


def _wall_deadline(snapshot: TransientSnapshot, peer: PeerId) -> int | None:
    """When, on the wall clock, `snapshot` lets `peer` be retried (`None`: no backoff)."""
    taken = snapshot.taken_at
    return next(
        (
            taken.wall_ns + entry.next_retry_ns - taken.monotonic_ns
            for entry in snapshot.framework.backoff_table
            if entry.peer_id == peer.to_bytes()
        ),
        None,
    )


async def _stop(processes: dict[str, NodeProcess], progress: Progress) -> list[Event]:
    """Each node's last reported state, then a clean stop of every node."""
    states = [await process.request_state() for process in processes.values()]
    progress("stopping the nodes")
    for process in processes.values():
        await process.stop()
    return states


async def _start(
    processes: dict[str, NodeProcess], tripwire: _Tripwire, progress: Progress
) -> tuple[dict[str, Event], PeerId]:
    """Start every node and introduce them to each other, and the victim to the unreachable
    peer: each node's `ready` event, and the unreachable PeerId."""
    progress(f"starting {len(processes)} node processes on 127.0.0.1")
    ready = dict(
        zip(processes, await asyncio.gather(*(p.start() for p in processes.values())), strict=True)
    )
    for name, process in processes.items():
        for other, event in ready.items():
            if other != name:
                process.command(cmd="peer", peer=event["peer"], addr=event["addr"])
    unreachable = Identity.generate().peer_id  # nobody holds this key: no dial can succeed
    processes[VICTIM].command(cmd="peer", peer=str(unreachable), addr=await tripwire.start())
    return ready, unreachable


async def _run(
    directory: Path, processes: dict[str, NodeProcess], tripwire: _Tripwire, progress: Progress
) -> Measurements:
    started = time.monotonic()
    victim, blocked, receiver = processes[VICTIM], processes[BLOCKED], processes[RECEIVER]
    ready, unreachable = await _start(processes, tripwire, progress)
    ids = {name: event["peer"] for name, event in ready.items()}

    # Round 1: everyone talks to everyone; the victim mints IDs.
    progress("round 1: every node sends envelopes to every other; the victim mints IDs")
    victim.command(cmd="mint", count=MINTS)
    _exchange(processes, ids, skip=set())
    await _all_sent(processes)
    await _poll(
        lambda: _sent(processes, ids) <= set(_delivered(processes, ids)),
        "round 1 delivered",
    )

    # The victim blocks a peer, which keeps sending; the receiver goes down and the victim
    # queues envelopes for it; the victim fails to reach the unreachable peer; more IDs.
    progress(
        "the victim blocks a peer, queues envelopes for the stopped receiver, backs off from "
        "an unreachable peer and mints more IDs"
    )
    victim.command(cmd="block", peer=ids[BLOCKED])
    await victim.wait_for(lambda e: e["event"] == "blocked", "the block")
    blocked_since = len(blocked.events)
    blocked.command(cmd="send", to=ids[VICTIM], count=MESSAGES)
    await receiver.stop()
    victim_since = len(victim.events)
    victim.command(cmd="send", to=ids[RECEIVER], count=MESSAGES)
    victim.command(cmd="send", to=str(unreachable), count=1)
    victim.command(cmd="mint", count=MINTS)
    await victim.wait_for(lambda e: e["event"] == "minted", "IDs", since=victim_since)
    pending = [e["seq"] for e in _of(victim, "sent", victim_since) if e["to"] == ids[RECEIVER]]
    await _poll(lambda: bool(tripwire.dials), "the victim's dial to the unreachable peer")
    progress("waiting for the victim's autosave of that state")
    generation, snapshot = await _confirmed_snapshot(
        victim.store,
        PeerId.from_string(ids[VICTIM]),
        lambda s: _snapshot_holds(
            s, PeerId.from_string(ids[BLOCKED]), unreachable, pending, _of(victim, "minted")
        ),
    )

    progress(f"killing the victim with SIGKILL after its autosave of generation {generation}")
    kill_status = await victim.kill()
    killed_at = time.time_ns()
    dials_before_kill = tuple(tripwire.dials)
    deadline = _wall_deadline(snapshot, unreachable)
    queued = [Envelope.decode(e.envelope_bytes) for e in snapshot.framework.pending_outbound]
    pending_in_snapshot = tuple(e.seq for e in queued if str(e.destination) == ids[RECEIVER])

    # Restart the victim from its store, then the receiver; round 2, minus the victim's
    # envelopes to the peer it blocked (they would wait forever).
    progress("restarting the victim from its newest snapshot, then the receiver")
    restarted = await victim.start(port=_port(ready[VICTIM]["addr"]))
    await receiver.start(port=_port(ready[RECEIVER]["addr"]))
    progress(
        "round 2: every node sends again; waiting for every delivery, the victim's redial of "
        "the unreachable peer and its refusal of the blocked one"
    )
    victim_since = len(victim.events)
    victim.command(cmd="mint", count=MINTS)
    _exchange(processes, ids, skip={f"{VICTIM}>{BLOCKED}"})
    await _all_sent(processes)

    blocked_seqs = {e["seq"] for e in _of(blocked, "sent", blocked_since) if e["to"] == ids[VICTIM]}

    def expected() -> set[MessageId]:
        return {
            (sender, to, seq)
            for sender, to, seq in _sent(processes, ids)
            if to != str(unreachable) and not (sender == ids[BLOCKED] and seq in blocked_seqs)
        }

    await _poll(lambda: expected() <= set(_delivered(processes, ids)), "round 2 delivered")
    await _poll(
        lambda: any(at > killed_at for at in tripwire.dials),
        "the victim's redial of the unreachable peer",
    )
    refused = "host:refused:blocked"
    refused_at_restart = restarted["counters"].get(refused, 0)
    while (state := await victim.request_state())["counters"].get(refused, 0) <= refused_at_restart:
        await asyncio.sleep(0.1)  # bounded by the run's timeout
    states = await _stop(processes, progress)

    delivered = _delivered(processes, ids)
    victim_seqs = _of(victim, "sent")
    return Measurements(
        directory=directory,
        stores=tuple((name, process.store) for name, process in processes.items()),
        seconds=time.monotonic() - started,
        peer_before=ids[VICTIM],
        peer_after=restarted["peer"],
        kill_status=kill_status,
        killed_at_ns=killed_at,
        confirmed_generation=generation,
        restored_generation=restarted["restored"],
        ids_before=tuple(
            _ids(victim, 0, [e["seq"] for e in victim_seqs if e["life"] == 0]).items()
        ),
        ids_after=tuple(_ids(victim, 1, [e["seq"] for e in victim_seqs if e["life"] == 1]).items()),
        blocked_in_restored_policy=ids[BLOCKED] in restarted["blocked"],
        refusals_after_restart=state["counters"].get(refused, 0) - refused_at_restart,
        sent_by_blocked_after_block=len(blocked_seqs),
        delivered_from_blocked_after_block=sum(
            sender == ids[BLOCKED] and seq in blocked_seqs for sender, _, seq in delivered
        ),
        backoff_deadline_ns=deadline,
        dials_before_kill=dials_before_kill,
        dials_after_restart=tuple(at for at in tripwire.dials if at > killed_at),
        pending=pending_in_snapshot,
        pending_delivered_after_restart=tuple(
            event["seq"]
            for event in _of(receiver, "delivered")
            if event["life"] == 1
            and event["sender"] == ids[VICTIM]
            and event["seq"] in pending_in_snapshot
        ),
        expected=frozenset(expected()),
        delivered=tuple(delivered),
        duplicates_dropped=sum(s["counters"].get("host:duplicates_dropped", 0) for s in states),
    )
