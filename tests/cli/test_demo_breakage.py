"""The demo catches a broken restore: with one piece of the victim's restore taken out on
purpose (`demo_broken_node.py`), the run still completes and fails the check for that piece,
reporting its numbers, with exit status 1."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from demo_broken_node import BREAKAGES
from test_demo import passing

from node_runtime.demo import report, scenario

WRAPPER = Path(__file__).with_name("demo_broken_node.py")

FAILS = {
    "blocklist": {"blocked peer still blocked", "blocked PeerId cannot connect"},
    "delivered-marks": {"delivered exactly once"},
    "address-ttls": {"expired address not dialled"},
    "signed-records": {"signed peer records verified"},
    "backoff": {"backoff honoured"},
    "outbound-queue": {"pending envelopes redelivered"},
    "id-allocators": {"no ID reused"},
    "addresses": {"peers reached by PeerId alone"},
}


def test_every_breakage_names_the_checks_it_must_fail() -> None:
    assert sorted(FAILS) == BREAKAGES
    names = {check.name for check in report.judge(passing())}
    assert set().union(*FAILS.values()) <= names


CONCURRENT_RUNS = 4
"""Broken demos run side by side: each mostly waits on its nodes, so four at a time take about
the time of the slowest two, not of all eight in a row (CI's time budget)."""


@pytest.mark.slow
def test_the_demo_fails_the_check_each_broken_restore_breaks(tmp_path: Path) -> None:
    async def run_all() -> dict[str, scenario.Measurements]:
        slots = asyncio.Semaphore(CONCURRENT_RUNS)

        async def run_one(breakage: str) -> scenario.Measurements:
            async with slots:
                return await scenario.run(
                    tmp_path / breakage,
                    3,
                    lambda phase: None,
                    victim_command=(sys.executable, str(WRAPPER), breakage),
                )

        results = await asyncio.gather(*(run_one(breakage) for breakage in BREAKAGES))
        return dict(zip(BREAKAGES, results, strict=True))

    for breakage, measured in asyncio.run(run_all()).items():
        checks = report.judge(measured)
        failed = {check.name for check in checks if not check.passed}
        assert FAILS[breakage] <= failed, (breakage, report.render(measured, checks))
        assert report.exit_status(checks) == 1, breakage
