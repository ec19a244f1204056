"""The nodesnap pytest plugin, loaded through the `pytest11` entry point once nodesnap is
installed: fixtures for a clock, an identity and a snapshot store, and a failing `==` between
two snapshots explained by `snapshot_diff` instead of two walls of repr.

A fixture of the same name in a host's conftest.py takes precedence over these.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node_runtime.clock import ManualClock
from node_runtime.directory_store import DirectoryStore
from node_runtime.identity import Identity
from node_runtime.testing.diff import format_diff, snapshot_diff
from snapshot_schema import TransientSnapshot

_S = 1_000_000_000


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock that moves only when told to, at a plausible instant (late 2025)."""
    return ManualClock(monotonic_ns=1_000 * _S, wall_ns=1_764_000_000 * _S)


@pytest.fixture
def node_identity() -> Identity:
    """The same Ed25519 identity in every test, so snapshots and files are reproducible."""
    return Identity.from_private_bytes(bytes([7]) * 32)


@pytest.fixture
def snapshot_store(tmp_path: Path) -> Iterator[DirectoryStore]:
    """A `DirectoryStore` in the test's temporary directory, closed afterwards. Without fsync:
    a test needs no power-loss durability, and it is much faster."""
    with DirectoryStore(tmp_path / "snapshots", fsync=False) as store:
        yield store


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    if op == "==" and isinstance(left, TransientSnapshot) and isinstance(right, TransientSnapshot):
        return [
            "snapshots differ",
            *format_diff(snapshot_diff(left, right), labels=("left", "right")).splitlines(),
        ]
    return None
