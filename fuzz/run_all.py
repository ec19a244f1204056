"""Run every harness for a bounded number of executions; exit non-zero on any violation.

    python -m fuzz.run_all                 # CI: 50,000 executions per harness, fixed seed
    python -m fuzz.run_all --runs 1000000 --targets decode --seed 0   # a long local run

Each harness starts from its seed corpus and regression inputs (read-only: what libFuzzer
finds goes to a temporary directory) with a per-input time limit, an RSS limit and an input
size cap. A crashing input is kept in `fuzz/artifacts/` (ignored by git) for triage; see
`fuzz/README.md` for minimizing it and committing it to `fuzz/regressions/<target>/`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fuzz import TARGETS

FUZZ_DIR = Path(__file__).resolve().parent
REPO = FUZZ_DIR.parent
ARTIFACTS = FUZZ_DIR / "artifacts"

DEFAULT_RUNS = 50_000  # a bounded regression check; depth is the campaign's (campaign.py)
TIMEOUT_S = 10
"""Per input: a hang (or a pathologically slow input) fails the run."""
RSS_LIMIT_MB = 1024
"""Whole process; the interpreter with our imports is ~70 MB, inputs at most `MAX_LEN`."""
MAX_LEN = 4096

_FINAL = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*exec/s: (\d+)")
_PEAK_RSS = re.compile(r"stat::peak_rss_mb:\s+(\d+)")


def command(target: str, runs: int, seed: int, work: Path, extra: list[str]) -> list[str]:
    corpora = [FUZZ_DIR / kind / target for kind in ("corpus", "regressions")]
    return [
        sys.executable,
        "-m",
        "fuzz",
        target,
        f"-runs={runs}",
        f"-seed={seed}",
        f"-timeout={TIMEOUT_S}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-max_len={MAX_LEN}",
        f"-artifact_prefix={ARTIFACTS}/{target}-",
        "-print_final_stats=1",
        *extra,
        str(work),
        *(str(directory) for directory in corpora if directory.is_dir()),
    ]


@dataclass(frozen=True)
class RunResult:
    """What libFuzzer reported at the end of one run of a harness."""

    target: str
    executions: int
    seconds: float
    cov: int
    ft: int
    corpus: int
    peak_rss_mb: int | None


def run_once(
    target: str,
    runs: int,
    seed: int,
    extra: list[str],
    build: Callable[[str, int, int, Path, list[str]], list[str]] = command,
) -> RunResult | None:
    """Run one harness; its final statistics, or `None` (with its output on stderr) when it
    failed."""
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as work:
        started = time.monotonic()
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            build(target, runs, seed, Path(work), extra),
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - started
    final = _FINAL.search(result.stderr)
    if result.returncode != 0 or final is None:
        # atheris prints the Python traceback of a violation on stdout, libFuzzer its own
        # report on stderr: a failure shows both, or it says no more than "fuzz target exited".
        sys.stderr.write(result.stdout[-20_000:])
        sys.stderr.write(result.stderr[-20_000:])
        print(f"FAIL {target}: exit {result.returncode} after {elapsed:.1f} s")
        return None
    executions, cov, ft, corpus, _ = final.groups()
    rss = _PEAK_RSS.search(result.stderr)
    return RunResult(
        target,
        int(executions),
        elapsed,
        int(cov),
        int(ft),
        int(corpus),
        int(rss.group(1)) if rss else None,
    )


def run(
    target: str,
    runs: int,
    seed: int,
    extra: list[str],
    build: Callable[[str, int, int, Path, list[str]], list[str]] = command,
) -> bool:
    """Run one harness and print a line about it; whether it kept its contract."""
    outcome = run_once(target, runs, seed, extra, build)
    if outcome is None:
        return False
    print(
        f"ok   {target}: {outcome.executions} executions in {outcome.seconds:.1f} s "
        f"({outcome.executions / outcome.seconds:,.0f}/s), cov {outcome.cov}, ft {outcome.ft}, "
        f"corpus {outcome.corpus}, peak RSS {outcome.peak_rss_mb or '?'} MB"
    )
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="executions per harness")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer seed (0: random)")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("extra", nargs="*", help="more libFuzzer flags, after `--`")
    args = parser.parse_args(argv)
    try:
        import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install -e '.[dev]' (Linux, CPython ≤ 3.12)")
        return 2
    failed = [t for t in args.targets if not run(t, args.runs, args.seed, list(args.extra))]
    if failed:
        print(f"contract violations in: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
