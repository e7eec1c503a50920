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
            raise EntityNotFoundError("Vector collection", kwargs.get("json", {}).get("collection", path))
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


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]
