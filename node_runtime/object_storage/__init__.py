"""nodesnap over object storage (install the extra: `pip install 'nodesnap[s3]'`).

`ObjectStore` keeps one node's snapshots and journal in S3-compatible storage (or GCS, Azure:
any store `obstore` opens) with `DirectoryStore`'s interface and guarantees; `Replicator` ships
a store directory there in the background, resumably; `pull` brings the newest verified state
back to a fresh machine; `list_fleet` lists the nodes under a fleet prefix. The only package
of nodesnap that imports `obstore`: `import node_runtime` never does. docs/storage.md shows a
fleet's set-up.
"""

from node_runtime.object_storage.fleet import FleetNode, list_fleet
from node_runtime.object_storage.object_store import ObjectStore
from node_runtime.object_storage.pull import pull
from node_runtime.object_storage.replicator import (
    Lag,
    ReplicationReport,
    ReplicationTargetError,
    Replicator,
)

__all__ = [
    "FleetNode",
    "Lag",
    "ObjectStore",
    "ReplicationReport",
    "ReplicationTargetError",
    "Replicator",
    "list_fleet",
    "pull",
]
