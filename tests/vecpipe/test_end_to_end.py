"""The real test model and the embedded store behind the HTTP API: index a few documents, find them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vecpipe.helpers import upsert_texts

DOCS = {
    "cats": "Cats sleep up to sixteen hours a day, often in warm sunny spots.",
    "backup": "Restore the database from the nightly dump and verify the checksum.",
    "gpu": "The graphics card has 24 GB of memory for the embedding model.",
    "bread": "Knead the dough for ten minutes and let it rise for an hour.",
}


def test_search_finds_documents_by_meaning(model_api: TestClient) -> None:
    assert model_api.post("/collections", json={"name": "col_e2e"}).json()["vector_size"] == 384
    upsert_texts(model_api, "col_e2e", DOCS)
    queries = {
        "how long do kittens nap?": "cats",
        "recovering data after a crash": "backup",
        "video RAM for the model": "gpu",
        "baking instructions": "bread",
    }
    for query, expected in queries.items():
        answer = model_api.post("/search", json={"query": query, "collection": "col_e2e", "k": 4})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert results[0]["doc_id"] == expected, (query, results)
        assert results[0]["score"] > results[1]["score"]


def test_filters_and_content_with_the_real_model(model_api: TestClient, model_path: str) -> None:
    model_api.post("/collections", json={"name": "col_f"})
    upsert_texts(model_api, "col_f", DOCS)
    body = model_api.post(
        "/search",
        json={
            "query": "kittens",
            "collection": "col_f",
            "filters": ["bread", "gpu"],
            "include_content": True,
            "model_name": model_path,
        },
    ).json()
    assert {hit["doc_id"] for hit in body["results"]} == {"bread", "gpu"}
    assert body["results"][0]["content"] in (DOCS["bread"], DOCS["gpu"])
    assert body["model_used"] == model_path and body["embedding_time_ms"] > 0


def test_a_long_document_is_truncated_and_reported(model_api: TestClient) -> None:
    body = model_api.post("/embed", json={"texts": ["word " * 1000, "short"], "mode": "document"}).json()
    assert body["truncated"] == 1 and "limit of 256 tokens" in body["warnings"][0]
    assert len(body["embeddings"]) == 2
