"""Decoding costs about as much per input byte whatever the body's shape (docs/FORMAT.md §5).

Every repeated structure of the format, filled with its smallest valid entries (a frontier of
`[0, 0]` pairs, timer events, one-byte names, one-byte addresses and their expiries, peer
records, metadata pairs, protocols, IP networks, extensions, …; `benchmarks/shapes.py`), and
version 1 bodies of the densest and costliest of them, which go through the migration, must
decode within `MEMORY_BOUND` times the peak memory and `TIME_BOUND` times the time per input
byte of a typical snapshot of the same size, and the same input with its last entry wrong must
be refused within `TIME_BOUND` too; all measured in the same process: ratios, never absolute
times. Memory is traced (`tracemalloc`), so it is exact; time is the best of several interleaved
rounds, so a busy machine slows both sides alike.
"""

from unittest import mock

import pytest
from schema_support import format_section

from benchmarks import shapes
from snapshot_schema import SnapshotDecodeError, decode, decoder, encoder
from snapshot_schema.column_checks import CHUNK

SIZE = 256 * 1024


@pytest.fixture(scope="module")
def inputs() -> shapes.Inputs:
    return shapes.inputs(list(shapes.SHAPES), SIZE)


def test_every_shape_is_a_valid_snapshot_of_the_size_and_its_variant_is_refused(
    inputs: shapes.Inputs,
) -> None:
    assert set(inputs.valid) == {"typical", *shapes.SHAPES}
    assert set(inputs.refused) == set(shapes.SHAPES)
    for name, data in inputs.valid.items():
        assert SIZE * 0.9 <= len(data) <= SIZE * 1.01, name
        decode(data)
    for data in inputs.refused.values():
        with pytest.raises(SnapshotDecodeError, match="expected"):
            decode(data)


def test_every_structure_version_2_added_has_a_shape_and_version_1_is_measured() -> None:
    structures = (
        "addresses: 1-2 bytes, expiring",
        "ip_allow",
        "ip_deny",
        "peer_records: [peer",
        "peer_records protocols",
        "peer_records metadata",
        "extensions",
        shapes.V1_PREFIX,
    )
    missing = [word for word in structures if not any(word in name for name in shapes.SHAPES)]
    assert missing == []


@pytest.mark.parametrize(
    "name", [name for name in shapes.SHAPES if name.startswith(shapes.V1_PREFIX)]
)
def test_a_version_1_shape_decodes_to_the_snapshot_of_its_version_2_body(name: str) -> None:
    """The migration keeps every value and stamps each address permanent."""
    version_2 = name.removeprefix(shapes.V1_PREFIX)
    assert decode(shapes.shape_bytes(name, 300)) == decode(shapes.shape_bytes(version_2, 300))


def test_the_migration_repacks_only_the_field_it_rewrote() -> None:
    """A version 1 frontier is not copied by the migration: of the body, only the framework
    (which version 2 extended) is packed and unpacked again."""
    data = shapes.shape_bytes(f"{shapes.V1_PREFIX}frontier: [0, 0]", 1_000)
    with mock.patch.object(decoder, "pack", wraps=encoder.pack) as pack:
        decode(data)
    ((framework,),) = [call.args for call in pack.call_args_list]
    assert len(framework) == 11  # version 2's framework, and nothing else


def test_every_shape_peaks_within_the_memory_bound(inputs: shapes.Inputs) -> None:
    typical = inputs.valid["typical"]
    typical_per_byte = shapes.traced_peak(typical) / len(typical)
    ratios = {
        name: round(shapes.traced_peak(data) / len(data) / typical_per_byte, 2)
        for name, data in inputs.valid.items()
    }
    assert {name: ratio for name, ratio in ratios.items() if ratio > shapes.MEMORY_BOUND} == {}


@pytest.mark.slow
def test_every_shape_decodes_and_is_refused_within_the_time_bound(inputs: shapes.Inputs) -> None:
    costs = shapes.measure(inputs, rounds=3, memory=False)
    ratios = {f"{cost.shape}: decoded": cost.time_ratio for cost in costs} | {
        f"{cost.shape}: refused": cost.refused_ratio
        for cost in costs
        if cost.refused_ratio is not None
    }
    assert len(ratios) == 2 * len(shapes.SHAPES) + 1
    over = {name: round(ratio, 2) for name, ratio in ratios.items() if ratio > shapes.TIME_BOUND}
    assert over == {}


def test_format_md_states_the_bounds_these_tests_hold() -> None:
    limits = format_section(5)
    assert f"**{shapes.MEMORY_BOUND:g} \N{MULTIPLICATION SIGN}** the peak traced memory" in limits
    assert f"**{shapes.TIME_BOUND:g} \N{MULTIPLICATION SIGN}** the time per" in limits
    assert f"the {CHUNK:,}-entry window" in limits
