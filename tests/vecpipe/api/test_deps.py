"""The internal key: every route but /health needs it; compared in constant time."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from semantik.vecpipe.api import deps
from vecpipe.helpers import KEY

PROTECTED = [
    ("POST", "/embed", {"texts": ["x"]}),
    ("POST", "/search", {"collection": "c", "query": "x"}),
    ("GET", "/collections", None),
    ("POST", "/collections", {"name": "c"}),
    ("GET", "/collections/c", None),
    ("GET", "/collections/c/count", None),
    ("DELETE", "/collections/c", None),
    ("POST", "/upsert", {"collection_name": "c", "points": []}),
    ("POST", "/points/delete", {"collection_name": "c", "doc_ids": ["d"]}),
    ("POST", "/points/chunks", {"collection_name": "c", "doc_id": "d", "chunk_indexes": [0]}),
    ("POST", "/collections/c/snapshots", None),
    ("GET", "/collections/c/snapshots", None),
    ("POST", "/collections/c/snapshots/c-1.snapshot/restore", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
@pytest.mark.parametrize("key", [None, "", "wrong", KEY + "x", KEY[:-1]])
def test_protected_routes_refuse_a_missing_or_wrong_key(
    anonymous: TestClient, method: str, path: str, body: object, key: str | None
) -> None:
    headers = {} if key is None else {"X-Internal-Api-Key": key}
    answer = anonymous.request(method, path, json=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"detail": "Invalid or missing X-Internal-Api-Key header"}


def test_every_route_but_health_is_protected(anonymous: TestClient) -> None:
    published = {
        (method.upper(), path) for path, item in anonymous.app.openapi()["paths"].items() for method in item
    }
    listed = {
        (
            method,
            path.replace("/c/snapshots/c-1.snapshot", "/{name}/snapshots/{snapshot}").replace(
                "/collections/c", "/collections/{name}"
            ),
        )
        for method, path, _ in PROTECTED
    }
    assert published - listed == {("GET", "/health")}
    assert listed <= published


def test_health_is_open(anonymous: TestClient, api: TestClient) -> None:
    assert anonymous.get("/health").status_code == 200


def test_the_right_key_passes(api: TestClient) -> None:
    assert api.get("/collections").status_code == 200


def test_the_key_is_compared_with_compare_digest(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []

    def spy(given: bytes, expected: bytes) -> bool:
        seen.append((given, expected))
        return given == expected

    monkeypatch.setattr(deps.hmac, "compare_digest", spy)
    assert api.get("/collections").status_code == 200
    assert seen == [(KEY.encode(), KEY.encode())]
