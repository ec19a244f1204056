"""The same kill-and-restore scenario, persisted by py-libp2p's own SQLite peerstore and by
nodesnap, case by case.

A subprocess runs a py-libp2p host whose peerstore holds one peer per case (see
`kill_restore_scenario.py`), makes its state durable and is SIGKILLed; a fresh process restores
it. What the SQLite store loses is asserted as an observed fact about py-libp2p 0.8's store, so
a py-libp2p release that fixes one fails here and the comparison is revisited.
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
from kill_restore_scenario import (
    ADDRESS_TTL_S,
    HOST_SEED,
    METADATA,
    PROTOCOLS,
    RECORD_ADDRESSES,
    RECORD_SEQ,
    address,
    peer_id,
)

SCENARIO = Path(__file__).with_name("kill_restore_scenario.py")
BACKENDS = ("sqlite", "nodesnap")


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


def test_a_plain_peer_comes_back_from_both(restored: dict[str, dict[str, Any]]) -> None:
    # The baseline: both persist and restore; what follows is what SQLite loses.
    for backend in BACKENDS:
        control = restored[backend]["control"]
        assert control["listed"], backend
        assert control["addrs"] == [str(address("control"))], backend
        assert control["ttl"] == 0, backend
        assert control["pubkey"], backend
        assert control["protocols"] == sorted(PROTOCOLS), backend


def test_sqlite_brings_addresses_with_a_ttl_back_permanent_nodesnap_keeps_their_time(
    restored: dict[str, dict[str, Any]],
) -> None:
    sqlite, nodesnap = restored["sqlite"]["ttl"], restored["nodesnap"]["ttl"]
    assert sqlite["addrs"] == nodesnap["addrs"] == [str(address("ttl"))]
    assert sqlite["ttl"] == 0  # was ADDRESS_TTL_S: the address now never expires
    # The time it had left: the TTL less the seconds between the save and the restore.
    assert ADDRESS_TTL_S - 60 <= nodesnap["ttl"] <= ADDRESS_TTL_S


def test_sqlite_brings_cleared_addresses_back_nodesnap_keeps_them_cleared(
    restored: dict[str, dict[str, Any]],
) -> None:
    sqlite, nodesnap = restored["sqlite"]["cleared"], restored["nodesnap"]["cleared"]
    assert sqlite["addrs"] == [str(address("cleared"))]
    assert nodesnap["addrs"] == []
    # The peer itself, with its key, is still known to both.
    assert sqlite["pubkey"]
    assert nodesnap["pubkey"]


def test_sqlite_turns_metadata_into_strings_nodesnap_keeps_their_types(
    restored: dict[str, dict[str, Any]],
) -> None:
    sqlite = restored["sqlite"]["metadata"]["metadata"]
    nodesnap = restored["nodesnap"]["metadata"]["metadata"]
    assert sqlite == {key: ["str", str(value)] for key, value in METADATA.items()}
    assert nodesnap == {key: [type(value).__name__, value] for key, value in METADATA.items()}


def test_sqlite_brings_a_signed_record_back_as_a_placeholder_nodesnap_as_the_verified_record(
    restored: dict[str, dict[str, Any]],
) -> None:
    sqlite = restored["sqlite"]["signed_record"]
    nodesnap = restored["nodesnap"]["signed_record"]
    record_addresses = sorted(map(str, RECORD_ADDRESSES))
    # Both have the record's addresses; only nodesnap has the record.
    assert sorted(sqlite["addrs"]) == sorted(nodesnap["addrs"]) == record_addresses
    assert sqlite["signed_record"] == {"error": "ValueError"}  # what `record()` raises
    assert nodesnap["signed_record"] == {
        "peer_id": str(peer_id("signed_record")),
        "addrs": record_addresses,
        "seq": RECORD_SEQ,
        "signer_matches": True,
    }


def test_sqlite_forgets_a_peer_without_addresses_nodesnap_keeps_it(
    restored: dict[str, dict[str, Any]],
) -> None:
    sqlite = restored["sqlite"]["no_addresses"]
    nodesnap = restored["nodesnap"]["no_addresses"]
    assert not sqlite["listed"]  # peer_ids() enumerates address rows only
    # Its key is still on disk, found only by whoever already knows the PeerId.
    assert sqlite["pubkey"]
    assert nodesnap["listed"]
    assert nodesnap["pubkey"]
    assert nodesnap["protocols"] == sorted(PROTOCOLS)


def test_sqlite_forgets_the_dial_backoff_nodesnap_keeps_it(
    restored: dict[str, dict[str, Any]],
) -> None:
    sqlite = restored["sqlite"]["unreachable"]
    nodesnap = restored["nodesnap"]["unreachable"]
    assert not sqlite["in_backoff"]
    assert sqlite["dial"] == "dialled"  # the restored host dials the failing peer again
    assert nodesnap["in_backoff"]
    assert nodesnap["dial"] == "backoff"  # refused by the dial backoff, not tried


def test_sqlite_writes_the_hosts_private_key_to_disk_nodesnap_does_not(
    runs: dict[str, Restored],
) -> None:
    # The host's own key pair is in its peerstore; the SQLite store persists private keys.
    assert _files_hold(runs["sqlite"].directory, HOST_SEED)
    assert not _files_hold(runs["nodesnap"].directory, HOST_SEED)
