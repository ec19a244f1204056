"""What every benchmark here shares: its command line, progress lines and the machine line."""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import TypeVar

Fixture = TypeVar("Fixture")
Row = TypeVar("Row")


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


def load_line() -> str:
    """The 1, 5 and 15 minute load averages: how busy the machine was while a run ended."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min)"


def cell(value: float | None, digits: int = 2) -> str:
    """A table cell: `value` to `digits` decimals, or a dash where there is no value."""
    return "—" if value is None else f"{value:.{digits}f}"


GC_MODES = ("disabled", "enabled")


def gc_heading(mode: str, thresholds: tuple[int, int, int]) -> str:
    """The heading of the tables measured with the collector in `mode`."""
    return f"gc {mode} (thresholds {thresholds})" if mode == "enabled" else f"gc {mode}"


def _set_gc_mode(mode: str, thresholds: tuple[int, int, int]) -> None:
    if mode == "enabled":
        gc.set_threshold(*thresholds)
        gc.enable()
    else:
        gc.disable()


def measure_per_gc_mode(
    sizes: Sequence[int],
    rounds: int,
    prepare: Callable[[int], Fixture],
    measure: Callable[[int, Fixture], list[Row]],
    what: str,
) -> dict[str, list[Row]]:
    """For each size: `prepare` the fixture (gc on), then `measure` it once per gc mode. The
    collector's configuration is restored afterwards, whatever happens."""
    thresholds = gc.get_threshold()
    was_enabled = gc.isenabled()
    rows: dict[str, list[Row]] = {mode: [] for mode in GC_MODES}
    try:
        for peers in sizes:
            gc.enable()
            progress(f"N={peers:,}: building {what} and checking round trips")
            fixture = prepare(peers)
            # The fixture moves to the permanent generation: collections then scan what each
            # operation allocates, not the benchmark's own data.
            gc.collect()
            gc.freeze()
            for mode in GC_MODES:
                progress(f"N={peers:,}: {rounds} rounds with gc {mode}")
                _set_gc_mode(mode, thresholds)
                rows[mode].extend(measure(peers, fixture))
            gc.unfreeze()
            del fixture
    finally:
        gc.set_threshold(*thresholds)
        if was_enabled:
            gc.enable()
        gc.unfreeze()
    return rows
