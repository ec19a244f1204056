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


@pytest.mark.slow
@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_demo_fails_the_check_a_broken_restore_breaks(tmp_path: Path, breakage: str) -> None:
    measured = asyncio.run(
        scenario.run(
            tmp_path,
            3,
            lambda phase: None,
            victim_command=(sys.executable, str(WRAPPER), breakage),
        )
    )
    checks = report.judge(measured)
    failed = {check.name for check in checks if not check.passed}
    assert FAILS[breakage] <= failed, report.render(measured, checks)
    assert report.exit_status(checks) == 1
