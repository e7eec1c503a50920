"""The Qdrant-server backend against a mocked qdrant-client: the requests it builds, the errors it maps.

No Qdrant server binary exists here, so what the server itself does with these requests is unproven
by this suite (see the vecpipe README section).
"""

from __future__ import annotations

from unittest.mock import MagicMock

import httpx
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http import models as rest
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from semantik.vecpipe.store import open_store
from semantik.vecpipe.store.base import (
    CollectionConflictError,
    CollectionNotFoundError,
    DimensionMismatchError,
    SnapshotNotFoundError,
    SparseVector,
    StoredPoint,
    StoreUnavailableError,
    VectorQuery,
    VectorStoreError,
)
from semantik.vecpipe.store.server import ServerStore, build_filter
from vecpipe.helpers import make_settings


def _collection(size: int = 4, points: int = 0) -> models.CollectionInfo:
    return models.CollectionInfo.model_validate(
        {
            "status": "green",
            "optimizer_status": "ok",
            "indexed_vectors_count": points,
            "points_count": points,
            "segments_count": 2,
            "payload_schema": {"doc_id": {"data_type": "keyword", "points": points}},
            "config": {
                "params": {"vectors": {"size": size, "distance": "Cosine"}},
                "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000},
                "optimizer_config": {
                    "deleted_threshold": 0.2,
                    "vacuum_min_vector_number": 1000,
                    "default_segment_number": 0,
                    "flush_interval_sec": 5,
                },
                "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            },
        }
    )


def _refusal(status: int, text: str = '{"status":{"error":"nope"}}') -> UnexpectedResponse:
    return UnexpectedResponse(status, "reason", text.encode(), httpx.Headers())


@pytest.fixture
def qdrant() -> MagicMock:
    mock = MagicMock(spec=QdrantClient)
    mock.get_collection.return_value = _collection()
    mock.count.return_value = models.CountResult(count=7)
    return mock


@pytest.fixture
def store(qdrant: MagicMock) -> ServerStore:
    return ServerStore("qdrant.internal", 6333, "server-key", client=qdrant)


def test_open_store_picks_the_server_when_a_host_is_set(tmp_path) -> None:
    chosen = open_store(make_settings(tmp_path, qdrant_host="qdrant.internal", qdrant_port=6400))
    try:
        assert isinstance(chosen, ServerStore) and (chosen.host, chosen.port) == ("qdrant.internal", 6400)
    finally:
        chosen.close()


def test_create_builds_a_cosine_collection_with_payload_indexes(
    store: ServerStore, qdrant: MagicMock
) -> None:
    qdrant.collection_exists.return_value = False
    assert store.create_collection("col", 384) is True
    qdrant.create_collection.assert_called_once_with(
        "col",
        vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE),
        sparse_vectors_config=None,
    )
    indexed = [call.args[1] for call in qdrant.create_payload_index.call_args_list]
    assert indexed == ["doc_id", "chunk_id", "collection_id"]
    assert all(
        call.args[2] == models.PayloadSchemaType.KEYWORD
        for call in qdrant.create_payload_index.call_args_list
    )


def test_create_is_idempotent_and_refuses_another_size(store: ServerStore, qdrant: MagicMock) -> None:
    qdrant.collection_exists.return_value = True
    assert store.create_collection("col", 4) is False
    with pytest.raises(CollectionConflictError, match="already exists with dimension 4, not 8"):
        store.create_collection("col", 8)
    qdrant.create_collection.assert_not_called()


def test_upsert_sends_point_structs_and_the_wait_flag(store: ServerStore, qdrant: MagicMock) -> None:
    points = [
        StoredPoint(1, [0.1] * 4, {"doc_id": "d"}),
        StoredPoint("0f8fad5b-d9cb-469f-a165-70867728950e", [0.2] * 4, {"doc_id": "e"}),
    ]
    assert store.upsert("col", points, wait=False) == 2
    sent = qdrant.upsert.call_args
    assert sent.args == ("col",) and sent.kwargs["wait"] is False
    assert sent.kwargs["points"] == [
        models.PointStruct(id=1, vector=[0.1] * 4, payload={"doc_id": "d"}),
        models.PointStruct(
            id="0f8fad5b-d9cb-469f-a165-70867728950e", vector=[0.2] * 4, payload={"doc_id": "e"}
        ),
    ]


def test_wrong_dimensions_never_reach_the_server(store: ServerStore, qdrant: MagicMock) -> None:
    with pytest.raises(DimensionMismatchError, match="dimension 3 but collection 'col' has dimension 4"):
        store.upsert("col", [StoredPoint(1, [0.1] * 3, {})])
    with pytest.raises(DimensionMismatchError):
        store.search("col", VectorQuery([0.1] * 5), 3)
    qdrant.upsert.assert_not_called()
    qdrant.query_points.assert_not_called()


def test_search_builds_the_query_and_maps_hits(store: ServerStore, qdrant: MagicMock) -> None:
    qdrant.query_points.return_value = rest.QueryResponse(
        points=[models.ScoredPoint(id=3, version=1, score=0.9, payload={"doc_id": "d"})]
    )
    hits = store.search("col", VectorQuery([0.1] * 4), 5, {"doc_id": ["a", "b"], "lang": "en"}, 0.25)
    call = qdrant.query_points.call_args
    assert call.args == ("col",)
    assert call.kwargs == {
        "query": [0.1] * 4,
        "limit": 5,
        "score_threshold": 0.25,
        "with_payload": True,
        "query_filter": models.Filter(
            must=[
                models.FieldCondition(key="doc_id", match=models.MatchAny(any=["a", "b"])),
                models.FieldCondition(key="lang", match=models.MatchValue(value="en")),
            ]
        ),
    }
    assert [(hit.id, hit.score, hit.payload) for hit in hits] == [(3, 0.9, {"doc_id": "d"})]


def test_no_filter_means_none() -> None:
    assert build_filter(None) is None and build_filter({}) is None


def test_delete_documents_uses_a_filter_selector(store: ServerStore, qdrant: MagicMock) -> None:
    store.delete_documents("col", ["a", "b"])
    selector = qdrant.delete.call_args.kwargs["points_selector"]
    assert selector == models.FilterSelector(
        filter=models.Filter(
            must=[models.FieldCondition(key="doc_id", match=models.MatchAny(any=["a", "b"]))]
        )
    )
    assert qdrant.delete.call_args.kwargs["wait"] is True


def test_chunks_scroll_one_documents_indexes_in_order(store: ServerStore, qdrant: MagicMock) -> None:
    qdrant.scroll.return_value = (
        [rest.Record(id=2, payload={"chunk_index": 2}), rest.Record(id=1, payload={"chunk_index": 1})],
        None,
    )
    assert store.chunks("col", "doc", [1, 2]) == [{"chunk_index": 1}, {"chunk_index": 2}]
    call = qdrant.scroll.call_args
    assert call.kwargs["scroll_filter"] == models.Filter(
        must=[
            models.FieldCondition(key="doc_id", match=models.MatchValue(value="doc")),
            models.FieldCondition(key="chunk_index", match=models.MatchAny(any=[1, 2])),
        ]
    )
    assert (call.kwargs["limit"], call.kwargs["with_vectors"]) == (2, False)


def test_info_and_count_read_the_server(store: ServerStore, qdrant: MagicMock) -> None:
    info = store.collection_info("col")
    assert (info.vector_size, info.distance, info.points_count, info.segments_count) == (4, "Cosine", 7, 2)
    assert info.payload_indexes == ["doc_id"]
    assert store.count("col", {"doc_id": "x"}) == 7
    assert qdrant.count.call_args.kwargs["count_filter"] == build_filter({"doc_id": "x"})


def test_a_404_is_an_unknown_collection(store: ServerStore, qdrant: MagicMock) -> None:
    qdrant.count.side_effect = _refusal(404)
    with pytest.raises(CollectionNotFoundError, match="'col' not found"):
        store.count("col")
    qdrant.collection_exists.return_value = False
    with pytest.raises(CollectionNotFoundError):
        store.delete_collection("col")


def test_other_refusals_are_502_with_the_servers_words(store: ServerStore, qdrant: MagicMock) -> None:
    qdrant.upsert.side_effect = _refusal(500, "disk full")
    with pytest.raises(VectorStoreError, match="refused to upsert: HTTP 500 disk full") as raised:
        store.upsert("col", [StoredPoint(1, [0.0] * 4, {})])
    assert raised.value.status_code == 502


@pytest.mark.parametrize(
    "failure",
    [
        ResponseHandlingException(httpx.ConnectError("refused")),
        httpx.ConnectTimeout("slow"),
        ConnectionRefusedError("refused"),
    ],
)
def test_an_unreachable_server_is_503(store: ServerStore, qdrant: MagicMock, failure: Exception) -> None:
    qdrant.get_collections.side_effect = failure
    with pytest.raises(
        StoreUnavailableError, match="qdrant server at qdrant.internal:6333 unreachable"
    ) as raised:
        store.ping()
    assert raised.value.status_code == 503


def test_snapshots_are_created_listed_and_restored_by_the_server(
    store: ServerStore, qdrant: MagicMock
) -> None:
    made = models.SnapshotDescription(
        name="col-1.snapshot", creation_time="2026-01-01T00:00:00", size=10, checksum="ab" * 32
    )
    qdrant.create_snapshot.return_value = made
    qdrant.list_snapshots.return_value = [made]
    assert store.create_snapshot("col").name == "col-1.snapshot"
    assert [s.checksum for s in store.list_snapshots("col")] == ["ab" * 32]
    store.restore_snapshot("col", "col-1.snapshot")
    qdrant.recover_snapshot.assert_called_once_with(
        "col",
        location="http://qdrant.internal:6333/collections/col/snapshots/col-1.snapshot",
        api_key="server-key",
        checksum="ab" * 32,
        wait=True,
    )
    with pytest.raises(SnapshotNotFoundError):
        store.restore_snapshot("col", "col-2.snapshot")


@pytest.mark.parametrize(
    ("host", "port", "https", "location"),
    [
        # Qdrant on another host, bound to its private address: the server fetches from that address.
        ("10.0.1.71", 6333, False, "http://10.0.1.71:6333/collections/col/snapshots/s.snapshot"),
        # Qdrant on vecpipe's host, on loopback.
        ("127.0.0.1", 6400, False, "http://127.0.0.1:6400/collections/col/snapshots/s.snapshot"),
        # A server with TLS: its own scheme; an IPv6 address in brackets.
        ("fd00::71", 6333, True, "https://[fd00::71]:6333/collections/col/snapshots/s.snapshot"),
        ("qdrant.internal", 6333, True, "https://qdrant.internal:6333/collections/col/snapshots/s.snapshot"),
    ],
)
def test_the_snapshot_location_is_the_servers_own_address_port_and_scheme(
    qdrant: MagicMock, host: str, port: int, https: bool, location: str
) -> None:
    store = ServerStore(host, port, "server-key", client=qdrant, https=https)
    assert store.snapshot_location("col", "s.snapshot") == location
    assert "localhost" not in location


def test_open_store_passes_the_scheme_to_the_client(tmp_path) -> None:
    chosen = open_store(make_settings(tmp_path, qdrant_host="10.0.1.71", qdrant_https=True))
    try:
        assert isinstance(chosen, ServerStore) and chosen.https
        assert chosen.snapshot_location("c", "s").startswith("https://10.0.1.71:6333/")
        assert chosen._client._client.rest_uri.startswith("https://10.0.1.71:6333")
    finally:
        chosen.close()


def test_the_dimension_is_read_once_and_forgotten_on_delete(store: ServerStore, qdrant: MagicMock) -> None:
    qdrant.query_points.return_value = rest.QueryResponse(points=[])
    store.search("col", VectorQuery([0.0] * 4), 1)
    store.search("col", VectorQuery([0.0] * 4), 1)
    assert qdrant.get_collection.call_count == 1
    qdrant.collection_exists.return_value = True
    store.delete_collection("col")
    store.search("col", VectorQuery([0.0] * 4), 1)
    assert qdrant.get_collection.call_count == 2


def test_hybrid_builds_two_prefetches_fused_by_rrf_with_the_requests_k(
    store: ServerStore, qdrant: MagicMock
) -> None:
    info = _collection().model_copy(deep=True)
    info.config.params.sparse_vectors = {"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)}
    qdrant.get_collection.return_value = info
    qdrant.query_points.return_value = rest.QueryResponse(
        points=[models.ScoredPoint(id=3, version=1, score=2 / 30, payload={"doc_id": "d"})]
    )
    words = SparseVector([7, 9], [1.0, 1.0])
    hits = store.search("col", VectorQuery([0.1] * 4, words, rrf_k=30), 5, {"doc_id": "d"}, 0.5)
    condition = build_filter({"doc_id": "d"})
    assert qdrant.query_points.call_args.kwargs == {
        "prefetch": [
            models.Prefetch(query=[0.1] * 4, limit=50, filter=condition),
            models.Prefetch(
                query=models.SparseVector(indices=[7, 9], values=[1.0, 1.0]),
                using="bm25",
                limit=50,
                filter=condition,
            ),
        ],
        "query": models.RrfQuery(rrf=models.Rrf(k=30)),
        "limit": 5,
        "query_filter": condition,
        "score_threshold": None,  # applied to the scaled scores instead
        "with_payload": True,
    }
    assert [(hit.id, hit.score) for hit in hits] == [(3, pytest.approx(1.0))]
    store.search("col", VectorQuery(sparse=words), 2)
    assert qdrant.query_points.call_args.kwargs["using"] == "bm25"


def test_a_sparse_index_is_created_with_the_idf_modifier(store: ServerStore, qdrant: MagicMock) -> None:
    qdrant.collection_exists.return_value = False
    store.create_collection("col", 4, sparse=True)
    assert qdrant.create_collection.call_args.kwargs["sparse_vectors_config"] == {
        "bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)
    }
