"""nodesnap over object storage (install the extra: `pip install 'nodesnap[s3]'`).

`ObjectStore` keeps one node's snapshots and journal in S3-compatible storage (or GCS, Azure:
any store `obstore` opens) with `DirectoryStore`'s interface and guarantees. The only package
of nodesnap that imports `obstore`: `import node_runtime` never does. docs/storage.md shows a
fleet's set-up.
"""

from node_runtime.object_storage.object_store import ObjectStore

__all__ = ["ObjectStore"]
