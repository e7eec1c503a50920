"""POST /search with mock embeddings: the contract's fields, filters, limits and refusals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from vecpipe.helpers import upsert_texts

DOCS = {"d1": "the first document", "d2": "another text", "d3": "a third one", "d4": "and the last"}
RESULT_KEYS = {"doc_id", "chunk_id", "score", "path", "content", "metadata", "chunk_index", "total_chunks"}
RESPONSE_KEYS = {
    "query",
    "results",
    "num_results",
    "model_used",
    "embedding_time_ms",
    "search_time_ms",
    "reranking_time_ms",
    "search_mode_used",
    "warnings",
    "api_version",
}


@pytest.fixture
def collection(api: TestClient) -> str:
    api.post("/collections", json={"name": "col_s"})
    upsert_texts(api, "col_s", DOCS)
    return "col_s"


def test_search_answers_the_contract(api: TestClient, collection: str) -> None:
    answer = api.post("/search", json={"query": "another text", "k": 2, "collection": collection})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == RESPONSE_KEYS
    assert (body["query"], body["num_results"], body["api_version"]) == ("another text", 2, "1.0")
    assert (body["search_mode_used"], body["model_used"], body["warnings"]) == ("dense", "test-model", [])
    first = body["results"][0]
    assert set(first) == RESULT_KEYS
    assert first["doc_id"] == "d2" and first["score"] == pytest.approx(1.0, abs=1e-5)
    assert (first["chunk_id"], first["path"], first["chunk_index"], first["total_chunks"]) == (
        "d2-0",
        "/docs/d2.txt",
        0,
        1,
    )
    assert first["content"] is None  # include_content defaults to false
    assert body["results"][0]["score"] >= body["results"][1]["score"]


def test_include_content_and_top_k_alias(api: TestClient, collection: str) -> None:
    body = api.post(
        "/search",
        json={"query": "a third one", "top_k": 3, "collection": collection, "include_content": True},
    ).json()
    assert body["num_results"] == 3
    assert body["results"][0]["content"] == "a third one"


@pytest.mark.parametrize(
    "filters", [{"doc_id": "d4"}, ["d4"], {"doc_id": ["d4", "nope"]}, {"chunk_id": "d4-0"}]
)
def test_filters_restrict_to_documents(api: TestClient, collection: str, filters: object) -> None:
    body = api.post(
        "/search", json={"query": "the first document", "collection": collection, "filters": filters}
    ).json()
    assert [hit["doc_id"] for hit in body["results"]] == ["d4"]


def test_score_threshold_drops_weak_hits(api: TestClient, collection: str) -> None:
    body = api.post(
        "/search", json={"query": "and the last", "collection": collection, "score_threshold": 0.5}
    ).json()
    assert [hit["doc_id"] for hit in body["results"]] == ["d4"]


def test_use_reranker_is_reported_not_ignored(api: TestClient, collection: str) -> None:
    body = api.post("/search", json={"query": "x", "collection": collection, "use_reranker": True}).json()
    assert body["warnings"] == [
        "use_reranker: no reranker is configured in vecpipe; results are in vector-score order"
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"query": ""}, "at least 1 character"),
        ({"query": "  "}, "more than whitespace"),
        ({"query": "q" * 1001}, "at most 1000 characters"),
        ({"k": 0}, "greater than or equal to 1"),
        ({"k": 101}, "less than or equal to 100"),
        ({"top_k": 500}, "less than or equal to 100"),
        ({"search_mode": "keyword"}, "'dense', 'sparse' or 'hybrid'"),
        ({"rrf_k": 0}, "greater than or equal to 1"),
        ({"rrf_k": 1001}, "less than or equal to 1000"),
        ({"search_type": "fuzzy"}, "semantic"),
        ({"rerank_model": "x"}, "Extra inputs are not permitted"),
        ({"filters": {"bad key!": "x"}}, "must be a payload field name"),
        ({"filters": []}, "must not be empty"),
        ({"filters": {"doc_id": {"nested": 1}}}, "filters"),
        ({"filters": {"metadata.draft": True}}, "filters"),
        ({"score_threshold": 2}, "less than or equal to 1"),
        ({"collection": None}, "collection"),
    ],
)
def test_bad_requests_are_422_with_a_reason(api: TestClient, change: dict[str, object], reason: str) -> None:
    body = {"query": "x", "collection": "col_s", **change}
    answer = api.post("/search", json=body)
    assert answer.status_code == 422
    assert reason in str(answer.json()["detail"])


def test_unknown_collection_is_404(api: TestClient) -> None:
    answer = api.post("/search", json={"query": "x", "collection": "col_missing"})
    assert (answer.status_code, answer.json()) == (
        404,
        {"detail": "Collection with ID 'col_missing' not found"},
    )


def test_model_and_quantization_mismatches_are_400_naming_both(api: TestClient, collection: str) -> None:
    wrong_model = api.post(
        "/search", json={"query": "x", "collection": collection, "model_name": "Qwen/Qwen3"}
    )
    assert wrong_model.status_code == 400
    assert (
        wrong_model.json()["detail"] == "model_name 'Qwen/Qwen3' does not match the loaded model 'test-model'"
    )
    wrong_quant = api.post(
        "/search", json={"query": "x", "collection": collection, "quantization": "float16"}
    )
    assert wrong_quant.status_code == 400
    assert "'float16'" in wrong_quant.json()["detail"] and "'float32'" in wrong_quant.json()["detail"]
    same = api.post(
        "/search",
        json={
            "query": "x",
            "collection": collection,
            "model_name": "test-model",
            "quantization": "float32",
            "search_type": "question",
            "rrf_k": 10,
        },
    )
    assert same.status_code == 200


def test_a_collection_of_another_dimension_is_400_naming_both(api: TestClient) -> None:
    api.post("/collections", json={"name": "col_small", "vector_size": 16})
    answer = api.post("/search", json={"query": "x", "collection": "col_small"})
    assert answer.status_code == 400
    assert answer.json()["detail"] == (
        "dimension_mismatch: vectors have dimension 384 but collection 'col_small' has dimension 16"
    )


TECHNICAL = {
    "mem": "Set work_mem to bound the memory of each sort",
    "vac": "The autovacuum daemon reclaims dead rows",
    "act": "pg_stat_activity shows one row per server process",
}


@pytest.fixture
def hybrid_collection(api: TestClient) -> str:
    assert api.post("/collections", json={"name": "col_h", "sparse_index": True}).status_code == 201
    upsert_texts(api, "col_h", TECHNICAL, sparse_index=True)
    return "col_h"


def _search(api: TestClient, collection: str, **fields: object) -> dict:
    answer = api.post("/search", json={"collection": collection, **fields})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_each_mode_is_served_and_named(api: TestClient, hybrid_collection: str) -> None:
    sparse = _search(api, hybrid_collection, query="work_mem", search_mode="sparse")
    assert (sparse["search_mode_used"], sparse["results"][0]["doc_id"], sparse["num_results"]) == (
        "sparse",
        "mem",
        1,
    )
    # Mock vectors: the exact text is the dense match (score 1.0), and the identifier the sparse one.
    text = TECHNICAL["vac"]
    dense = _search(api, hybrid_collection, query=text, search_mode="dense")
    assert (dense["search_mode_used"], dense["results"][0]["doc_id"]) == ("dense", "vac")
    hybrid = _search(api, hybrid_collection, query=f"{text} pg_stat_activity", search_mode="hybrid", k=3)
    assert hybrid["search_mode_used"] == "hybrid" and hybrid["warnings"] == []
    assert {hit["doc_id"] for hit in hybrid["results"][:2]} == {"vac", "act"}
    assert all(0.0 < hit["score"] <= 1.0 for hit in hybrid["results"])


def test_rrf_k_changes_the_fused_scores(api: TestClient, hybrid_collection: str) -> None:
    def top(rrf_k: int) -> float:
        body = _search(api, hybrid_collection, query="work_mem memory", search_mode="hybrid", rrf_k=rrf_k)
        return body["results"][-1]["score"]

    assert top(1) != top(60)  # the last of three: 1/(k+2) against the best 2/k


def test_a_mode_the_collection_cannot_serve_is_400(api: TestClient, collection: str) -> None:
    for mode in ("sparse", "hybrid"):
        answer = api.post("/search", json={"query": "x", "collection": collection, "search_mode": mode})
        assert answer.status_code == 400
        assert answer.json()["detail"] == (
            f"collection '{collection}' has no sparse index, which search_mode '{mode}' needs; "
            "a reindex with sparse_index_config enabled builds one"
        )


def test_what_a_search_cannot_honour_is_said(api: TestClient, hybrid_collection: str) -> None:
    body = _search(api, hybrid_collection, query="work_mem", rrf_k=20, search_type="code")
    assert body["warnings"] == [
        "rrf_k applies to search_mode 'hybrid' only; this dense search ignores it",
        "search_type 'code' has no query encoding of its own here; the query was searched as 'semantic'",
    ]
    empty = _search(api, hybrid_collection, query="the and of", search_mode="sparse")
    assert empty["results"] == [] and "no terms the sparse index can match" in empty["warnings"][0]


def test_sparse_vectors_are_checked_on_upsert(api: TestClient, collection: str) -> None:
    point = {"id": 1, "vector": [0.1] * 384, "payload": {"doc_id": "d", "chunk_id": "c"}}
    bad = [
        ({"indices": [1, 2], "values": [1.0]}, "same length"),
        ({"indices": [1, 1], "values": [1.0, 1.0]}, "must not repeat"),
        ({"indices": [-1], "values": [1.0]}, "greater than or equal to 0"),
    ]
    for sparse_vector, reason in bad:
        answer = api.post(
            "/upsert",
            json={"collection_name": collection, "points": [{**point, "sparse_vector": sparse_vector}]},
        )
        assert answer.status_code == 422 and reason in answer.text
    refused = api.post(
        "/upsert",
        json={
            "collection_name": collection,
            "points": [{**point, "sparse_vector": {"indices": [3], "values": [1.0]}}],
        },
    )
    assert refused.status_code == 400 and "has no sparse index" in refused.json()["detail"]
