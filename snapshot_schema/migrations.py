"""The spec-version gate and the registry of migrations that upgrade older snapshot bodies.

A migration upgrades the *body* of an encoded snapshot from version N to N+1. It works on the
plain values msgpack yields (tuples, ints, str, bytes, bool, None), not on records: the record
classes of version N no longer exist in a build that writes N+1. The upgraded body is encoded
again and decoded as the current version, so it is validated exactly like fresh input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from snapshot_schema.errors import IncompatibleSnapshotVersion
from snapshot_schema.v1_to_v2 import upgrade_v1_to_v2
from snapshot_schema.version import CURRENT_SNAPSHOT_SPEC_VERSION

RawBody = Any
"""A snapshot body as msgpack decodes it (nested tuples of scalars)."""

Upgrade = Callable[[RawBody], RawBody]


class MigrationRegistry:
    """Upgrade functions keyed by the version they upgrade *from* (N → N+1), applied in order."""

    def __init__(self, current_version: int = CURRENT_SNAPSHOT_SPEC_VERSION) -> None:
        self.current_version = current_version
        self._upgrades: dict[int, Upgrade] = {}

    def register(self, from_version: int) -> Callable[[Upgrade], Upgrade]:
        """Decorator: register `upgrade` as the migration from `from_version` to the next."""
        if type(from_version) is not int or not 0 <= from_version < self.current_version:
            raise ValueError(
                f"a migration upgrades from a version in 0..{self.current_version - 1}, "
                f"not {from_version!r}"
            )
        if from_version in self._upgrades:
            raise ValueError(f"a migration from version {from_version} is already registered")

        def add(upgrade: Upgrade) -> Upgrade:
            self._upgrades[from_version] = upgrade
            return upgrade

        return add

    def restorable_versions(self) -> tuple[int, ...]:
        """Every version this registry can bring to the current one (the current one included)."""
        versions = [self.current_version]
        while versions[-1] - 1 in self._upgrades:
            versions.append(versions[-1] - 1)
        return tuple(sorted(versions))

    def gate(self, found: int | None) -> tuple[Upgrade, ...]:
        """The upgrades to apply to a body stamped `found`; refuses what cannot be restored.

        Newer versions are always refused, and so is a snapshot with no version: assuming the
        current one would restore an old, unstamped snapshot as if it were current.
        """
        if found is None or found > self.current_version:
            raise IncompatibleSnapshotVersion(found, self.current_version)
        chain = []
        for version in range(found, self.current_version):
            upgrade = self._upgrades.get(version)
            if upgrade is None:
                raise IncompatibleSnapshotVersion(
                    found, self.current_version, f"no migration from version {version} is known"
                )
            chain.append(upgrade)
        return tuple(chain)


MIGRATIONS = MigrationRegistry()
"""The migrations this build ships: version 1 to 2 (`v1_to_v2.py`)."""
MIGRATIONS.register(1)(upgrade_v1_to_v2)
