"""GET /health: model loaded (device, effective dtype and why) and vector store reachable.

Open (no key), so systemd, Ansible and the webui's readiness check can call it. 503 when the store
is unreachable; "degraded" (still 200) when mock embeddings are in effect. The dtype a quantization
setting runs as on this hardware, and the reason, are in components.embedding (effective_dtype, reason).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from semantik.shared.errors import SemantikError
from semantik.vecpipe.api.deps import EmbedderDep, StoreDep
from semantik.vecpipe.models import ModelInfo

router = APIRouter(tags=["health"])


def _embedding(info: ModelInfo) -> dict[str, Any]:
    return {"status": "healthy", "loaded": True, **asdict(info)}


def _warnings(info: ModelInfo) -> list[str]:
    if info.mock:
        return ["USE_MOCK_EMBEDDINGS=true: vectors are hashed noise, not a model's embeddings"]
    return []


@router.get("/health")
def health(embedder: EmbedderDep, store: StoreDep) -> JSONResponse:
    try:
        vector_store = {"status": "healthy", "backend": store.backend, "message": store.ping()}
    except SemantikError as error:
        vector_store = {"status": "unhealthy", "backend": store.backend, "message": str(error)}
    warnings = _warnings(embedder.info)
    reachable = vector_store["status"] == "healthy"
    body = {
        "status": ("degraded" if warnings else "healthy") if reachable else "unhealthy",
        "components": {"qdrant": vector_store, "embedding": _embedding(embedder.info)},
        "warnings": warnings,
    }
    return JSONResponse(body, status_code=200 if reachable else 503)
