"""Fixed keys the harnesses (and the seed generator) share, so seeds reach signed and encrypted
paths: the node identity whose snapshots are sealed and restored, and the encryption key."""

from __future__ import annotations

from node_runtime import Identity

IDENTITY = Identity.from_private_bytes(bytes(32))
"""The node every seed belongs to: signs sealed seeds, owns restored snapshots."""
ENCRYPTION_KEY = bytes(range(32))
"""The AES-256-GCM key encrypted seeds are sealed with."""
OTHER_KEY = bytes([0xEE]) * 32
"""A key the files were not sealed with (the wrong-key path)."""
