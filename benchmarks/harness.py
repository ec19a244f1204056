"""What every benchmark here shares: its command line, progress lines and the machine line."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import version


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}") from None
    if not sizes or min(sizes) < 100:
        raise argparse.ArgumentTypeError("sizes must be integers of at least 100")
    return sizes


def benchmark_parser(
    prog: str,
    description: str,
    *,
    sizes: tuple[int, ...],
    quick_sizes: tuple[int, ...],
    rounds: int,
    quick_rounds: int,
) -> argparse.ArgumentParser:
    """A parser with `--sizes`, `--rounds` and `--quick`; finish with `parse_benchmark_args`."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.set_defaults(default_sizes=sizes, quick_sizes=quick_sizes)
    parser.set_defaults(default_rounds=rounds, quick_rounds=quick_rounds)
    listed = ",".join(map(str, sizes))
    quick = ",".join(map(str, quick_sizes))
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        help=f"comma-separated peer counts (default {listed}; --quick: {quick})",
    )
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds (default {rounds})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run: sizes {quick} and {quick_rounds} rounds",
    )
    return parser


def parse_benchmark_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = args.quick_sizes if args.quick else args.default_sizes
    if args.rounds is None:
        args.rounds = args.quick_rounds if args.quick else args.default_rounds
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_line(*packages: str) -> str:
    """The platform, interpreter, CPU count and the versions of `packages`."""
    versions = ", ".join(f"{package} {version(package)}" for package in packages)
    return (
        f"{platform.platform()}; {platform.python_implementation()} {platform.python_version()}; "
        f"{os.cpu_count()} CPUs; {versions}"
    )
