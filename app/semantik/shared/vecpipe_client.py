"""HTTP client for vecpipe, the only owner of the vector store (webui and worker use this)."""

from __future__ import annotations

from typing import Any

import httpx

from semantik.shared.config import Settings
from semantik.shared.errors import EntityNotFoundError, ServiceUnavailableError, ValidationError


class VecpipeClient:
    def __init__(self, settings: Settings, timeout: float | None = None):
        self._http = httpx.Client(
            base_url=settings.vecpipe_url,
            timeout=timeout or settings.vecpipe_timeout,
            headers={"X-Internal-Api-Key": settings.internal_api_key or ""},
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ServiceUnavailableError(
                f"vecpipe unavailable: {error.__class__.__name__}: {error}"
            ) from None
        if response.status_code == 404:
            body = kwargs.get("json") or {}
            name = body.get("collection_name", body.get("collection", path))
            raise EntityNotFoundError("Vector collection", name)
        if response.status_code in (400, 413, 422):
            raise ValidationError(f"vecpipe refused the request: {_detail(response)}")
        if response.status_code >= 300:
            raise ServiceUnavailableError(f"vecpipe answered {response.status_code}: {_detail(response)}")
        return response.json() if response.content else None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def search(self, collection: str, query: str, k: int, **options: Any) -> dict[str, Any]:
        return self._call(
            "POST", "/search", json={"collection": collection, "query": query, "k": k, **options}
        )

    def create_collection(self, name: str) -> dict[str, Any]:
        return self._call("POST", "/collections", json={"name": name})

    def delete_collection(self, name: str) -> None:
        self._call("DELETE", f"/collections/{name}")

    def collection_info(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/collections/{name}")

    def embed(self, texts: list[str], *, mode: str = "document", batch_size: int = 32) -> list[list[float]]:
        answer = self._call("POST", "/embed", json={"texts": texts, "mode": mode, "batch_size": batch_size})
        return answer["embeddings"]

    def upsert(self, collection: str, points: list[dict[str, Any]], *, wait: bool = True) -> int:
        answer = self._call(
            "POST", "/upsert", json={"collection_name": collection, "points": points, "wait": wait}
        )
        return int(answer.get("points_upserted", len(points)))

    def delete_points(self, collection: str, doc_ids: list[str]) -> None:
        self._call("POST", "/points/delete", json={"collection_name": collection, "doc_ids": doc_ids})


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]
