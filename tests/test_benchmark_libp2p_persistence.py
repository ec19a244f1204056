"""`python -m benchmarks.libp2p_persistence --quick` runs end to end: every contender's
correctness check passes and it prints both tables, so the benchmark cannot rot between full
runs."""

import gc
from pathlib import Path

import pytest
from libp2p.peer.persistent import create_sync_sqlite_peerstore

from benchmarks import libp2p_persistence as bench


def test_the_quick_libp2p_persistence_benchmark_runs_and_reports_both_tables(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert bench.main(["--quick", "--dir", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    assert "| N peers | contender | median ms | µs/peer | vs nodesnap, new node |" in out
    assert "| N peers | contender | median ms | µs/peer | vs nodesnap |" in out
    for size in bench.QUICK_SIZES:
        assert out.count(f"\n| {size:,} | ") == 9  # 7 ways to save, 2 to restore
        assert f"N={size:,}: {bench.SQLITE_PER_CALL}: " in out
    assert gc.isenabled()
    assert list(tmp_path.iterdir()) == []  # the stores and their files are removed


def test_the_benchmark_host_holds_more_peers_than_py_libp2p_keeps_by_default() -> None:
    peers = bench.build_peers(1_200)  # py-libp2p's PeerStore evicts beyond 1,000 by default
    host = bench.fresh_host(len(peers))
    bench.populate(host.get_peerstore(), peers)

    assert len(bench.view(host.get_peerstore(), peers)) == 1_200


def test_a_sqlite_store_written_in_one_batch_holds_what_per_call_writes_leave(
    tmp_path: Path,
) -> None:
    peers = bench.build_peers(100)
    per_call = create_sync_sqlite_peerstore(tmp_path / "per-call.db")
    bench.populate(per_call, peers)
    per_call.close()
    bench.write_batch(tmp_path / "batch.db", peers)

    written = bench.reload_sqlite(tmp_path / "per-call.db")
    batched = bench.reload_sqlite(tmp_path / "batch.db")
    try:
        held = bench.view(batched, peers)
        assert held == bench.view(written, peers)
        assert len(held) == 100
    finally:
        written.close()
        batched.close()
