"""Run the fuzz campaign and record its results in `fuzz/README.md`, with what it ran on.

    python -m fuzz.campaign                    # 1,000,000 executions per harness, random seed
    python -m fuzz.campaign --runs 2000000 --targets sealed restore

Each harness runs alone (`fuzz.run_all.run`), from its seeds and regressions. The table written
between the README's campaign markers names the commit, the date, the machine, and a digest of
the fuzzed code: every source file the harnesses import. `tests/test_fuzz_campaign.py` fails
when that digest no longer matches the code, so the recorded evidence cannot go stale silently:
change fuzzed code, run the campaign again.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from fuzz import TARGETS, run_all

README = run_all.FUZZ_DIR / "README.md"
START = "<!-- campaign:start -->"
END = "<!-- campaign:end -->"
CAMPAIGN_RUNS = 1_000_000
_OWN_PACKAGES = ("snapshot_schema", "node_runtime", "fuzz")
_LIST_SOURCES = f"""
import importlib, sys
for target in {TARGETS!r}:
    importlib.import_module("fuzz.fuzz_" + target)
for name, module in sorted(sys.modules.items()):
    if name.split(".")[0] in {_OWN_PACKAGES!r} and getattr(module, "__file__", None):
        print(module.__file__)
"""


def fuzzed_sources() -> list[Path]:
    """Every source file of ours that the harnesses import (in a fresh interpreter)."""
    listed = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _LIST_SOURCES],
        cwd=run_all.REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(Path(path).resolve().relative_to(run_all.REPO) for path in listed)


def fuzzed_code_digest() -> str:
    """SHA-256 over the fuzzed sources' paths and bytes: changes when any of them changes."""
    digest = hashlib.sha256()
    for relative in fuzzed_sources():
        data = (run_all.REPO / relative).read_bytes()
        digest.update(f"{relative.as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def recorded_digest(readme: str) -> str | None:
    """The fuzzed-code digest the README's campaign section was measured on."""
    for line in readme.splitlines():
        if line.startswith("Fuzzed code digest: `"):
            return line.split("`")[1]
    return None


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607 - git from PATH
        cwd=run_all.REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def section(results: list[run_all.RunResult], runs: int, digest: str) -> str:
    """The README section for `results`."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    rows = "\n".join(
        f"| `{r.target}` | {r.seconds:,.0f} s | {r.executions / r.seconds:,.0f} | {r.cov} "
        f"| {r.ft} | {r.corpus} | {r.peak_rss_mb or '?'} MB |"
        for r in results
    )
    return f"""{START}
### {runs:,} executions per harness

`python -m fuzz.campaign --runs {runs}` (each harness alone, random seed, from the committed
seeds and regressions). No run found a contract violation.

Commit: `{_commit()}` ({datetime.datetime.now(datetime.UTC):%Y-%m-%d})
Fuzzed code digest: `{digest}`
Machine: {platform.platform()}; CPython {platform.python_version()}; atheris \
{version("atheris")}; {os.cpu_count()} CPUs, load average {load} at the end

| target | wall time | exec/s | final `cov` | final `ft` | corpus | peak RSS |
| --- | --- | --- | --- | --- | --- | --- |
{rows}
{END}"""


def write_section(text: str) -> None:
    readme = README.read_text()
    start, end = readme.index(START), readme.index(END) + len(END)
    README.write_text(readme[:start] + text + readme[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=CAMPAIGN_RUNS, help="executions per harness")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    args = parser.parse_args(argv)
    digest = fuzzed_code_digest()
    results = []
    for target in args.targets:
        print(f"fuzzing {target} for {args.runs:,} executions", file=sys.stderr, flush=True)
        result = run_all.run_once(target, args.runs, 0, [])
        if result is None:
            print("a contract violation: fix it (fuzz/README.md) before recording results")
            return 1
        results.append(result)
    if digest != fuzzed_code_digest():
        print("the fuzzed code changed during the campaign: run it again")
        return 1
    write_section(section(results, args.runs, digest))
    print(f"results written to {README.relative_to(run_all.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
