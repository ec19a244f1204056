"""`import node_runtime` never imports py-libp2p, trio or multiaddr: the core, the command line
and the pytest plugin work without the `libp2p` extra, and do not pay for its import (about
two seconds). Only `node_runtime.libp2p_adapter` imports them."""

from __future__ import annotations

import subprocess
import sys

import pytest

EXTRA_ONLY = ("libp2p", "trio", "multiaddr")


def imported_after(module: str) -> set[str]:
    """The top-level packages of EXTRA_ONLY a fresh interpreter holds after importing
    `module`."""
    probe = (
        f"import sys, {module}\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        f"print(' '.join(sorted(loaded & {set(EXTRA_ONLY)!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "module",
    ["node_runtime", "node_runtime.cli.main", "node_runtime.testing.pytest_plugin"],
)
def test_the_core_imports_none_of_the_libp2p_extra(module: str) -> None:
    assert imported_after(module) == set()


def test_the_adapter_does_import_them() -> None:
    # The probe sees these imports when they happen.
    assert imported_after("node_runtime.libp2p_adapter") == set(EXTRA_ONLY)
