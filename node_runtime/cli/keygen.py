"""`nodesnap keygen --out PATH`: a new Ed25519 node identity in a key file."""

from __future__ import annotations

import argparse

from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.files import write_output
from node_runtime.identity import Identity


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "keygen",
        help="create a node identity key file",
        description="Write a new Ed25519 identity (PKCS8 PEM, mode 0600, written atomically) "
        "and print its PeerId. An existing file is kept unless --force is given.",
    )
    parser.add_argument("--out", required=True, metavar="PATH", help="the key file to write")
    parser.add_argument("--force", action="store_true", help="replace an existing key file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> ExitCode:
    identity = Identity.generate()
    write_output(args.out, identity.save, force=args.force)
    print(identity.peer_id)
    return ExitCode.OK
