import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from factories import auth_headers, create_collection, finish_operations


def _search(client, headers, ids, **extra):
    return client.post(
        "/api/v2/search", json={"collection_uuids": ids, "query": "backups", **extra}, headers=headers
    )


def test_vecpipe_down_is_503_naming_vecpipe(dead_vecpipe, client) -> None:
    headers = auth_headers(client, "alice")
    collection = create_collection(client, headers)
    finish_operations(collection["id"])
    response = _search(client, headers, [collection["id"]])
    assert response.status_code == 503
    assert "vecpipe unavailable" in response.json()["detail"]


def test_a_collection_that_is_not_ready_is_a_partial_failure(client) -> None:
    headers = auth_headers(client, "alice")
    pending = create_collection(client, headers, "pending")
    response = client.post(
        "/api/v2/search/single", json={"collection_id": pending["id"], "query": "x"}, headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["partial_failure"], body["results"], body["api_version"]) == (True, [], "2.0")
    assert body["failed_collections"][0]["collection_name"] == "pending"
    assert "not ready" in body["failed_collections"][0]["error_message"]


def test_access_rules_and_bad_requests(client) -> None:
    alice = auth_headers(client, "alice")
    private = create_collection(client, alice, "private")
    bob = auth_headers(client, "bob")
    assert _search(client, bob, [private["id"]]).status_code == 403
    assert _search(client, bob, ["00000000-0000-0000-0000-000000000000"]).status_code == 404
    assert _search(client, alice, [private["id"]], search_mode="keyword").status_code == 422
    assert _search(client, alice, [private["id"]], k=0).status_code == 422
    assert _search(client, alice, [private["id"]], k=101).status_code == 422
    assert _search(client, alice, []).status_code == 422
    assert _search(client, alice, [private["id"]], query="").status_code == 422
    assert _search(client, alice, [private["id"]], surprise=True).status_code == 422


def test_reranker_request_without_a_reranker_is_a_warning(client) -> None:
    headers = auth_headers(client, "alice")
    pending = create_collection(client, headers)
    body = _search(client, headers, [pending["id"]], use_reranker=True).json()
    assert any("no reranker is configured" in warning for warning in body["warnings"])


class _FakeVecpipe(ThreadingHTTPServer):
    """Answers POST /search with a hit per score in `scores` (by vector collection); counts connections."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FakeVecpipeHandler)
        self.connections = 0
        self.bodies: list[dict] = []
        self.scores: dict[str, list[float]] = {}

    def process_request(self, request, client_address) -> None:
        self.connections += 1
        super().process_request(request, client_address)


class _FakeVecpipeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        hits = [
            {"doc_id": f"d{i}", "chunk_id": f"c{i}", "score": score, "path": f"/docs/{i}.txt"}
            for i, score in enumerate(self.server.scores.get(body["collection"], []))
        ]
        answer = {
            "results": hits,
            "embedding_time_ms": 1.0,
            "search_time_ms": 1.0,
            "warnings": ["from vecpipe"],
        }
        content = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


@pytest.fixture
def fake_vecpipe(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[_FakeVecpipe]:
    """This test's webui searches through a fake vecpipe (created before `client`)."""
    from semantik.shared import config

    server = _FakeVecpipe()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("VECPIPE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    config.get_settings.cache_clear()
    yield server
    monkeypatch.undo()
    config.get_settings.cache_clear()
    server.shutdown()
    server.server_close()


def test_searches_reach_vecpipe_over_one_kept_alive_connection(fake_vecpipe: _FakeVecpipe, client) -> None:
    from semantik.shared.db import get_engine

    headers = auth_headers(client, "alice")
    first, second = create_collection(client, headers, "first"), create_collection(client, headers, "second")
    for collection in (first, second):
        finish_operations(collection["id"])
    fake_vecpipe.scores = {first["vector_store_name"]: [0.8, 0.3], second["vector_store_name"]: [0.5]}
    headers["X-Correlation-ID"] = "search42"
    query = {"collection_id": first["id"], "query": "backups", "k": 5}
    for _ in range(3):
        single = client.post("/api/v2/search/single", json=query, headers=headers)
    assert (single.status_code, single.headers["X-Correlation-ID"]) == (200, "search42")
    body = single.json()
    assert (body["partial_failure"], body["failed_collections"]) == (False, None)
    assert [hit["score"] for hit in body["results"]] == [0.8, 0.3]
    assert body["results"][0]["collection_id"] == first["id"]
    assert body["results"][0]["file_name"] == "0.txt"
    assert body["collections_searched"] == [{"id": first["id"], "name": "first", "result_count": 2}]
    assert 0 <= body["search_time_ms"] <= body["total_time_ms"]
    assert fake_vecpipe.bodies[-1] == {
        "collection": first["vector_store_name"],
        "query": "backups",
        "k": 5,
        "include_content": True,
        "search_type": "semantic",
        "score_threshold": 0.0,
        "filters": None,
        "search_mode": "hybrid",  # the default: new collections have a sparse index
    }
    both = _search(client, headers, [first["id"], second["id"]], k=2).json()
    assert [hit["score"] for hit in both["results"]] == [0.8, 0.5]
    assert fake_vecpipe.connections <= 2  # one client for the app's lifetime, its connections kept alive
    assert get_engine().pool.checkedout() == 0  # every request's session was ended


def test_an_error_answer_carries_the_correlation_id_and_ends_the_session(client) -> None:
    from semantik.shared.db import get_engine

    headers = {**auth_headers(client, "alice"), "X-Correlation-ID": "not-alphanumeric!"}
    missing = _search(client, headers, ["00000000-0000-0000-0000-000000000000"])
    assert missing.status_code == 404
    reference = missing.headers["X-Correlation-ID"]
    assert reference.isalnum() and missing.json()["reference"] == f"ERR-{reference}"
    assert get_engine().pool.checkedout() == 0


def test_search_modes_follow_the_collections_sparse_index(fake_vecpipe: _FakeVecpipe, client) -> None:
    headers = auth_headers(client, "alice")
    hybrid = create_collection(client, headers, "with-sparse")
    dense = create_collection(client, headers, "dense-only", sparse_index_config=None)
    for collection in (hybrid, dense):
        finish_operations(collection["id"])
    fake_vecpipe.scores = {hybrid["vector_store_name"]: [0.9], dense["vector_store_name"]: [0.4]}

    default = _search(client, headers, [hybrid["id"]], use_reranker=False).json()
    assert (default["search_mode_used"], default["warnings"]) == ("hybrid", ["from vecpipe"])
    assert fake_vecpipe.bodies[-1]["search_mode"] == "hybrid" and "rrf_k" not in fake_vecpipe.bodies[-1]
    chosen = _search(client, headers, [hybrid["id"]], search_mode="sparse", rrf_k=20, use_reranker=False)
    assert chosen.json()["search_mode_used"] == "sparse"
    assert (fake_vecpipe.bodies[-1]["search_mode"], fake_vecpipe.bodies[-1]["rrf_k"]) == ("sparse", 20)

    both = _search(client, headers, [hybrid["id"], dense["id"]], use_reranker=False).json()
    assert both["search_mode_used"] == "dense" and len(both["results"]) == 2
    assert both["warnings"] == [
        "search_mode defaults to 'hybrid', but collection 'dense-only' has no sparse index: searched "
        "'dense' (a reindex with sparse_index_config enabled adds one)",
        "from vecpipe",  # once, though both collections' answers carried it
    ]
    calls = len(fake_vecpipe.bodies)
    for mode in ("sparse", "hybrid"):
        refused = _search(client, headers, [hybrid["id"], dense["id"]], search_mode=mode)
        assert refused.status_code == 400
        assert refused.json()["detail"] == (
            f"search_mode '{mode}' needs a sparse index, which collection 'dense-only' does not have; "
            "search with search_mode 'dense', or reindex with sparse_index_config enabled"
        )
    assert len(fake_vecpipe.bodies) == calls  # refused before vecpipe is asked


def test_what_no_deployment_here_can_do_is_refused(client) -> None:
    headers = auth_headers(client, "alice")
    collection = create_collection(client, headers)
    for field, value, reason in (
        ("use_hyde", True, "HyDE is not available"),
        ("rerank_model", "cross-encoder/ms-marco", "no reranker is available"),
        ("reranker_id", "r1", "no reranker is available"),
    ):
        answer = _search(client, headers, [collection["id"]], **{field: value})
        assert answer.status_code == 422 and reason in str(answer.json()["detail"]), field
    assert _search(client, headers, [collection["id"]], use_hyde=False).status_code == 200
