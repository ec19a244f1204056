"""One demo node as its own OS process: `python -m node_runtime.demo.node_process DIR ...`.

The node keeps its identity in `DIR/identity.key` and its signed snapshots in `DIR/store/`;
at start it restores from the newest snapshot there, if any, exactly as a real node would after
a crash. It autosaves with a `Checkpointer` and talks to its peers through a `Host`.

Commands arrive as JSON lines on stdin, events leave as JSON lines on stdout (each with its wall
time `at`, ns), so the orchestrator measures from what the node did, not from what it was told:

    {"cmd": "peer", "peer": ID, "addr": MULTIADDR}     learn an address
    {"cmd": "send", "to": ID, "count": N}              -> N x {"event": "sent", "to", "seq"}
    {"cmd": "block", "peer": ID}                       -> {"event": "blocked", "peer"}
    {"cmd": "mint", "count": N}                        -> {"event": "minted", "command", "exec"}
    {"cmd": "state"}                                   -> {"event": "state", ...}
    {"cmd": "stop"}                                    clean stop (final save) -> "stopped"

Unprompted: {"event": "ready", "addr", "restored", ...state} once listening, and
{"event": "delivered", "sender", "seq"} for each message the host puts in its inbox. End of
stdin (the orchestrator died) stops the node too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Final

from node_runtime.backoff import BackoffPolicy
from node_runtime.checkpointer import Checkpointer
from node_runtime.directory_store import DirectoryStore
from node_runtime.host import Host
from node_runtime.identity import Identity
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.peer_id import PeerId

# Demo timings, so a run takes seconds: a restart staggers expired deadlines over 1 s, not 30 s.
# The failure threshold is the default: peers that go down are probed on their backoff schedule.
RESTART_STAGGER_NS: Final = 1_000_000_000
COOLDOWN_S: Final = 0.05
DIAL_TIMEOUT_S: Final = 1.0


def _emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, "at": time.time_ns(), **fields}) + "\n")
    sys.stdout.flush()


def _identity(path: Path) -> Identity:
    if path.exists():
        return Identity.load(path)
    identity = Identity.generate()
    identity.save(path)
    return identity


def _state(node: Node) -> dict[str, object]:
    """What the orchestrator checks; backoff deadlines as wall times, comparable across
    processes (a monotonic clock's origin is private to a process)."""
    mono, wall = node.clock.monotonic_ns(), node.clock.wall_ns()
    return {
        "peer": str(node.peer_id),
        "blocked": sorted(str(PeerId.from_bytes(key)) for key in node.governor.blocklist),
        "backoff": {
            str(PeerId.from_bytes(key)): wall + state.next_retry_ns - mono
            for key, state in node.backoff.items()
        },
        "counters": dict(node.counters.items()),
        "outbound": len(node.outbound),
        "next_command_id": node.command_ids.next_id,
        "next_exec_id": node.exec_ids.next_id,
    }


async def _report_deliveries(host: Host) -> None:
    while True:
        message = await host.inbox.get()
        _emit("delivered", sender=str(message.sender), seq=message.seq)


async def _commands() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _obey(host: Host, command: dict[str, object]) -> None:
    node = host.node
    match command:
        case {"cmd": "peer", "peer": str(peer), "addr": str(addr)}:
            host.add_peer_address(PeerId.from_string(peer), Multiaddr.from_string(addr))
        case {"cmd": "send", "to": str(to), "count": int(count)}:
            for index in range(count):
                seq = host.send(PeerId.from_string(to), f"demo message {index}".encode())
                _emit("sent", to=to, seq=seq)
        case {"cmd": "block", "peer": str(peer)}:
            node.governor.block(PeerId.from_string(peer).to_bytes())  # autosaved at once
            _emit("blocked", peer=peer)
        case {"cmd": "mint", "count": int(count)}:
            commands = [node.command_ids.mint() for _ in range(count)]
            _emit("minted", command=commands, exec=[node.exec_ids.mint() for _ in range(count)])
        case {"cmd": "state"}:
            _emit("state", **_state(node))
        case _:
            raise ValueError(f"unknown command {command!r}")


async def run(directory: Path, port: int, backoff_s: float, autosave_s: float) -> None:
    identity = _identity(directory / "identity.key")
    delay = round(backoff_s * 1e9)
    # A constant retry delay, no jitter: the demo checks a deadline it can predict.
    policy = BackoffPolicy(base_ns=delay, cap_ns=delay, multiplier=1, jitter=0.0)
    with DirectoryStore(directory / "store", signer=identity) as store:
        latest = store.latest()
        if latest is None:
            node = Node(identity, backoff_policy=policy)
        else:
            node = Node.restore(
                latest.snapshot,
                identity,
                backoff_policy=policy,
                restart_stagger_ns=RESTART_STAGGER_NS,
            )
        checkpointer = Checkpointer(node, store, interval=autosave_s, cooldown=COOLDOWN_S)
        host = Host(node, checkpointer=checkpointer, dial_timeout=DIAL_TIMEOUT_S)
        address = await host.start(Multiaddr.from_string(f"/ip4/127.0.0.1/tcp/{port}"))
        restored = None if latest is None else latest.ref.generation
        _emit("ready", addr=str(address), restored=restored, **_state(node))
        deliveries = asyncio.create_task(_report_deliveries(host))
        commands = await _commands()
        try:
            while line := await commands.readline():
                command = json.loads(line)
                if command == {"cmd": "stop"}:
                    break
                _obey(host, command)
        finally:
            deliveries.cancel()
            await host.stop()
    _emit("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description="one node of `nodesnap demo`")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backoff", type=float, required=True, metavar="SECONDS")
    parser.add_argument("--autosave", type=float, required=True, metavar="SECONDS")
    args = parser.parse_args()
    # stderr goes to the node's node.log: what the host did (failed handshakes, refusals).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(args.directory, args.port, args.backoff, args.autosave))


if __name__ == "__main__":
    main()
