"""Pytest fixtures for tests that need a real S3 server, registered for the whole suite by
tests/conftest.py: `seaweed` (one SeaweedFS server per session, started on first use),
`s3_bucket` (a fresh bucket per test) and `fault_proxy` (a `FaultProxy` in front of the server).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from storage.fault_proxy import FaultProxy
from storage.seaweed import HOST, SeaweedServer

if TYPE_CHECKING:
    from obstore.store import S3Store

_BUCKET_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class S3Bucket:
    """A bucket no other test uses, and `store`, an obstore `S3Store` for it at the server
    (5 s timeout, 2 retries)."""

    server: SeaweedServer
    name: str
    store: S3Store = field(repr=False)

    def store_at(self, endpoint: str, *, timeout: str = "5s", max_retries: int = 2) -> S3Store:
        """A store for this bucket reached through `endpoint` (a `FaultProxy`'s, say)."""
        return self.server.s3_store(
            self.name, endpoint=endpoint, timeout=timeout, max_retries=max_retries
        )


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """The session's SeaweedFS server, started when a test first asks for it (about 4 s),
    stopped when the session ends. A test that `kill()`s it should `restart()` it (the next
    `s3_bucket` does otherwise)."""
    server = SeaweedServer()
    try:
        server.start(tmp_path_factory.mktemp("seaweed"))
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(seaweed: SeaweedServer, request: pytest.FixtureRequest) -> Iterator[S3Bucket]:
    """A new bucket named after the test, deleted (with its objects) afterwards."""
    if not seaweed.running:  # an earlier test killed the server and failed before restarting it
        seaweed.restart()
    name = bucket_name(next(_BUCKET_NUMBERS), request.node.name)
    seaweed.create_bucket(name)
    yield S3Bucket(seaweed, name, seaweed.s3_store(name))
    if seaweed.running:
        seaweed.delete_bucket(name)


@pytest.fixture
def fault_proxy(seaweed: SeaweedServer) -> Iterator[FaultProxy]:
    """A `FaultProxy` in front of the server, with no fault on, closed afterwards."""
    with FaultProxy((HOST, seaweed.s3_port)) as proxy:
        yield proxy


def bucket_name(number: int, test_name: str) -> str:
    """`t<number>-<test name>`: lowercase letters, digits and `-`, at most 63 characters."""
    readable = re.sub(r"[^a-z0-9]+", "-", test_name.lower())
    return f"t{number}-{readable}"[:63].strip("-")
