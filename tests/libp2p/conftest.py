"""Registers the fixtures of `libp2p_hosts.py` for the tests of this directory (mypy skips this
file: a second module named `conftest` would clash with the one in tests/)."""

from libp2p_hosts import make_host, run_trio, running_host, stop_pubsub_cache_threads

__all__ = ["make_host", "run_trio", "running_host", "stop_pubsub_cache_threads"]
