"""The same kill-and-restore scenario, persisted by py-libp2p's own SQLite peerstore and by
nodesnap, case by case.

A subprocess runs a py-libp2p host whose peerstore holds one peer per case (see
`kill_restore_scenario.py`), makes its state durable and is SIGKILLed; a fresh process restores
it. What the SQLite store loses is asserted as an observed fact about py-libp2p 0.8's store, so
a py-libp2p release that fixes one fails here and the comparison in docs/libp2p.md is revisited.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hang_guard import deadline
from kill_restore_scenario import HOST_SEED, METADATA, PROTOCOLS, address

SCENARIO = Path(__file__).with_name("kill_restore_scenario.py")
BACKENDS = ("sqlite",)


def _start(phase: str, backend: str, directory: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCENARIO), phase, backend, str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when_durable(host: subprocess.Popen[str]) -> None:
    assert host.stdout is not None
    try:
        with deadline(60):
            line = host.stdout.readline()
    finally:
        host.send_signal(signal.SIGKILL)
        _, errors = host.communicate(timeout=10)
    assert line == "durable\n", errors
    assert host.returncode == -signal.SIGKILL


def _observations(host: subprocess.Popen[str]) -> dict[str, Any]:
    output, errors = host.communicate(timeout=60)
    assert host.returncode == 0, errors
    observed: dict[str, Any] = json.loads(output)
    return observed


@dataclass(frozen=True)
class Restored:
    directory: Path
    """The backend's files after the restore."""
    cases: dict[str, Any]
    """What the restored host said about each case's peer."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Restored]:
    """Each backend's run of the scenario: a populate process SIGKILLed once its state is
    durable, then a restore process. The backends run side by side."""
    directories = {backend: tmp_path_factory.mktemp(backend) for backend in BACKENDS}
    populating = {b: _start("populate", b, directories[b]) for b in BACKENDS}
    for host in populating.values():
        _kill_when_durable(host)
    restoring = {b: _start("restore", b, directories[b]) for b in BACKENDS}
    return {b: Restored(directories[b], _observations(host)) for b, host in restoring.items()}


@pytest.fixture(scope="module")
def restored(runs: dict[str, Restored]) -> dict[str, dict[str, Any]]:
    return {backend: run.cases for backend, run in runs.items()}


def _files_hold(directory: Path, secret: bytes) -> bool:
    return any(secret in path.read_bytes() for path in directory.rglob("*") if path.is_file())


def test_a_plain_peer_comes_back_from_sqlite(restored: dict[str, dict[str, Any]]) -> None:
    # The baseline: the store does persist and restore; what follows is what it loses.
    control = restored["sqlite"]["control"]
    assert control["listed"]
    assert control["addrs"] == [str(address("control"))]
    assert control["pubkey"]
    assert control["protocols"] == sorted(PROTOCOLS)


def test_sqlite_brings_addresses_with_a_ttl_back_permanent(
    restored: dict[str, dict[str, Any]],
) -> None:
    ttl = restored["sqlite"]["ttl"]
    assert ttl["addrs"] == [str(address("ttl"))]
    assert ttl["ttl"] == 0  # was ADDRESS_TTL_S: the address now never expires


def test_sqlite_brings_cleared_addresses_back(restored: dict[str, dict[str, Any]]) -> None:
    cleared = restored["sqlite"]["cleared"]
    assert cleared["addrs"] == [str(address("cleared"))]


def test_sqlite_turns_metadata_into_strings(restored: dict[str, dict[str, Any]]) -> None:
    metadata = restored["sqlite"]["metadata"]["metadata"]
    assert metadata == {key: ["str", str(value)] for key, value in METADATA.items()}


def test_sqlite_brings_a_signed_record_back_as_a_placeholder_that_cannot_be_read(
    restored: dict[str, dict[str, Any]],
) -> None:
    signed = restored["sqlite"]["signed_record"]
    assert sorted(signed["addrs"]) == [
        str(address("signed_record", 4001)),
        str(address("signed_record", 4002)),
    ]
    assert signed["signed_record"] == {"error": "ValueError"}


def test_sqlite_forgets_a_peer_without_addresses(restored: dict[str, dict[str, Any]]) -> None:
    no_addresses = restored["sqlite"]["no_addresses"]
    assert not no_addresses["listed"]  # peer_ids() enumerates address rows only
    # Its key is still on disk, found only by whoever already knows the PeerId.
    assert no_addresses["pubkey"]


def test_sqlite_forgets_the_dial_backoff(restored: dict[str, dict[str, Any]]) -> None:
    unreachable = restored["sqlite"]["unreachable"]
    assert not unreachable["in_backoff"]
    assert unreachable["dial"] == "dialled"  # the restored host dials the failing peer again


def test_sqlite_writes_the_hosts_private_key_to_disk(runs: dict[str, Restored]) -> None:
    # The host's own key pair is in its peerstore, and this store persists private keys.
    assert _files_hold(runs["sqlite"].directory, HOST_SEED)
