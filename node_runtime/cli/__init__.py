"""The `nodesnap` operator command line (`python -m node_runtime` runs it too); see docs/cli.md."""

from node_runtime.cli.main import main

__all__ = ["main"]
