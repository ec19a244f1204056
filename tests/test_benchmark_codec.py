"""Validated `decode` of a 100k-peer snapshot, for every data shape of the codec benchmark,
stays within the 3x target: msgpack's own unpacking of the same bytes times three
(docs/performance.md). Measured as the benchmark measures it, in a fresh interpreter (a suite
that has run for minutes leaves a heap that slows both sides unevenly), with the collector
off, as the median of paired rounds."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import codec

TARGET = 3.0
ROOT = Path(__file__).resolve().parent.parent
MEASURE = """
import gc, json
from benchmarks import codec
ratios = {}
for shape in codec.DATA_SHAPES:
    entries = codec.contenders(codec.build_snapshot(100_000, shape=shape), baselines=False)
    gc.collect(); gc.freeze(); gc.disable()
    try:
        rows = codec.summarize(100_000, entries, codec.run_rounds(entries, rounds=5))
    finally:
        gc.enable(); gc.unfreeze()
    ratios[shape.name] = next(
        row.decode_ratio for row in rows if row.contender == "ours, via build_framework"
    )
    del entries, rows
print(json.dumps(ratios))
"""


@pytest.mark.slow
def test_validated_decode_of_100k_peers_stays_within_the_target_for_every_shape() -> None:
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    ratios = json.loads(measured.stdout.splitlines()[-1])
    assert set(ratios) == {shape.name for shape in codec.DATA_SHAPES}
    assert all(ratio <= TARGET for ratio in ratios.values()), ratios
