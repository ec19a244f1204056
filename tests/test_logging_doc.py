"""docs/logging.md names exactly the loggers the code logs through."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from pathlib import Path

import node_runtime
import snapshot_schema

DOC = Path(__file__).resolve().parent.parent / "docs" / "logging.md"


def _loggers_in_code() -> set[str]:
    names: set[str] = set()
    for package in (snapshot_schema, node_runtime):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name.endswith(".__main__"):
                continue  # importing it runs the command
            loaded = importlib.import_module(module.name)
            names.update(
                value.name for value in vars(loaded).values() if isinstance(value, logging.Logger)
            )
    return names


def test_the_logging_doc_lists_every_logger_and_no_other() -> None:
    documented = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", DOC.read_text(), re.M))
    assert documented == _loggers_in_code()


def test_every_logger_is_under_the_node_runtime_root() -> None:
    assert all(name.startswith("node_runtime.") for name in _loggers_in_code())
