"""The README's main job runs to a passing report, on a fresh data directory and again on it."""

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "examples" / "restart_demo.py"


def test_demo_passes_its_checks_and_keeps_its_identity_across_runs(tmp_path: Path) -> None:
    runs = [
        subprocess.run(
            [sys.executable, str(DEMO)], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "FAIL" not in run.stdout
        assert run.stdout.count("ok  ") == 5
    first, second = (run.stdout.splitlines()[0] for run in runs)
    assert first == second  # the same PeerId: the key file was reused
    assert len(list((tmp_path / "nodesnap-data" / "store").glob("*.nsnap"))) >= 3
