"""POST /upsert and /points/delete: idempotent by id, dimensions and batch limits checked."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from semantik.vecpipe.store.base import VectorQuery

SIZE = 8


def _point(point_id: object, doc: str = "d1", size: int = SIZE) -> dict[str, object]:
    return {
        "id": point_id,
        "vector": [0.5] * size,
        "payload": {"doc_id": doc, "chunk_id": f"{doc}-{point_id}"},
    }


@pytest.fixture
def collection(api: TestClient) -> str:
    api.post("/collections", json={"name": "col_p", "vector_size": SIZE})
    return "col_p"


def _count(api: TestClient, collection: str, **params: object) -> int:
    return api.get(f"/collections/{collection}/count", params=params).json()["count"]


def test_upsert_is_idempotent_by_point_id(api: TestClient, collection: str) -> None:
    ids = [1, str(uuid.uuid5(uuid.NAMESPACE_URL, "doc/chunk-0")), 2]
    points = [_point(point_id) for point_id in ids]
    for _ in range(2):
        answer = api.post("/upsert", json={"collection_name": collection, "points": points, "wait": True})
        assert answer.status_code == 200
        body = answer.json()
        assert (body["status"], body["points_upserted"], body["collection_name"]) == (
            "success",
            3,
            collection,
        )
    assert _count(api, collection) == 3


def test_upsert_replaces_the_payload_of_an_existing_id(api: TestClient, collection: str) -> None:
    api.post("/upsert", json={"collection_name": collection, "points": [_point(7, "old")]})
    api.post("/upsert", json={"collection_name": collection, "points": [_point(7, "new")], "wait": False})
    assert (_count(api, collection, doc_id="old"), _count(api, collection, doc_id="new")) == (0, 1)


def test_wrong_dimension_is_refused_naming_both(api: TestClient, collection: str) -> None:
    points = [_point(1), _point(2, size=3)]
    answer = api.post("/upsert", json={"collection_name": collection, "points": points})
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "dimension_mismatch: vectors have dimension 3 but collection 'col_p' has dimension 8"
    }
    assert _count(api, collection) == 0  # nothing of a refused batch is stored


def test_unknown_collection_is_404(api: TestClient) -> None:
    answer = api.post("/upsert", json={"collection_name": "nowhere", "points": [_point(1)]})
    assert (answer.status_code, answer.json()) == (404, {"detail": "Collection with ID 'nowhere' not found"})


@pytest.mark.parametrize(
    ("points", "reason"),
    [
        ([], "at least 1 item"),
        ([_point(i) for i in range(1001)], "at most 1000 items"),
        ([_point(-1)], "must be >= 0"),
        ([_point("not-a-uuid")], "must be a UUID"),
        ([_point(1.5)], "id"),
        ([{"id": 1, "vector": [], "payload": {"doc_id": "d", "chunk_id": "c"}}], "at least 1 item"),
        ([{"id": 1, "vector": [1.0], "payload": {"chunk_id": "c"}}], "doc_id"),
        ([{"id": 1, "vector": [1.0], "payload": {"doc_id": "d", "chunk_id": "c"}, "extra": 1}], "extra"),
    ],
)
def test_bad_batches_are_refused(api: TestClient, collection: str, points: list[object], reason: str) -> None:
    answer = api.post("/upsert", json={"collection_name": collection, "points": points})
    assert answer.status_code == 422
    assert reason in str(answer.json()["detail"])


def test_payload_fields_the_worker_stores_are_kept(api: TestClient, collection: str) -> None:
    payload = {
        "doc_id": "d9",
        "chunk_id": "d9-0",
        "path": "/a/b.txt",
        "content": "text",
        "metadata": {"lang": "en"},
        "chunk_index": 0,
        "total_chunks": 2,
        "collection_id": "c-uuid",
        "mime_type": "text/plain",
    }
    point = {"id": 9, "vector": [1.0] * SIZE, "payload": payload}
    api.post("/upsert", json={"collection_name": collection, "points": [point]})
    hit = api.app.state.store.search(collection, VectorQuery([1.0] * SIZE), 1)[0]
    assert hit.payload == payload


def test_delete_removes_every_point_of_the_documents_only(api: TestClient, collection: str) -> None:
    points = [_point(1, "a"), _point(2, "a"), _point(3, "b"), _point(4, "c")]
    api.post("/upsert", json={"collection_name": collection, "points": points})
    answer = api.post("/points/delete", json={"collection_name": collection, "doc_ids": ["a", "c", "zzz"]})
    assert answer.json() == {"status": "success", "collection_name": collection, "points_deleted": 3}
    assert _count(api, collection) == 1 and _count(api, collection, doc_id="b") == 1


def test_delete_refuses_bad_requests(api: TestClient, collection: str) -> None:
    assert api.post("/points/delete", json={"collection_name": collection, "doc_ids": []}).status_code == 422
    answer = api.post("/points/delete", json={"collection_name": "nowhere", "doc_ids": ["a"]})
    assert answer.status_code == 404


def _chunk(doc: str, index: int) -> dict[str, object]:
    point = _point(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{doc}/{index}")), doc)
    point["payload"] |= {"chunk_index": index, "content": f"{doc} chunk {index}", "total_chunks": 6}
    return point


def test_a_documents_chunks_are_read_by_index_in_order(api: TestClient, collection: str) -> None:
    points = [_chunk("d1", i) for i in range(6)] + [_chunk("d2", i) for i in range(3)]
    api.post("/upsert", json={"collection_name": collection, "points": points})
    answer = api.post(
        "/points/chunks", json={"collection_name": collection, "doc_id": "d1", "chunk_indexes": [4, 2, 3, 9]}
    )
    assert answer.status_code == 200, answer.text
    chunks = answer.json()["chunks"]
    assert [(c["doc_id"], c["chunk_index"], c["content"]) for c in chunks] == [
        ("d1", 2, "d1 chunk 2"),
        ("d1", 3, "d1 chunk 3"),
        ("d1", 4, "d1 chunk 4"),
    ]


def test_reading_chunks_is_bounded_and_needs_a_known_collection(api: TestClient, collection: str) -> None:
    too_many = {"collection_name": collection, "doc_id": "d1", "chunk_indexes": list(range(51))}
    assert api.post("/points/chunks", json=too_many).status_code == 422
    unknown = {"collection_name": "col_none", "doc_id": "d1", "chunk_indexes": [0]}
    assert api.post("/points/chunks", json=unknown).status_code == 404


@pytest.mark.parametrize("body", [b'{"collection_name": "col_p", "points": [', b"not json", b'{"a": NaN'])
def test_a_body_that_is_not_json_is_refused_with_the_reason(
    api: TestClient, collection: str, body: bytes
) -> None:
    answer = api.post("/upsert", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"
    assert _count(api, collection) == 0
