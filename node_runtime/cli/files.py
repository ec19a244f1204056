"""Reading what the commands take: snapshot files (sealed or raw), keys, identities, PeerIds."""

from __future__ import annotations

import argparse
import binascii
import os
from collections.abc import Callable
from pathlib import Path

import attrs

from node_runtime.cli.exit_codes import CliError, ExitCode, classify, file_error
from node_runtime.errors import IdentityKeyError, InvalidPeerIdError
from node_runtime.identity import Identity
from node_runtime.peer_id import PeerId
from node_runtime.sealed_file import KEY_BYTES, SealedHeader, looks_sealed, read_header, unseal
from node_runtime.storage_errors import EncryptionKeyError, SignatureMissingError
from snapshot_schema import SnapshotError, TransientSnapshot, decode, spec_version_of


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


def read_snapshot_file(
    path: str,
    *,
    key: bytes | None = None,
    peer: PeerId | None = None,
    need_state: bool = True,
) -> SnapshotFile:
    """Read and verify `path`: a sealed file through `unseal` (integrity, signature when present
    or when `peer` demands one, decryption), a raw encoded snapshot through `decode`.

    With `need_state=False`, an encrypted file read without a key is still verified as far as
    possible (integrity, signature) and returned with its header but no snapshot.
    """
    try:
        data = Path(path).read_bytes()
        if not looks_sealed(data):
            if peer is not None:
                raise SignatureMissingError("a raw encoded snapshot carries no signature")
            return SnapshotFile(path, len(data), spec_version_of(data), None, decode(data))
        try:
            sealed = unseal(data, encryption_key=key, expected_signer=peer)
        except EncryptionKeyError:
            if key is not None or need_state:
                raise
            # unseal checks integrity and the signature before it needs the key.
            header = read_header(data)
            return SnapshotFile(path, len(data), header.spec_version, header, None)
        header = sealed.header
        return SnapshotFile(path, len(data), header.spec_version, header, sealed.snapshot)
    except (SnapshotError, OSError) as error:
        raise file_error(path, error) from None


def read_key_file(path: str) -> bytes:
    """A 32-byte encryption key from a file holding the raw bytes or 64 hex digits."""
    try:
        data = Path(path).read_bytes()
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
            f"{path}: not an encryption key ({len(data)} bytes)",
            f"a key file holds {KEY_BYTES} raw bytes or {2 * KEY_BYTES} hex digits",
        )
    return key


def read_identity(path: str) -> Identity:
    """The identity in a key file written by `Identity.save` (`nodesnap keygen`)."""
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
    part), refusing to replace an existing file unless `force`."""
    if os.path.lexists(path) and not force:
        raise CliError(ExitCode.USAGE, f"{path} exists", "pass --force to replace it")
    try:
        write(Path(path))
    except OSError as error:
        raise file_error(path, error) from None


def add_trust_options(parser: argparse.ArgumentParser) -> None:
    """`--key-file` and `--peer`, for every command that reads snapshot files."""
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


def key_of(args: argparse.Namespace) -> bytes | None:
    """The encryption key `--key-file` names, if any."""
    path: str | None = args.key_file
    return None if path is None else read_key_file(path)
