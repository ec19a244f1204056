"""`nodesnap keygen --out PATH`: a new Ed25519 node identity in a key file."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from node_runtime.cli.exit_codes import ExitCode, file_error
from node_runtime.cli.files import write_output
from node_runtime.cli.render import say
from node_runtime.identity import Identity

_DIRECTORY_MODE = 0o700  # a key's directory: its owner's only, as ~/.ssh


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "keygen",
        help="create a node identity key file",
        description="Write a new Ed25519 identity (PKCS8 PEM, mode 0600, written atomically) "
        "and print its PeerId. Missing parent directories are created with mode 0700. An "
        "existing file is kept unless --force is given.",
    )
    parser.add_argument("--out", required=True, metavar="PATH", help="the key file to write")
    parser.add_argument("--force", action="store_true", help="replace an existing key file")
    parser.set_defaults(run=run)


def create_missing_directories(directory: Path) -> None:
    """Create `directory` and its missing parents, each with mode 0700 whatever the umask."""
    missing = []
    while not os.path.lexists(directory):
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        created.mkdir(mode=_DIRECTORY_MODE)
        created.chmod(_DIRECTORY_MODE)  # mkdir's mode is narrowed by the umask


def run(args: argparse.Namespace) -> ExitCode:
    out: str = args.out
    identity = Identity.generate()
    try:
        create_missing_directories(Path(out).parent)
    except OSError as error:
        raise file_error(out, error) from None
    write_output(out, identity.save, force=args.force)
    say(str(identity.peer_id))
    return ExitCode.OK
