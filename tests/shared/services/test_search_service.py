"""The search service without a database or vecpipe: where each collection is searched, and how the
answers are merged."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from semantik.shared.errors import ServiceUnavailableError, ValidationError
from semantik.shared.models import Collection, CollectionStatus, User
from semantik.shared.services import search as service
from semantik.shared.services.search import SearchRequest, search

USER = User(id=1, username="alice")


class _Vecpipe:
    """Answers per vector collection: a list of (doc id, score), or an exception to raise."""

    def __init__(self, answers: dict[str, Any]):
        self.answers = answers
        self.threads: list[int] = []
        self.barrier: threading.Barrier | None = None

    def search(self, collection: str, query: str, k: int, **options: Any) -> dict[str, Any]:
        self.threads.append(threading.get_ident())
        if self.barrier is not None:
            self.barrier.wait(timeout=5)  # every collection is in flight at once
        answer = self.answers[collection]
        if isinstance(answer, Exception):
            raise answer
        hits = [{"doc_id": doc, "score": score, "path": f"/d/{doc}.txt"} for doc, score in answer]
        return {"results": hits}


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> dict[str, Collection]:
    known = {
        name: Collection(
            id=f"id-{name}",
            name=name,
            owner_id=1,
            vector_store_name=f"col_{name}",
            embedding_model="test-model",
            status=CollectionStatus.READY,
        )
        for name in ("a", "b", "c")
    }
    monkeypatch.setattr(service.collections, "get_readable", lambda session, user, cid: known[cid])
    return known


def test_one_collection_is_searched_in_the_calling_thread(collections: dict[str, Collection]) -> None:
    vecpipe = _Vecpipe({"col_a": [("d1", 0.9), ("d2", 0.4)]})
    for _ in range(3):
        outcome = search(None, vecpipe, USER, ["a"], SearchRequest(query="q", k=5))
    assert vecpipe.threads == [threading.get_ident()] * 3
    assert [hit["document_id"] for hit in outcome.results] == ["d1", "d2"]
    assert outcome.results[0]["file_name"] == "d1.txt"
    assert outcome.searched == [{"id": "id-a", "name": "a", "result_count": 2}]
    assert outcome.failed == []


def test_several_collections_are_searched_at_once_on_one_shared_pool(
    collections: dict[str, Collection],
) -> None:
    vecpipe = _Vecpipe({"col_a": [("a1", 0.2)], "col_b": [("b1", 0.9), ("b2", 0.1)], "col_c": [("c1", 0.5)]})
    vecpipe.barrier = threading.Barrier(3)
    outcome = search(None, vecpipe, USER, ["a", "b", "c", "a"], SearchRequest(query="q", k=3))
    assert [hit["document_id"] for hit in outcome.results] == ["b1", "c1", "a1"]
    assert [entry["name"] for entry in outcome.searched] == ["a", "b", "c"]
    assert threading.get_ident() not in vecpipe.threads
    pool = service._shared_pool()
    vecpipe.barrier = threading.Barrier(2)
    search(None, vecpipe, USER, ["a", "b"], SearchRequest(query="q"))
    assert service._shared_pool() is pool


def test_a_failing_collection_is_a_partial_failure(collections: dict[str, Collection]) -> None:
    collections["c"].status = CollectionStatus.PROCESSING
    collections["b"].status = CollectionStatus.ERROR
    down = ServiceUnavailableError("vecpipe unavailable: down")
    vecpipe = _Vecpipe({"col_a": down, "col_c": [("c1", 0.3)]})
    outcome = search(None, vecpipe, USER, ["a", "b", "c"], SearchRequest(query="q"))
    assert [hit["document_id"] for hit in outcome.results] == ["c1"]
    assert [(entry["collection_name"], entry["error"]) for entry in outcome.failed] == [
        ("a", "ServiceUnavailableError"),
        ("b", "SemantikError"),
    ]
    assert "not ready for search" in outcome.failed[1]["error_message"]


@pytest.mark.parametrize("names", [["a"], ["a", "b"]])
def test_vecpipe_down_for_every_collection_is_raised(
    collections: dict[str, Collection], names: list[str]
) -> None:
    down = ServiceUnavailableError("vecpipe unavailable: ConnectionRefusedError")
    vecpipe = _Vecpipe({"col_a": down, "col_b": down})
    with pytest.raises(ServiceUnavailableError, match="ConnectionRefusedError"):
        search(None, vecpipe, USER, names, SearchRequest(query="q"))


@pytest.mark.parametrize("names", [["a"], ["a", "b"]])
def test_an_unexpected_error_is_not_swallowed(collections: dict[str, Collection], names: list[str]) -> None:
    vecpipe = _Vecpipe({"col_a": KeyError("bug"), "col_b": [("b1", 0.5)]})
    with pytest.raises(KeyError, match="bug"):
        search(None, vecpipe, USER, names, SearchRequest(query="q"))


SPARSE = {"enabled": True, "plugin_id": "bm25-local", "model_config_data": {"k1": 1.2, "b": 0.75}}


def test_the_mode_is_one_per_request_and_never_silently_changed(collections: dict[str, Collection]) -> None:
    collections["a"].sparse_index_config = collections["b"].sparse_index_config = SPARSE
    a, b, c = collections["a"], collections["b"], collections["c"]
    assert service.resolve_mode(None, [a, b]) == ("hybrid", [])
    assert service.resolve_mode("dense", [a, c]) == ("dense", [])
    assert service.resolve_mode("sparse", [a, b]) == ("sparse", [])
    mode, warnings = service.resolve_mode(None, [a, c])
    assert mode == "dense" and warnings == [
        "search_mode defaults to 'hybrid', but collection 'c' has no sparse index: searched 'dense' "
        "(a reindex with sparse_index_config enabled adds one)"
    ]
    with pytest.raises(
        ValidationError, match="search_mode 'hybrid' needs a sparse index, which collection 'c'"
    ):
        service.resolve_mode("hybrid", [a, b, c])


def test_the_mode_and_rrf_k_reach_vecpipe_and_its_warnings_come_back(
    collections: dict[str, Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b"):
        collections[name].sparse_index_config = SPARSE
    sent: list[dict[str, Any]] = []

    class Recording(_Vecpipe):
        def search(self, collection: str, query: str, k: int, **options: Any) -> dict[str, Any]:
            sent.append(options)
            return {**super().search(collection, query, k), "warnings": ["same note", f"about {collection}"]}

    vecpipe = Recording({"col_a": [("a1", 0.9)], "col_b": [("b1", 0.8)]})
    outcome = search(None, vecpipe, USER, ["a", "b"], SearchRequest(query="q", search_mode="hybrid", rrf_k=5))
    assert outcome.search_mode_used == "hybrid"
    assert [(options["search_mode"], options["rrf_k"]) for options in sent] == [("hybrid", 5)] * 2
    assert outcome.warnings == ["same note", "about col_a", "about col_b"]
    search(None, vecpipe, USER, ["a"], SearchRequest(query="q"))
    assert sent[-1]["search_mode"] == "hybrid" and "rrf_k" not in sent[-1]
