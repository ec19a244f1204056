"""Every Python example in the README and docs runs, so the docs cannot rot."""

import doctest
import re
from pathlib import Path
from types import ModuleType

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


@pytest.mark.parametrize("package", [snapshot_schema, node_runtime])
def test_package_docstring_examples_run(package: ModuleType) -> None:
    assert doctest.testmod(package).failed == 0
