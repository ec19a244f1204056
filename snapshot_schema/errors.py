"""The exceptions `snapshot_schema` raises: one base, each subclass also the builtin users catch."""

from __future__ import annotations

from collections.abc import Sequence

PathElement = str | int
"""One step of a path into a snapshot: a field name or a sequence index."""


def render_path(path: Sequence[PathElement]) -> str:
    """Render `("framework", "backoff_table", 3)` as `$.framework.backoff_table[3]`."""
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


class SnapshotError(Exception):
    """Base class of every error this project raises about snapshots."""


class SnapshotValueError(SnapshotError, ValueError):
    """A value does not fit the schema: wrong type, out of range, malformed, duplicated.

    `path` locates the offending value from the record being built (or, for decode errors, from
    the root of the snapshot); `reason` says what was expected.
    """

    def __init__(self, reason: str, path: Sequence[PathElement] = ()) -> None:
        self.reason = reason
        self.path: tuple[PathElement, ...] = tuple(path)
        super().__init__(f"{reason} - at `{render_path(self.path)}`")

    def __reduce__(self) -> tuple[type[SnapshotValueError], tuple[str, tuple[PathElement, ...]]]:
        return (type(self), (self.reason, self.path))

    def within(self, *prefix: PathElement) -> SnapshotValueError:
        """The same error, located `prefix` deeper in an enclosing structure."""
        return type(self)(self.reason, (*prefix, *self.path))


class SnapshotDecodeError(SnapshotValueError):
    """Bytes that are not a valid encoded snapshot (malformed msgpack or an invalid value)."""


class IncompatibleSnapshotVersion(SnapshotError):
    """A snapshot stamped with a spec version this build cannot soundly restore.

    `found` is the version in the snapshot (`None` when it carries none); `supported` is the
    version this build writes and restores.
    """

    SUBJECT = "snapshot"
    """What carries the version, as the message names it."""

    def __init__(self, found: int | None, supported: int, detail: str = "") -> None:
        self.found = found
        self.supported = supported
        self.detail = detail
        subject = self.SUBJECT
        if found is None:
            message = (
                f"{subject} carries no spec version; this build restores version {supported} "
                "and refuses to guess"
            )
        elif found > supported:
            message = (
                f"{subject} spec version {found} is newer than this build supports "
                f"({supported}); upgrade nodesnap to restore it"
            )
        else:
            message = (
                f"{subject} spec version {found} cannot be restored by this build "
                f"(supports {supported})"
            )
        super().__init__(f"{message}{': ' + detail if detail else ''}")

    def __reduce__(self) -> tuple[type[IncompatibleSnapshotVersion], tuple[int | None, int, str]]:
        return (type(self), (self.found, self.supported, self.detail))


class IncompatibleDeltaVersion(IncompatibleSnapshotVersion):
    """A delta stamped with a delta spec version this build cannot read (docs/FORMAT.md §12):
    `found` is the delta's (`None` when it carries none), `supported` the one this build reads.
    Raised before any of the delta's body is parsed."""

    SUBJECT = "delta"
