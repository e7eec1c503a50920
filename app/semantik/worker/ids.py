"""Deterministic identifiers, so a retried or re-run operation overwrites instead of duplicating.

A document's id comes from its collection and path, a chunk's from its document and position: the
same file in the same collection always yields the same vector point ids, whichever attempt wrote
them.
"""

from __future__ import annotations

import uuid

# A fixed namespace of our own; changing it would orphan every stored point.
NAMESPACE = uuid.UUID("5b0c1f5e-6d2a-4c8e-9f3e-2a7d1c9b8e40")


def document_id(collection_id: str, file_path: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"document/{collection_id}/{file_path}"))


def chunk_id(collection_id: str, doc_id: str, chunk_index: int) -> str:
    """Also the vector point id of the chunk."""
    return str(uuid.uuid5(NAMESPACE, f"chunk/{collection_id}/{doc_id}/{chunk_index}"))
