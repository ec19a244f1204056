"""Decoding costs about as much per input byte whatever the body's shape (docs/FORMAT.md §5).

Every repeated structure of the format, filled with its smallest valid entries (a frontier of
`[0, 0]` pairs, timer events, one-byte names, one-byte addresses, …; `benchmarks/shapes.py`),
must decode within `MEMORY_BOUND` times the peak memory and `TIME_BOUND` times the time per input
byte of a typical snapshot of the same size, measured in the same process: ratios, never
absolute times. Memory is traced (`tracemalloc`), so it is exact; time is the best of several
interleaved rounds, so a busy machine slows both sides alike.
"""

import pytest

from benchmarks import shapes
from snapshot_schema import decode

SIZE = 256 * 1024


@pytest.fixture(scope="module")
def inputs() -> dict[str, bytes]:
    return shapes.inputs(list(shapes.SHAPES), SIZE)


def test_every_shape_is_a_valid_snapshot_of_the_size(inputs: dict[str, bytes]) -> None:
    assert len(inputs) == len(shapes.SHAPES) + 1  # and the typical snapshot
    for name, data in inputs.items():
        assert SIZE * 0.9 <= len(data) <= SIZE * 1.01, name
        decode(data)


def test_every_shape_peaks_within_the_memory_bound(inputs: dict[str, bytes]) -> None:
    typical = inputs["typical"]
    typical_per_byte = shapes.traced_peak(typical) / len(typical)
    over = {
        name: round(shapes.traced_peak(data) / len(data) / typical_per_byte, 2)
        for name, data in inputs.items()
    }
    assert {name: ratio for name, ratio in over.items() if ratio > shapes.MEMORY_BOUND} == {}


@pytest.mark.slow
def test_every_shape_decodes_within_the_time_bound(inputs: dict[str, bytes]) -> None:
    costs = shapes.measure(inputs, rounds=5)
    over = {cost.shape: round(cost.time_ratio, 2) for cost in costs}
    assert {name: ratio for name, ratio in over.items() if ratio > shapes.TIME_BOUND} == {}
