"""Vector stores: one interface (base.VectorStore), an embedded and a server backend."""

from __future__ import annotations

from semantik.shared.config import Settings
from semantik.vecpipe.store.base import VectorStore


def open_store(settings: Settings) -> VectorStore:
    """The Qdrant server when QDRANT_HOST is set, else the embedded engine at QDRANT_PATH."""
    if settings.qdrant_host:
        from semantik.vecpipe.store.server import ServerStore

        return ServerStore(
            settings.qdrant_host, settings.qdrant_port, settings.qdrant_api_key, https=settings.qdrant_https
        )
    from semantik.vecpipe.store.edge import EdgeStore

    return EdgeStore(settings.qdrant_path or settings.data_dir / "qdrant")
