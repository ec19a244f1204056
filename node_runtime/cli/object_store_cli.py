"""`nodesnap store` on object storage: URLs (`s3://BUCKET/PREFIX`), the `fleet`, `pull` and
`push` actions, and what `store ls DIR` says of a directory's replication.

Nothing here imports `obstore`, which stays an optional dependency: the commands that need it
(`object_store_commands`) are imported only when a URL is given, and without it they fail with
one line saying what to install.
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import attrs

from node_runtime.cli.exit_codes import CliError, ExitCode
from node_runtime.cli.files import add_reading_options
from node_runtime.replication_plan import Lag, plan
from node_runtime.replication_watermark import Status, Watermark, load_watermark

# Schemes whose URL names a bucket (or container) after `//`, as `obstore.store.from_url`
# opens them; `http(s)://`, `file://` and `memory://` name no bucket.
SCHEMES = ("s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/]*)/*(.*?)/*$")
_URL_FORM = "SCHEME://BUCKET/PREFIX, SCHEME one of " + ", ".join(SCHEMES)
# The prefixes `ObjectStore` takes: `/`-separated names of letters, digits, `.`, `_` and `-`.
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")
# How a `Replicator` names a store it was handed (its repr), and the URL it stands for.
_STORE_REPR = re.compile(r'^(S3|GCS)Store\(bucket="([^"]*)"\)/')
_REPR_SCHEMES = {"S3": "s3", "GCS": "gs"}


@attrs.frozen
class Location:
    """Where in an object store: the scheme, the bucket, and the prefix under it (no leading
    or trailing `/`; `""` for the bucket's top level)."""

    scheme: str
    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return self.url_of(self.prefix)

    def url_of(self, key: str) -> str:
        """The URL of `key`, a key in the bucket."""
        return f"{self.scheme}://{self.bucket}/{key}" if key else f"{self.scheme}://{self.bucket}"


def is_url(text: str) -> bool:
    """Whether a command-line argument is a URL (`SCHEME://…`) rather than a path."""
    return _URL.match(text) is not None


def parse_location(text: str, *, node: bool) -> Location:
    """The location a URL names; a node's (`node`) needs a prefix: a node never keeps its
    snapshots at a bucket's top level."""
    match = _URL.match(text)
    if match is None or match.group(1).lower() not in SCHEMES or not match.group(2):
        raise CliError(ExitCode.USAGE, f"{text}: not an object store URL", f"write {_URL_FORM}")
    scheme, bucket, prefix = match.group(1).lower(), match.group(2), match.group(3)
    if node and not prefix:
        raise CliError(
            ExitCode.USAGE,
            f"{text} names no node prefix",
            f"write {scheme}://{bucket}/PREFIX, the prefix the node's snapshots are under",
        )
    if prefix and not _PREFIX.match(prefix):
        raise CliError(
            ExitCode.USAGE,
            f"{text}: prefix {prefix!r} is not a node's or a fleet's",
            "a prefix is `/`-separated names of letters, digits, `.`, `_` and `-`",
        )
    return Location(scheme, bucket, prefix)


def target_text(target: str) -> str:
    """A replication target as a URL where the store's name allows (`s3://BUCKET/PREFIX`)."""
    match = _STORE_REPR.match(target)
    if match is None:
        return target
    return f"{_REPR_SCHEMES[match.group(1)]}://{match.group(2)}/{target[match.end() :]}"


# What `store ls DIR` says of a replicated directory (no obstore needed: the watermark says).


@attrs.frozen
class Replication:
    """A directory's replication: its target, the lag left, and the generations shipped whole
    (snapshot and every journal record the directory holds)."""

    target: str
    lag: Lag
    shipped: frozenset[int]

    def line(self) -> str:
        return (
            f"replicated to {target_text(self.target)}: {self.lag.generations} generations, "
            f"{self.lag.bytes} bytes behind"
        )


def replication_of(directory: Path, max_size: int) -> Replication | None:
    """The replication of `directory`; `None` when it has no watermark. Read-only: a watermark
    that does not parse is left in place, and everything counts as left to ship."""
    try:
        watermark = load_watermark(directory, set_aside=False)
    except (OSError, ValueError) as error:
        watermark, target = Watermark(""), f"an unknown target ({error})"
    else:
        if watermark is None:
            return None
        target = watermark.target
    progress = plan(directory, watermark, max_size)
    pending = {item.generation for item in progress.items}
    shipped = frozenset(
        generation
        for generation, mark in progress.watermark.generations.items()
        if mark.snapshot is Status.COMPLETE and generation not in pending
    )
    return Replication(target, progress.lag, shipped)


# The actions, registered by `store.register`; their work is done by object_store_commands.


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fleet = actions.add_parser(
        "fleet",
        help="list the nodes under an object store prefix",
        description="One line per node prefix directly under URL (s3://BUCKET/PREFIX): the "
        "prefix, its newest generation, that state's time (ISO-8601 UTC, its last journal "
        "delta's), the snapshot's size and its journal's deltas and bytes; `no snapshots` for "
        "a node with none. Headers are read, not verified. Read-only.",
    )
    fleet.add_argument("url", metavar="URL")
    fleet.add_argument("--json", action="store_true", help="a JSON array, one object per node")
    fleet.set_defaults(run=run_fleet)

    pull = actions.add_parser(
        "pull",
        help="restore a node's newest verified state from an object store into a directory",
        description="Copy the newest state under URL that verifies (its snapshot and its "
        "journal's good records, bytes unchanged) into the store directory DIR, created if "
        "need be, which must hold no snapshots yet. A node restores from DIR as after any "
        "restart. Never changes anything under URL.",
    )
    pull.add_argument("url", metavar="URL")
    pull.add_argument("directory", metavar="DIR")
    add_reading_options(pull)
    pull.set_defaults(run=run_pull)

    push = actions.add_parser(
        "push",
        help="ship a store directory to an object store, once",
        description="One replication pass: send every generation and journal record of DIR "
        "that URL does not hold yet, resumably (progress is kept in DIR/.replication.json), "
        "then print what was sent and the lag left. Safe while the node runs.",
    )
    push.add_argument("directory", metavar="DIR")
    push.add_argument("url", metavar="URL")
    push.set_defaults(run=run_push)


@contextlib.contextmanager
def _obstore_needed() -> Iterator[None]:
    """Importing the commands: a missing `obstore` becomes a usage error saying what to
    install (any other missing module is a bug, raised as it is)."""
    try:
        yield
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] != "obstore":
            raise
        raise CliError(
            ExitCode.USAGE,
            "object store URLs need the obstore package, which is not installed",
            "install nodesnap[s3]: pip install 'nodesnap[s3]'",
        ) from None


def run_ls(args: argparse.Namespace) -> ExitCode:
    with _obstore_needed():
        import node_runtime.cli.object_store_commands as commands
    return commands.run_ls(args)


def run_verify(args: argparse.Namespace) -> ExitCode:
    with _obstore_needed():
        import node_runtime.cli.object_store_commands as commands
    return commands.run_verify(args)


def run_fleet(args: argparse.Namespace) -> ExitCode:
    with _obstore_needed():
        import node_runtime.cli.object_store_commands as commands
    return commands.run_fleet(args)


def run_pull(args: argparse.Namespace) -> ExitCode:
    with _obstore_needed():
        import node_runtime.cli.object_store_commands as commands
    return commands.run_pull(args)


def run_push(args: argparse.Namespace) -> ExitCode:
    with _obstore_needed():
        import node_runtime.cli.object_store_commands as commands
    return commands.run_push(args)
