"""nodesnap for py-libp2p hosts (install the extra: `pip install 'nodesnap[libp2p]'`).

The only package of nodesnap that imports `libp2p` and `trio`: `import node_runtime` never does.
docs/libp2p.md shows how a host adds crash-safe state in a few lines.
"""

__all__: list[str] = []
