"""Collections: idempotent create, info, count, list, delete; names and sizes checked."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def _point(index: int, doc: str, size: int = 384) -> dict[str, object]:
    return {
        "id": index,
        "vector": [1.0] + [0.0] * (size - 1),
        "payload": {"doc_id": doc, "chunk_id": f"{doc}-{index}"},
    }


def test_create_is_idempotent(api: TestClient) -> None:
    first = api.post("/collections", json={"name": "col_a"})
    again = api.post("/collections", json={"name": "col_a"})
    created = {"name": "col_a", "vector_size": 384, "sparse_index": False, "created": True}
    assert (first.status_code, first.json()) == (201, created)
    assert (again.status_code, again.json()) == (200, {**created, "created": False})


def test_a_sparse_index_is_part_of_the_layout(api: TestClient) -> None:
    first = api.post("/collections", json={"name": "col_h", "sparse_index": True})
    again = api.post("/collections", json={"name": "col_h", "sparse_index": True})
    assert (first.status_code, again.status_code, again.json()["sparse_index"]) == (201, 200, True)
    assert api.get("/collections/col_h").json()["sparse_vectors"] == ["bm25"]
    dense_only = api.post("/collections", json={"name": "col_h"})
    assert dense_only.status_code == 409
    assert dense_only.json() == {"detail": "collection 'col_h' already exists with a sparse index"}
    api.post("/collections", json={"name": "col_d"})
    assert api.get("/collections/col_d").json()["sparse_vectors"] == []
    sparse = api.post("/collections", json={"name": "col_d", "sparse_index": True})
    assert sparse.json() == {"detail": "collection 'col_d' already exists with no sparse index"}


def test_create_with_another_size_conflicts_naming_both(api: TestClient) -> None:
    api.post("/collections", json={"name": "col_a", "vector_size": 384})
    answer = api.post("/collections", json={"name": "col_a", "vector_size": 768})
    assert answer.status_code == 409
    assert answer.json() == {"detail": "collection 'col_a' already exists with dimension 384, not 768"}


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "x" * 256, "sp ace"])
def test_unsafe_names_are_refused(api: TestClient, name: str) -> None:
    answer = api.post("/collections", json={"name": name})
    assert answer.status_code == 400
    assert "invalid collection name" in answer.json()["detail"]


def test_info_count_and_list(api: TestClient) -> None:
    api.post("/collections", json={"name": "col_b", "vector_size": 4})
    points = [_point(0, "d1", 4), _point(1, "d1", 4), _point(2, "d2", 4)]
    assert api.post("/upsert", json={"collection_name": "col_b", "points": points}).status_code == 200
    info = api.get("/collections/col_b").json()
    assert info["name"] == "col_b" and info["backend"] == "embedded"
    assert (info["vector_size"], info["distance"], info["points_count"]) == (4, "Cosine", 3)
    assert {"doc_id", "chunk_id", "collection_id"} <= set(info["payload_indexes"])
    assert api.get("/collections/col_b/count").json() == {"collection_name": "col_b", "count": 3}
    assert api.get("/collections/col_b/count", params={"doc_id": "d1"}).json()["count"] == 2
    assert (
        api.get("/collections/col_b/count", params=[("doc_id", "d1"), ("doc_id", "d2")]).json()["count"] == 3
    )
    assert api.get("/collections").json() == {"collections": ["col_b"]}


def test_delete_then_unknown(api: TestClient) -> None:
    api.post("/collections", json={"name": "col_c"})
    assert api.delete("/collections/col_c").json() == {"status": "deleted", "collection_name": "col_c"}
    for answer in (
        api.get("/collections/col_c"),
        api.delete("/collections/col_c"),
        api.get("/collections/col_c/count"),
    ):
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Collection with ID 'col_c' not found"}
    assert api.post("/collections", json={"name": "col_c"}).status_code == 201  # the name is free again


def test_create_refuses_unknown_fields_and_bad_sizes(api: TestClient) -> None:
    assert api.post("/collections", json={"name": "c", "distance": "Dot"}).status_code == 422
    assert api.post("/collections", json={"name": "c", "vector_size": 0}).status_code == 422
