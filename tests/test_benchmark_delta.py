"""The delta benchmark runs end to end, and a node's delta after 1% churn stays within the targets
of docs/performance.md ("Deltas"): at most 3% of the full snapshot's bytes, and `take_delta()`
+ `encode_delta()` at most 10% of `encode()` of the snapshot (ratios of paired rounds only)."""

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import delta

ROOT = Path(__file__).resolve().parent.parent
MEASURE = """
import gc, json
from benchmarks import delta
churn = delta.Churn(delta.build_delta_node({peers}))
gc.collect(); gc.freeze(); gc.disable()
try:
    rounds = [delta.run_round(churn, r % len(delta.OPERATIONS)) for r in range({rounds})]
finally:
    gc.enable(); gc.unfreeze()
row = delta.summarize({peers}, rounds)
print(json.dumps({{"size": row.size_ratio, "time": row.take_vs_encode}}))
"""


def measured_ratios(peers: int, rounds: int) -> dict[str, float]:
    """The benchmark's ratios at `peers`, measured in a fresh interpreter (a suite that has run
    for minutes leaves a heap that slows both sides unevenly), with the collector off."""
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE.format(peers=peers, rounds=rounds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    ratios: dict[str, float] = json.loads(measured.stdout.splitlines()[-1])
    return ratios


def test_the_delta_benchmark_runs_and_reports_every_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    thresholds = gc.get_threshold()

    assert delta.main(["--sizes", "1000", "--rounds", "1"]) == 0

    out = capsys.readouterr().out
    assert out.count("| N peers | full snapshot KiB | delta KiB |") == 2  # one per gc mode
    assert out.count("| N peers | snapshot()+encode() ms |") == 2
    assert "| N peers | snapshot() ms | first mark_saved() ms |" in out
    assert out.count("\n| 1,000 | ") == 5
    assert "Targets: a delta ≤ 3% of the full snapshot's bytes" in out
    assert gc.isenabled()  # the benchmark puts the collector back as it found it
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_a_delta_after_1_percent_churn_is_at_most_3_percent_of_the_snapshot() -> None:
    churn = delta.Churn(delta.build_delta_node(2_000))

    rounds = [delta.run_round(churn, shift) for shift in range(2)]

    assert all(r.delta_bytes <= delta.SIZE_TARGET * r.full_bytes for r in rounds)
    assert all(r.delta_bytes > 0 for r in rounds)


@pytest.mark.slow
def test_a_delta_after_1_percent_churn_of_100k_peers_is_within_the_targets() -> None:
    ratios = measured_ratios(100_000, rounds=5)

    assert ratios["size"] <= delta.SIZE_TARGET
    assert ratios["time"] <= delta.TIME_TARGET
