"""The bounded fuzz run CI makes shows why a harness failed: the Python traceback included."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from fuzz import run_all

# What a harness whose check raised looks like to its caller: atheris prints the Python
# traceback on stdout, libFuzzer its summary on stderr, and the process exits 77.
FAILING_HARNESS = textwrap.dedent(
    """
    import sys
    print("Traceback (most recent call last):")
    print('  File "fuzz_decode.py", line 1, in check')
    print("RuntimeError: the contract broke here")
    print("==1== ERROR: libFuzzer: fuzz target exited", file=sys.stderr)
    sys.exit(77)
    """
)


def test_a_failing_harness_shows_its_python_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "harness.py"
    script.write_text(FAILING_HARNESS)

    def build(target: str, runs: int, seed: int, work: Path, extra: list[str]) -> list[str]:
        return [sys.executable, str(script)]

    assert not run_all.run("decode", 10, 1, [], build)
    captured = capsys.readouterr()
    assert "RuntimeError: the contract broke here" in captured.err
    assert "fuzz target exited" in captured.err
    assert "FAIL decode: exit 77" in captured.out
