"""Reading what the commands take: snapshot files (sealed or raw), keys, identities, PeerIds.

Every input is read with a bound: a path must name a regular file (a FIFO or a device such as
/dev/zero is refused before a byte is read), and a file larger than its kind can be is refused
from its size alone, before it is read.
"""

from __future__ import annotations

import argparse
import binascii
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import attrs

from node_runtime.cli.exit_codes import CliError, ExitCode, classify, file_error, naming
from node_runtime.errors import IdentityKeyError, InvalidPeerIdError
from node_runtime.identity import Identity
from node_runtime.peer_id import PeerId
from node_runtime.sealed_file import (
    KEY_BYTES,
    MAGIC,
    SealedHeader,
    looks_sealed,
    read_header,
    unseal,
)
from node_runtime.storage_errors import (
    EncryptionKeyError,
    NotRegularFileError,
    SignatureMissingError,
    SnapshotTooLargeError,
)
from node_runtime.store_files import open_regular_file, read_sealed_file
from snapshot_schema import (
    DEFAULT_MAX_SNAPSHOT_SIZE,
    SnapshotError,
    TransientSnapshot,
    decode,
    spec_version_of,
)

_KEY_FILE_LIMIT = 4096
"""Bytes: a key file holds 32 raw bytes or 64 hex digits (and whitespace)."""
_IDENTITY_FILE_LIMIT = 65536
"""Bytes: an Ed25519 identity in PKCS8 PEM is 119."""


@attrs.frozen
class ReadOptions:
    """How a command reads snapshot files: `--key-file`, `--peer`, `--max-size`."""

    key: bytes | None
    peer: PeerId | None
    max_size: int


@attrs.frozen
class SnapshotFile:
    """A snapshot file as read: a sealed one has a header; a raw encoded snapshot has none."""

    path: str
    size: int
    stored_version: int | None
    """The spec version the file holds (`snapshot` is always the current one: `decode` ran the
    registered migrations)."""
    header: SealedHeader | None
    snapshot: TransientSnapshot | None
    """`None` only when the file is encrypted and no key was given (see `read_snapshot_file`)."""

    @property
    def state(self) -> TransientSnapshot:
        """The snapshot; for callers that did not allow a missing key, always there."""
        assert self.snapshot is not None  # read with need_state=True, or the caller checked
        return self.snapshot


def open_input(path: str) -> tuple[BinaryIO, int]:
    """`path` open for reading, and its size. A symbolic link the operator names is followed;
    anything but a regular file (a directory, FIFO, device) is refused without being read."""
    try:
        return open_regular_file(Path(path), follow_symlinks=True)
    except NotRegularFileError as error:
        raise CliError(
            ExitCode.UNREADABLE, naming(path, str(error)), "name a regular file"
        ) from None
    except OSError as error:
        raise file_error(path, error) from None


def _read_bounded(file: BinaryIO, path: Path, size: int, max_size: int) -> bytes:
    """The bytes of a snapshot file of `size` bytes, read only if a snapshot of at most
    `max_size` bytes can be that large: a sealed file through the store's reader (header first),
    a raw one, which is the encoded snapshot itself, if it is no larger than `max_size`."""
    sealed = looks_sealed(file.read(len(MAGIC)))
    file.seek(0)
    if sealed:
        return read_sealed_file(file, path, size, max_size)
    if size > max_size:
        raise SnapshotTooLargeError(
            f"{size} bytes, more than a raw snapshot may have (the limit is {max_size} bytes)"
        )
    return file.read(size)


def read_snapshot_file(path: str, options: ReadOptions, *, need_state: bool = True) -> SnapshotFile:
    """Read and verify `path`: a sealed file through `unseal` (integrity, signature when present
    or when `options.peer` demands one, decryption), a raw encoded snapshot through `decode`;
    both refused unread when larger than `options.max_size` allows.

    With `need_state=False`, an encrypted file read without a key is still verified as far as
    possible (integrity, signature) and returned with its header but no snapshot.
    """
    return read_snapshot_file_and_bytes(path, options, need_state=need_state)[0]


def read_snapshot_file_and_bytes(
    path: str, options: ReadOptions, *, need_state: bool = True
) -> tuple[SnapshotFile, bytes]:
    """`read_snapshot_file`, and the bytes it verified (for a copy that is exactly them)."""
    key, peer, max_size = options.key, options.peer, options.max_size
    file, size = open_input(path)
    try:
        with file:
            data = _read_bounded(file, Path(path), size, max_size)
        if not looks_sealed(data):
            if peer is not None:
                raise SignatureMissingError("a raw encoded snapshot carries no signature")
            raw = SnapshotFile(
                path, len(data), spec_version_of(data), None, decode(data, max_size=max_size)
            )
            return raw, data
        snapshot: TransientSnapshot | None
        try:
            sealed = unseal(
                data, encryption_key=key, expected_signer=peer, max_snapshot_size=max_size
            )
        except EncryptionKeyError:
            if key is not None or need_state:
                raise
            # unseal checks integrity and the signature before it needs the key.
            header, snapshot = read_header(data), None
        else:
            header, snapshot = sealed.header, sealed.snapshot
        return SnapshotFile(path, len(data), header.spec_version, header, snapshot), data
    except (SnapshotError, OSError) as error:
        raise file_error(path, error) from None


def read_key_file(path: str) -> bytes:
    """A 32-byte encryption key from a file holding the raw bytes or 64 hex digits."""
    file, size = open_input(path)
    try:
        with file:
            data = file.read(_KEY_FILE_LIMIT + 1)  # a larger file is no key: never read it all
    except OSError as error:
        raise file_error(path, error) from None
    if len(data) == KEY_BYTES:
        return data
    try:
        key = binascii.unhexlify(data.strip())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise CliError(
            ExitCode.KEY,
            f"{path}: not an encryption key ({size} bytes)",
            f"a key file holds {KEY_BYTES} raw bytes or {2 * KEY_BYTES} hex digits",
        )
    return key


def read_identity(path: str) -> Identity:
    """The identity in a key file written by `Identity.save` (`nodesnap keygen`)."""
    # `Identity.load` reads the whole file: make sure first that it is a regular file of a
    # key file's size (the operator's own file, so no one swaps it in between).
    file, size = open_input(path)
    file.close()
    if size > _IDENTITY_FILE_LIMIT:
        raise CliError(
            ExitCode.KEY,
            f"{path}: {size} bytes, too large for an identity key file",
            "pass an identity key file written by `nodesnap keygen`",
        )
    try:
        return Identity.load(path)
    except IdentityKeyError as error:  # its message names the file already
        raise CliError(ExitCode.KEY, str(error), classify(error)[1]) from None
    except OSError as error:
        raise file_error(path, error) from None


def peer_id_argument(text: str) -> PeerId:
    """argparse `type=` for `--peer`: a bad PeerId is a usage error naming the problem."""
    try:
        return PeerId.from_string(text)
    except InvalidPeerIdError as error:
        raise argparse.ArgumentTypeError(f"not a PeerId: {error}") from None


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type=` for integers from `minimum` up."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
        return value

    return parse


def write_output(path: str, write: Callable[[Path], None], *, force: bool) -> None:
    """Call `write(path)` (an atomic writer: a reader sees the old file or the new one, never a
    part), refusing to replace an existing file unless `force`, and a directory always."""
    if os.path.isdir(path) or path.endswith(os.sep):
        raise CliError(ExitCode.USAGE, f"{path} names a directory", "name a file to write in it")
    if os.path.lexists(path) and not force:
        raise CliError(ExitCode.USAGE, f"{path} exists", "pass --force to replace it")
    try:
        write(Path(path))
    except OSError as error:
        raise file_error(path, error) from None


def add_reading_options(parser: argparse.ArgumentParser) -> None:
    """`--key-file`, `--peer` and `--max-size`, for every command that reads snapshot files."""
    parser.add_argument(
        "--key-file",
        metavar="KEYFILE",
        help="32-byte encryption key (raw or 64 hex digits) for encrypted files",
    )
    parser.add_argument(
        "--peer",
        type=peer_id_argument,
        metavar="PEERID",
        help="demand a valid signature by this PeerId",
    )
    add_max_size_option(parser)


def add_max_size_option(parser: argparse.ArgumentParser) -> None:
    """`--max-size`: the largest snapshot a command reads (files are refused from their size)."""
    parser.add_argument(
        "--max-size",
        type=int_at_least(1),
        default=DEFAULT_MAX_SNAPSHOT_SIZE,
        metavar="BYTES",
        help="refuse, unread, a file holding a larger snapshot "
        f"(default {DEFAULT_MAX_SNAPSHOT_SIZE}, 256 MiB)",
    )


def reading_options(args: argparse.Namespace) -> ReadOptions:
    """The options `add_reading_options` added, the key file read."""
    path: str | None = args.key_file
    key = None if path is None else read_key_file(path)
    return ReadOptions(key, args.peer, args.max_size)
