"""Coverage-guided fuzz harnesses (atheris), one module per parser that reads untrusted bytes.

Each harness module exposes `check(data: bytes) -> None`, the contract it enforces: the input
yields a valid result or one of our `SnapshotError` subclasses, and nothing else escapes. The
checks import without atheris, so the normal test suite replays every corpus and regression file
through them (`tests/test_fuzz_regressions.py`). Run a harness with `python -m fuzz <target>`;
see `fuzz/README.md`.

Importing this package imports no target code, so `python -m fuzz` can instrument it.
"""

TARGETS = ("decode", "sealed", "multiaddr", "peer_id", "restore", "decode_delta")
"""Every harness: `fuzz.fuzz_<target>` holds its `check`, `fuzz/corpus/<target>/` its seeds and
`fuzz/regressions/<target>/` the inputs that once broke its contract."""
