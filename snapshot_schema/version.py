"""The snapshot spec version this build writes and restores."""

from typing import Final

CURRENT_SNAPSHOT_SPEC_VERSION: Final = 2
"""Bumped whenever the encoded shape changes in a way older code cannot soundly read
(see docs/FORMAT.md, "Versioning")."""
