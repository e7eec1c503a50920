"""Shared helpers of the vecpipe tests: the test key, isolated settings, storing texts through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from semantik.shared import sparse
from semantik.shared.config import Settings

KEY = "vecpipe-test-key-0123456789abcdef0123456789"
HEADERS = {"X-Internal-Api-Key": KEY}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings that ignore whatever the surrounding environment holds for vecpipe."""
    values: dict[str, Any] = {
        "environment": "test",
        "internal_api_key": KEY,
        "use_mock_embeddings": True,
        "qdrant_host": None,
        "qdrant_path": tmp_path / "qdrant",
        "data_dir": tmp_path,
        "default_embedding_model": "test-model",
        "default_quantization": "float32",
    }
    return Settings(**{**values, **overrides})


def upsert_texts(
    client: TestClient, collection: str, docs: dict[str, str], sparse_index: bool = False
) -> None:
    """Embed each document's text through /embed and store it as one point (doc_id -> text), with
    its BM25 vector as the worker encodes it when ``sparse_index``."""
    vectors = client.post("/embed", json={"texts": list(docs.values())}).json()["embeddings"]
    points = [
        {
            "id": index,
            "vector": vector,
            "payload": {
                "doc_id": doc,
                "chunk_id": f"{doc}-0",
                "path": f"/docs/{doc}.txt",
                "content": text,
                "chunk_index": 0,
                "total_chunks": 1,
            },
        }
        for index, ((doc, text), vector) in enumerate(zip(docs.items(), vectors, strict=True))
    ]
    if sparse_index:
        for point, encoded in zip(points, sparse.encode_documents(list(docs.values())), strict=True):
            point["sparse_vector"] = encoded
    answer = client.post("/upsert", json={"collection_name": collection, "points": points})
    assert answer.status_code == 200, answer.text
