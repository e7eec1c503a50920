"""Sparse and hybrid search on both backends: the embedded engine, and the Qdrant-server backend
against qdrant-client's local mode (the same request objects a server gets, evaluated in process).

The fusion itself is the engine's (Qdrant's RRF over two prefetches); these tests hold it to the
RRF formula computed here from the two lists, and check the scaling, filters, thresholds and
refusals around it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from semantik.shared import sparse
from semantik.vecpipe.store.base import (
    CollectionConflictError,
    NoSparseIndexError,
    SparseVector,
    StoredPoint,
    VectorQuery,
    VectorStore,
    fused_hits,
    hybrid_candidates,
)
from semantik.vecpipe.store.edge import EdgeStore
from semantik.vecpipe.store.server import ServerStore

TEXTS = [
    "Set work_mem to bound the memory of each sort and hash table",
    "The autovacuum daemon reclaims dead rows and updates statistics",
    "pg_stat_activity shows one row per server process with its query",
    "A checkpoint writes every dirty buffer to disk",
    "Memory for maintenance operations such as VACUUM is maintenance_work_mem",
    "Each sort may use memory up to a limit before spilling to temporary files",
]
DOCS = [f"doc{i}" for i in range(len(TEXTS))]


def _dense(i: int) -> list[float]:
    """Distinct directions, so the dense list has no ties."""
    return [1.0, 0.1 * (i + 1), 0.05 * (i % 3), 0.02 * i]


def _points(with_sparse: bool = True) -> list[StoredPoint]:
    encoded = sparse.encode_documents(TEXTS)
    return [
        StoredPoint(
            i + 1,
            _dense(i),
            {"doc_id": DOCS[i], "chunk_id": f"c{i}", "group": "even" if i % 2 == 0 else "odd"},
            SparseVector(**encoded[i]) if with_sparse else None,
        )
        for i in range(len(TEXTS))
    ]


def _query(text: str) -> SparseVector:
    return SparseVector(*sparse.encode_query(text))


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    opened: VectorStore
    if request.param == "embedded":
        opened = EdgeStore(tmp_path / "qdrant")
    else:
        opened = ServerStore("local", 6333, None, client=QdrantClient(":memory:"))
    opened.create_collection("hyb", 4, sparse=True)
    opened.upsert("hyb", _points())
    opened.create_collection("dense", 4)
    opened.upsert("dense", _points(with_sparse=False))
    yield opened
    opened.close()


def _docs(hits) -> list[str]:
    return [hit.payload["doc_id"] for hit in hits]


def test_sparse_search_finds_the_exact_identifier_first(store: VectorStore) -> None:
    assert _docs(store.search("hyb", VectorQuery(sparse=_query("work_mem")), 3))[0] == "doc0"
    found = _docs(store.search("hyb", VectorQuery(sparse=_query("maintenance_work_mem")), 3))
    assert found[0] == "doc4"
    assert store.collection_info("hyb").sparse_vectors == ["bm25"]
    assert store.collection_info("dense").sparse_vectors == []


def test_the_idf_modifier_weighs_rare_terms_above_common_ones(store: VectorStore) -> None:
    # "memory" is in three texts, "checkpoint" in one: the rare term decides.
    hits = store.search("hyb", VectorQuery(sparse=_query("memory checkpoint")), 6)
    assert _docs(hits)[0] == "doc3"


def test_hybrid_is_rrf_over_the_two_lists_scaled_to_one(store: VectorStore) -> None:
    dense, words, k = _dense(5), _query("work_mem sort memory"), 10
    depth = hybrid_candidates(5)
    dense_list = _docs(store.search("hyb", VectorQuery(dense=dense), depth))
    sparse_list = _docs(store.search("hyb", VectorQuery(sparse=words), depth))
    expected: dict[str, float] = {}
    for ranking in (dense_list, sparse_list):
        for rank, doc in enumerate(ranking):  # Qdrant counts ranks from 0
            expected[doc] = expected.get(doc, 0.0) + 1.0 / (k + rank)
    best = 2.0 / k
    fused = store.search("hyb", VectorQuery(dense=dense, sparse=words, rrf_k=k), 5)
    assert _docs(fused) == sorted(expected, key=lambda doc: -expected[doc])[:5]
    for hit in fused:
        assert hit.score == pytest.approx(expected[hit.payload["doc_id"]] / best, rel=1e-5)
    assert all(0.0 < hit.score <= 1.0 for hit in fused)


def test_first_in_both_lists_scores_one(store: VectorStore) -> None:
    hits = store.search("hyb", VectorQuery(dense=_dense(2), sparse=_query("pg_stat_activity")), 3)
    assert _docs(hits)[0] == "doc2" and hits[0].score == pytest.approx(1.0)


def test_hybrid_applies_filters_before_fusion_and_the_threshold_after_scaling(store: VectorStore) -> None:
    query = VectorQuery(dense=_dense(0), sparse=_query("work_mem memory sort"))
    odd = store.search("hyb", query, 3, {"group": "odd"})
    assert len(odd) == 3 and {hit.payload["group"] for hit in odd} == {"odd"}
    every = store.search("hyb", query, 6)
    kept = store.search("hyb", query, 6, score_threshold=0.9)
    assert kept == [hit for hit in every if hit.score >= 0.9] and 0 < len(kept) < len(every)


def test_a_query_without_terms_finds_nothing_sparse_and_dense_alone_in_hybrid(store: VectorStore) -> None:
    nothing = _query("the of and")
    assert nothing.indices == []
    assert store.search("hyb", VectorQuery(sparse=nothing), 3) == []
    hybrid = store.search("hyb", VectorQuery(dense=_dense(1), sparse=nothing), 3)
    assert _docs(hybrid) == _docs(store.search("hyb", VectorQuery(dense=_dense(1)), 3))
    assert hybrid[0].score == pytest.approx(0.5)  # first in one of two lists


def test_a_collection_without_a_sparse_index_refuses_sparse_work(store: VectorStore) -> None:
    for query in (VectorQuery(sparse=_query("work_mem")), VectorQuery(dense=_dense(0), sparse=_query("x"))):
        with pytest.raises(NoSparseIndexError, match="collection 'dense' has no sparse index"):
            store.search("dense", query, 3)
    with pytest.raises(NoSparseIndexError, match="a point with a sparse vector"):
        store.upsert("dense", _points()[:1])
    assert _docs(store.search("dense", VectorQuery(dense=_dense(3)), 1)) == ["doc3"]


def test_the_sparse_index_is_part_of_the_collection_layout(store: VectorStore) -> None:
    assert store.create_collection("hyb", 4, sparse=True) is False
    with pytest.raises(CollectionConflictError, match="already exists with a sparse index"):
        store.create_collection("hyb", 4)
    with pytest.raises(CollectionConflictError, match="already exists with no sparse index"):
        store.create_collection("dense", 4, sparse=True)


def test_dense_points_may_join_a_sparse_collection(store: VectorStore) -> None:
    store.upsert("hyb", [StoredPoint(99, _dense(9), {"doc_id": "plain", "chunk_id": "p"})])
    assert store.count("hyb") == len(TEXTS) + 1
    assert "plain" not in _docs(store.search("hyb", VectorQuery(sparse=_query("work_mem memory")), 10))


def test_fused_scores_scale_by_the_best_possible_and_never_pass_one() -> None:
    from semantik.vecpipe.store.base import Hit

    raw = [Hit(1, 2 / 60, {}), Hit(2, 1 / 60, {}), Hit(3, 1 / 70, {})]
    assert [hit.score for hit in fused_hits(raw, 60, None)] == pytest.approx([1.0, 0.5, 60 / 140])
    assert [hit.id for hit in fused_hits(raw, 60, 0.5)] == [1, 2]


def test_a_snapshot_restores_the_sparse_index_with_the_same_hybrid_results(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "qdrant")
    try:
        store.create_collection("hyb", 4, sparse=True)
        store.upsert("hyb", _points())
        query = VectorQuery(dense=_dense(4), sparse=_query("memory work_mem vacuum"))
        before = [(hit.id, hit.score) for hit in store.search("hyb", query, 5)]
        snapshot = store.create_snapshot("hyb")
        store.delete_collection("hyb")
        store.restore_snapshot("hyb", snapshot.name)
        assert store.collection_info("hyb").sparse_vectors == ["bm25"]
        assert [(hit.id, hit.score) for hit in store.search("hyb", query, 5)] == before
    finally:
        store.close()
