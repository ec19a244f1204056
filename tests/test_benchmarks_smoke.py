"""The benchmarks run end to end with `--quick`: their correctness checks pass and they print
every table, so they cannot rot between full runs."""

import gc
from pathlib import Path

import pytest

from benchmarks import codec, ids, replication, store


def test_the_quick_store_benchmark_runs_and_reports_every_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert store.main(["--quick", "--dir", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    assert out.count("| N peers | operation | median ms | vs floor | file bytes |") == 2
    assert "| N peers | cost of | median ms (paired difference) |" in out
    rows_per_size = (
        4
        + len(store.SEAL_VARIANTS)
        + len(store.SAVE_VARIANTS)
        + len(store.COSTS)
        + 1
        + len(store.LOADED_VARIANTS)
    )
    for size in store.QUICK_SIZES:
        assert out.count(f"\n| {size:,} | ") == rows_per_size
    assert gc.get_freeze_count() == 0
    assert list(tmp_path.iterdir()) == []  # the stores and their files are removed


def test_the_codec_benchmark_runs_a_small_size_and_checks_its_contenders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One small size and one round: the round-trip checks of every contender run before timing.
    assert codec.main(["--sizes", "100", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 100 | floor (msgpack lists) |" in out
    assert out.count("\n| 100 | ") == 2 * (6 + 3 * (len(codec.DATA_SHAPES) - 1))  # gc off and on
    for shape in codec.DATA_SHAPES:
        assert f"## {shape.name}: {shape.describe()}" in out
        assert out.count(f"\n| {shape.name} | 100 | ") == 2  # its verdict, gc off and on
    assert gc.get_freeze_count() == 0


def test_the_codec_benchmark_runs_the_shapes_it_is_given(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert codec.main(["--sizes", "100", "--rounds", "1", "--shapes", "typical"]) == 0
    out = capsys.readouterr().out
    assert "## typical: sha2-256 PeerIds, 2 addresses, 7 B envelopes" in out
    assert "## ed25519" not in out
    assert "| 100 | msgspec Struct |" in out  # the baselines run on the first shape given


def test_the_quick_id_benchmark_runs_and_reports_both_tables(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert ids.main(["--quick", "--seconds", "0.3", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| N peers | floor ids/s | autosave ids/s | vs floor |" in out
    assert "| N peers | ids minted | ids/s | mints that waited |" in out
    assert out.count(f"\n| {ids.QUICK_SIZES[0]:,} | ") == 2
    assert list(tmp_path.iterdir()) == []


def test_the_quick_replication_benchmark_ships_every_object_and_reports_each_contender(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert replication.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert out.count(f"\n| {replication.QUICK_SIZES[0]:,} | ") == 1 + len(replication.BATCH_SIZES)
    assert "| floor: obstore.put of each object | 60 |" in out
