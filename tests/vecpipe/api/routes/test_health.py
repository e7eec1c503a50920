"""GET /health: what is loaded and whether the vector store answers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient

from semantik.vecpipe.main import create_app
from semantik.vecpipe.models import MockEmbedder
from semantik.vecpipe.store.base import StoreUnavailableError
from semantik.vecpipe.store.edge import EdgeStore
from vecpipe.helpers import make_settings


class UnreachableStore(EdgeStore):
    def ping(self) -> str:
        raise StoreUnavailableError("qdrant server at q:6333 unreachable while trying to list collections")


def test_health_reports_model_device_dtype_and_store(api: TestClient) -> None:
    body = api.get("/health").json()
    assert body["components"]["qdrant"] == {
        "status": "healthy",
        "backend": "embedded",
        "message": body["components"]["qdrant"]["message"],
    }
    assert "qdrant-edge at" in body["components"]["qdrant"]["message"]
    embedding = body["components"]["embedding"]
    assert embedding["loaded"] is True
    assert (embedding["device"], embedding["effective_dtype"], embedding["dimension"]) == (
        "cpu",
        "float32",
        384,
    )
    assert embedding["mock"] is True


def test_mock_embeddings_are_never_silent(api: TestClient) -> None:
    body = api.get("/health").json()
    assert body["status"] == "degraded"
    assert any("USE_MOCK_EMBEDDINGS" in warning for warning in body["warnings"])


def test_the_precision_chosen_for_this_cpu_and_why_show_in_health(tmp_path: Path) -> None:
    embedder = MockEmbedder("m", "float16")
    embedder.info = replace(
        embedder.info, mock=False, effective_dtype="float32", reason="this CPU has no native bfloat16"
    )
    with TestClient(create_app(make_settings(tmp_path), embedder=embedder)) as client:
        body = client.get("/health").json()
    assert (body["status"], body["warnings"]) == ("healthy", [])  # a chosen path is not a fault
    embedding = body["components"]["embedding"]
    assert (embedding["quantization"], embedding["effective_dtype"], embedding["reason"]) == (
        "float16",
        "float32",
        "this CPU has no native bfloat16",
    )


def test_an_unreachable_store_answers_503(tmp_path: Path) -> None:
    store = UnreachableStore(tmp_path / "qdrant")
    try:
        with TestClient(create_app(make_settings(tmp_path), store=store)) as client:
            answer = client.get("/health")
    finally:
        store.close()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unhealthy"
    assert body["components"]["qdrant"]["status"] == "unhealthy"
    assert "unreachable" in body["components"]["qdrant"]["message"]
    assert body["components"]["embedding"]["loaded"] is True
