"""The atheris side of a harness, kept apart so the `check` functions import without atheris
(which ships no type information) and the test suite never needs it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

INSTRUMENTED_PACKAGES = (
    "snapshot_schema",
    "node_runtime",
    "fuzz",
    "multiformats",
    "bases",
    "ipaddress",
)
"""The coverage feedback: our code, and the pure-Python parsers it hands untrusted text to
(multibase decoding, IP address syntax). msgpack's C extension and `cryptography` give none."""

_instrumented = False


def _atheris() -> Any:  # noqa: ANN401 - atheris has no type information
    import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]

    return atheris


def load_instrumented(target: str) -> Any:  # noqa: ANN401 - the harness module
    """Import `fuzz.fuzz_<target>` (and through it our packages) with coverage instrumentation.

    Must run before anything imports `snapshot_schema` or `node_runtime`: atheris instruments
    modules as they are imported."""
    global _instrumented  # noqa: PLW0603 - one flag per process
    already = [
        name for name in sys.modules if name.split(".")[0] in ("snapshot_schema", "node_runtime")
    ]
    atheris = _atheris()
    with atheris.instrument_imports(include=list(INSTRUMENTED_PACKAGES)):
        module = importlib.import_module(f"fuzz.fuzz_{target}")
    _instrumented = not already
    return module


def fuzz(check: Callable[[bytes], None], argv: Sequence[str]) -> None:
    """Hand `check` to libFuzzer; `argv` carries libFuzzer's flags (`-runs=`, `-timeout=`, …).

    An exception escaping `check` is a contract violation: atheris prints it, writes the input to
    `crash-<sha1>` (or `-exact_artifact_path`) and exits non-zero."""
    atheris = _atheris()
    if not _instrumented:
        # Started as `python -m fuzz.fuzz_<target>`: our packages were imported uninstrumented.
        atheris.instrument_all()

    def test_one_input(data: bytes) -> None:
        check(data)

    atheris.Setup(list(argv), test_one_input)
    atheris.Fuzz()
