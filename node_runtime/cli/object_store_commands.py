"""`nodesnap store ls|verify URL`, `fleet`, `pull` and `push`: the part of the command line
that imports `obstore`, loaded only when a URL is given (see `object_store_cli`).

The bucket is opened with `obstore.store.from_url("SCHEME://BUCKET")`, which takes the
connection settings from the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, …); the URL's
path is the node's or the fleet's prefix. Requests are retried twice, within 10 s, so that an
unreachable server fails a command in seconds. No client options are passed: they would replace
every one the environment sets (AWS_ALLOW_HTTP, AWS_TIMEOUT, …), not add to them.
"""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from obstore.exceptions import BaseError
from obstore.store import from_url

from node_runtime.cli.exit_codes import CliError, ExitCode, classify, most_severe, naming
from node_runtime.cli.files import reading_options
from node_runtime.cli.object_store_cli import Location, parse_location, target_text
from node_runtime.cli.render import JsonValue, dump_json, header_summary, iso_utc, say, u64
from node_runtime.cli.store import Listed, journal_line, snapshot_files
from node_runtime.journal_replay import JournalExtent
from node_runtime.object_storage import (
    FleetNode,
    ObjectStore,
    ReplicationTargetError,
    Replicator,
    list_fleet,
    pull,
)
from node_runtime.object_storage.object_io import ObjectIO
from node_runtime.object_storage.object_journal import list_journal
from node_runtime.quarantine import QUARANTINE
from node_runtime.replication_watermark import load_watermark, watermark_path
from node_runtime.sealed_file import MAX_HEADER_BYTES, read_header
from node_runtime.storage_errors import JournalFramingError, StoreReadError
from node_runtime.store_files import JOURNAL_NAME, SNAPSHOT_NAME, journal_name
from snapshot_schema import SnapshotError

if TYPE_CHECKING:
    from obstore.store import ObjectStore as ObstoreStore
    from obstore.store import RetryConfig

_RETRIES: RetryConfig = {"max_retries": 2, "retry_timeout": timedelta(seconds=10)}
_TRUE = ("1", "true", "yes", "on", "y")  # the values obstore reads as true


def open_store(location: Location) -> ObstoreStore:
    """The bucket of `location`, its settings from the environment."""
    if location.scheme in ("s3", "s3a"):
        _check_plain_http()
    try:
        return from_url(location.url_of(""), retry_config=_RETRIES)
    except BaseError as error:  # an unknown scheme, missing credentials or account, …
        raise CliError(
            ExitCode.USAGE,
            f"{location.url}: cannot open the store: {_first_line(error)}",
            "check the URL and the connection settings in the environment (AWS_…, GOOGLE_…, "
            "AZURE_…)",
        ) from None


def _check_plain_http() -> None:
    """obstore refuses a plain-http endpoint unless AWS_ALLOW_HTTP is true, with no more than
    `builder error` to say why: say it here."""
    allowed = os.environ.get("AWS_ALLOW_HTTP", "").lower() in _TRUE
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT"):
        endpoint = os.environ.get(name, "")
        if endpoint.lower().startswith("http://") and not allowed:
            raise CliError(
                ExitCode.USAGE,
                f"{name}={endpoint} is plain http, which obstore refuses by default",
                "set AWS_ALLOW_HTTP=true to allow it (a local test server), or use https",
            )


def _first_line(error: Exception) -> str:
    return str(error).split("\n", 1)[0] or type(error).__name__


def _listed(io: ObjectIO, prefix: str) -> tuple[list[tuple[int, str, int]], set[int]]:
    """Generation, key and size of every object under a snapshot's name directly under the
    node's `prefix`, oldest first; and the generations with a journal prefix. One listing."""
    listing = io.listing(prefix + "/")
    snapshots = []
    for entry in listing.objects:
        match = SNAPSHOT_NAME.match(PurePosixPath(entry.key).name)
        if match is not None:
            snapshots.append((int(match.group(1)), entry.key, entry.size))
    journals = set()
    for journal in listing.prefixes:
        match = JOURNAL_NAME.match(PurePosixPath(journal).name)
        if match is not None:
            journals.add(int(match.group(1)))
    return sorted(snapshots), journals


# store ls URL


def run_ls(args: argparse.Namespace) -> ExitCode:
    location = parse_location(args.directory, node=True)
    io = ObjectIO(open_store(location), location.url)
    snapshots, journals = _listed(io, location.prefix)
    if not snapshots and not args.json:
        say(f"no snapshots in {location.url}")
    rows: list[JsonValue] = []
    for generation, key, size in snapshots:
        path = location.url_of(key)
        journal = f"{location.prefix}/{journal_name(generation)}"
        try:
            header = read_header(io.get_start(key, MAX_HEADER_BYTES))
            extent = _journal_extent(io, journal) if generation in journals else None
        except FileNotFoundError:
            continue  # removed by the node's retention since the listing
        except StoreReadError:
            raise
        except SnapshotError as error:
            problem = f"{classify(error)[0].name}: {error}"
            listed = Listed(generation, path, size, location.url_of(journal), None, problem)
        else:
            listed = Listed(generation, path, size, location.url_of(journal), header, None, extent)
        if args.json:
            rows.append(listed.json(None))
        else:
            say(listed.line())
    if args.json:
        print(dump_json(rows))
    return ExitCode.OK


def _journal_extent(io: ObjectIO, journal: str) -> JournalExtent:
    """A journal as its listing and its last record's header show it (each other record's
    header would cost a request): the records up to any hole, their bytes, the last one's time;
    a hole, or a last record whose header does not read, is the problem."""
    listed = list_journal(io, journal)
    records = list(listed.records)
    last_wall_ns = None
    problem: SnapshotError | None = None
    if listed.after_hole:
        problem = JournalFramingError(
            f"record {len(records) + 1} is missing; the {len(listed.after_hole)} listed after "
            "it are not applied"
        )
    if records:
        last = records[-1].key
        try:
            last_wall_ns = read_header(io.get_start(last, MAX_HEADER_BYTES)).created_wall_ns
        except StoreReadError:
            raise
        except SnapshotError as error:
            problem = JournalFramingError(f"{last}: {error}")
            records.pop()
    size = sum(entry.size for entry in records)
    return JournalExtent(len(records), size, last_wall_ns, listed.listed_bytes, problem)


# store verify URL


def run_verify(args: argparse.Namespace) -> ExitCode:
    options = reading_options(args)
    location = parse_location(args.directory, node=True)
    obstore_store = open_store(location)
    io = ObjectIO(obstore_store, location.url)
    store = ObjectStore(
        obstore_store,
        location.prefix,
        read_only=True,
        encryption_key=options.key,
        expected_signer=options.peer,
        max_snapshot_size=options.max_size,
    )
    snapshots, journals = _listed(io, location.prefix)
    if not snapshots:
        say(f"no snapshots in {location.url}")
    codes = []
    for generation, key, _ in snapshots:
        url = location.url_of(key)
        try:
            loaded = store.load(generation)
        except StoreReadError:
            raise
        except SnapshotError as error:
            code = classify(error)[0]
            say(f"{code.name} {naming(url, str(error))}")
            codes.append(code)
            continue
        say(f"OK {url} {header_summary(loaded.header)}")
        if generation in journals:
            journal = location.url_of(f"{location.prefix}/{journal_name(generation)}")
            line, code = journal_line(journal, loaded.journal)
            say(line)
            codes.append(code)
    quarantine = f"{location.prefix}/{QUARANTINE}"
    count = sum(1 for _ in io.walk(quarantine + "/"))
    if count:
        say(f"{count} objects in {location.url_of(quarantine)} (set aside earlier, not checked)")
    return most_severe(codes)


# store fleet URL


def run_fleet(args: argparse.Namespace) -> ExitCode:
    location = parse_location(args.url, node=False)
    try:
        nodes = list_fleet(open_store(location), location.prefix)
    except ValueError:
        raise CliError(
            ExitCode.USAGE,
            f"{location.url} holds snapshots: it is a node's prefix, not a fleet's",
            f"list it with `nodesnap store ls {location.url}`",
        ) from None
    if args.json:
        print(dump_json([_node_json(location, node) for node in nodes]))
        return ExitCode.OK
    if not nodes:
        say(f"no nodes in {location.url}")
    for node in nodes:
        ref = node.newest
        if ref is None:
            say(f"{node.prefix}  no snapshots")
        else:
            say(
                f"{node.prefix}  {ref.generation}  {iso_utc(ref.created_wall_ns)}  {ref.size}  "
                f"journal {ref.journal_deltas} deltas {ref.journal_bytes} bytes"
            )
    return ExitCode.OK


def _node_json(location: Location, node: FleetNode) -> JsonValue:
    ref = node.newest
    return {
        "prefix": node.prefix,
        "url": location.url_of(node.prefix),
        "generations": u64(node.generations),
        "generation": None if ref is None else u64(ref.generation),
        "created": None if ref is None else iso_utc(ref.created_wall_ns),
        "size": None if ref is None else u64(ref.size),
        "journal_deltas": None if ref is None else u64(ref.journal_deltas),
        "journal_bytes": None if ref is None else u64(ref.journal_bytes),
    }


# store pull URL DIR


def run_pull(args: argparse.Namespace) -> ExitCode:
    options = reading_options(args)
    location = parse_location(args.url, node=True)
    directory = Path(args.directory)
    # `pull` refuses only the generation it copies: the command keeps DIR to what it pulls,
    # so that no other snapshot there (another node's, say) is what the node restores.
    if directory.exists() and snapshot_files(directory):
        raise CliError(
            ExitCode.USAGE,
            f"{directory} holds snapshots already",
            "pull into a new directory, or one without snapshots",
        )
    pulled = pull(
        open_store(location),
        location.prefix,
        directory,
        expected_signer=options.peer,
        encryption_key=options.key,
        max_snapshot_size=options.max_size,
    )
    if pulled is None:
        raise CliError(
            ExitCode.UNREADABLE,
            f"{location.url}: no snapshot there verifies",
            f"check the URL; `nodesnap store verify {location.url}` says what is there",
        )
    ref = pulled.ref
    say(
        f"pulled generation {ref.generation} and {ref.journal_deltas} journal deltas into "
        f"{directory}: the state of {iso_utc(ref.created_wall_ns)}"
    )
    return ExitCode.OK


# store push DIR URL


def run_push(args: argparse.Namespace) -> ExitCode:
    directory = Path(args.directory)
    snapshot_files(directory)  # refuses a missing directory, or one that is not a store
    location = parse_location(args.url, node=True)
    replicator = Replicator(directory, open_store(location), location.prefix)
    try:
        report = replicator.run_once()
    except ReplicationTargetError:
        watermark = load_watermark(directory, set_aside=False)
        target = "another target" if watermark is None else target_text(watermark.target)
        raise CliError(
            ExitCode.USAGE,
            f"{directory} is replicated to {target}, not {location.url}",
            f"push to that, or remove {watermark_path(directory)} to replicate to "
            f"{location.url} from the start",
        ) from None
    say(
        f"sent {report.sent} objects ({report.sent_bytes} bytes); {report.found} were there "
        "already",
        f"{report.lag.generations} generations, {report.lag.bytes} bytes behind",
    )
    return ExitCode.OK
