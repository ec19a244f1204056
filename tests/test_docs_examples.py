"""Every Python example in the README and docs runs, so the docs cannot rot."""

import doctest
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import pytest

import node_runtime
import snapshot_schema

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    pytest.param(block, id=f"{path.name}:{number}")
    for path in DOCUMENTS
    for number, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S))
]


@pytest.mark.parametrize("source", BLOCKS)
def test_documented_example_runs(source: str) -> None:
    exec(compile(source, "<doc example>", "exec"), {})  # our own docs


def _modules_with_examples() -> list[str]:
    """Every module of our packages whose source holds a docstring example."""
    names = []
    for package in (snapshot_schema, node_runtime):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            spec = importlib.util.find_spec(module.name)
            assert spec is not None
            assert spec.origin is not None
            if ">>> " in Path(spec.origin).read_text():
                names.append(module.name)
    return [snapshot_schema.__name__, node_runtime.__name__, *names]


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples_run(name: str) -> None:
    results = doctest.testmod(importlib.import_module(name))
    assert results.attempted > 0
    assert results.failed == 0
