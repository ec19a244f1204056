"""The autosave benchmark runs end to end on a small node: both stores hold the node's state
after every save (the benchmark checks), and the journal writes a small fraction of the bytes
full snapshots write (a byte count, not a time: it holds on any machine)."""

import pytest

from benchmarks import autosave


def test_the_quick_autosave_benchmark_journals_a_fraction_of_the_bytes() -> None:
    rows = autosave.run(2_000, saves=4)
    assert {row.name for row in rows} == {autosave.JOURNAL, autosave.FULL}
    journal = next(row for row in rows if row.name == autosave.JOURNAL)
    full = next(row for row in rows if row.name == autosave.FULL)
    assert (journal.saves, full.saves) == (4, 4)
    assert (journal.full_saves, full.full_saves) == (0, 4)
    size_ratio, _ = autosave.ratios(rows)
    assert size_ratio <= autosave.SIZE_TARGET


def test_the_benchmark_prints_its_table_and_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    assert autosave.main(["--quick", "--saves", "2"]) == 0
    printed = capsys.readouterr().out
    assert "| 2,000 | 2 | journal |" in printed
    assert "the journal writes" in printed
