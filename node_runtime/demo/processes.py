"""The orchestrator's handle on one demo node process (see `node_process`)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

Event = dict[str, Any]
NODE_COMMAND: Final = (sys.executable, "-m", "node_runtime.demo.node_process")
"""How a node process starts: its arguments follow (a test may run nodes through a wrapper)."""


class DemoError(Exception):
    """The run could not go on: a node exited early or something did not happen in time."""


class NodeProcess:
    """One node: its directory, its current process, and every event it reported, over all of
    its lives (each event carries `life`, 0 for the first process, 1 after a restart...)."""

    def __init__(
        self,
        name: str,
        directory: Path,
        *,
        backoff_s: float,
        autosave_s: float,
        command: Sequence[str] = NODE_COMMAND,
    ) -> None:
        self.name = name
        self.directory = directory
        self.events: list[Event] = []
        self.commands: list[Event] = []
        """Every command sent to it, with the `life` it went to."""
        self._backoff_s = backoff_s
        self._autosave_s = autosave_s
        self._command = tuple(command)
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._life = -1
        self._progress = asyncio.Event()

    @property
    def store(self) -> Path:
        return self.directory / "store"

    @property
    def log(self) -> Path:
        return self.directory / "node.log"

    async def start(self, port: int = 0, timeout: float = 30.0) -> Event:
        """Start a new process for this node (restoring from its store); its `ready` event."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._life += 1
        with self.log.open("ab") as log:  # the child keeps its own descriptor
            self._process = await asyncio.create_subprocess_exec(
                *self._command,
                str(self.directory),
                f"--port={port}",
                f"--backoff={self._backoff_s}",
                f"--autosave={self._autosave_s}",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        self._reader = asyncio.create_task(self._read(self._process, self._life))
        life = self._life
        return await self.wait_for(
            lambda e: e["event"] == "ready" and e["life"] == life, f"{self.name} ready", timeout
        )

    async def _read(self, process: asyncio.subprocess.Process, life: int) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            self.events.append({**json.loads(line), "life": life})
            self._wake()
        await process.wait()
        self._wake()

    def _wake(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def command(self, **command: object) -> None:
        if self._process is None or self._process.stdin is None or not self.running:
            raise DemoError(f"{self.name} is not running (see {self.log})")
        self.commands.append({**command, "life": self._life})
        self._process.stdin.write(json.dumps(command).encode() + b"\n")

    async def wait_for(
        self,
        predicate: Callable[[Event], bool],
        what: str,
        timeout: float = 10.0,
        since: int = 0,
    ) -> Event:
        """The first event from `events[since:]` (any life) matching `predicate`, waiting up to
        `timeout` s for it."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for event in self.events[since:]:
                        if predicate(event):
                            return event
                    if self._reader is None or self._reader.done():  # all output read
                        raise DemoError(f"{self.name} exited before: {what} (see {self.log})")
                    await self._progress.wait()
        except TimeoutError:
            raise DemoError(f"timed out after {timeout} s waiting for: {what}") from None

    async def request_state(self, timeout: float = 5.0) -> Event:
        """The node's current state, as it reports it (a fresh `state` event)."""
        seen = len(self.events)
        self.command(cmd="state")
        return await self.wait_for(
            lambda e: e["event"] == "state", f"{self.name} state", timeout, since=seen
        )

    async def kill(self) -> int:
        """SIGKILL the process: no handler, no final save. Its exit status (-9)."""
        if self._process is None:
            raise DemoError(f"{self.name} was never started")
        self._process.kill()
        return await self._process.wait()

    async def stop(self, timeout: float = 10.0) -> None:
        """A clean stop (the node's final save); killed if it does not stop in time."""
        if not self.running:
            return
        seen = len(self.events)  # a life stopped earlier reported `stopped` too
        self.command(cmd="stop")
        try:
            await self.wait_for(
                lambda e: e["event"] == "stopped", f"{self.name} stopped", timeout, since=seen
            )
        finally:
            await self.abort()

    async def abort(self) -> None:
        """Make sure no process is left behind (errors, Ctrl-C), and read what it wrote."""
        if self.running:
            assert self._process is not None
            self._process.kill()
            await self._process.wait()
        if self._reader is not None:
            try:
                async with asyncio.timeout(5.0):
                    await self._reader
            except TimeoutError:
                self._reader.cancel()
