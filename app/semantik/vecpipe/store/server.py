"""Server backend: a Qdrant server through qdrant-client (QDRANT_HOST/PORT/API_KEY/HTTPS).

The server orders concurrent requests and builds its indexes itself, so this class holds no locks;
it only remembers each collection's dimension and sparse vectors (vecpipe is the only writer of the
server's collections). A sparse index is the sparse vector ``bm25`` with Qdrant's IDF modifier beside
the unnamed dense one; hybrid search is the server's prefetch of both, fused by RRF.
Its failures are mapped onto the store errors: unreachable -> 503, 404 -> unknown collection,
other server refusals -> 502 with the server's words.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from semantik.shared.sparse import VECTOR_NAME
from semantik.vecpipe.store.base import (
    INDEXED_KEYWORDS,
    CollectionConflictError,
    CollectionInfo,
    CollectionNotFoundError,
    DimensionMismatchError,
    Filters,
    Hit,
    NoSparseIndexError,
    SnapshotInfo,
    SnapshotNotFoundError,
    SparseVector,
    StoredPoint,
    StoreUnavailableError,
    VectorQuery,
    VectorStore,
    VectorStoreError,
    check_collection_name,
    check_snapshot_name,
    fused_hits,
    hybrid_candidates,
    plain_id,
)

TIMEOUT_SECONDS = 30


def build_filter(filters: Filters | None) -> models.Filter | None:
    if not filters:
        return None
    conditions: list[models.Condition] = []
    for key, value in filters.items():
        match = models.MatchAny(any=value) if isinstance(value, list) else models.MatchValue(value=value)
        conditions.append(models.FieldCondition(key=key, match=match))
    return models.Filter(must=conditions)


def dense_params(info: models.CollectionInfo) -> models.VectorParams:
    vectors = info.config.params.vectors
    assert vectors is not None  # every collection vecpipe creates has its dense vector
    return vectors if isinstance(vectors, models.VectorParams) else vectors[""]


def sparse_names(info: models.CollectionInfo) -> list[str]:
    return sorted(info.config.params.sparse_vectors or {})


def sparse_vector(vector: SparseVector | None) -> models.SparseVector | None:
    return models.SparseVector(indices=vector.indices, values=vector.values) if vector else None


def point_struct(point: StoredPoint) -> models.PointStruct:
    if point.sparse is None:
        return models.PointStruct(id=point.id, vector=point.vector, payload=point.payload)
    vectors = {"": point.vector, VECTOR_NAME: sparse_vector(point.sparse)}
    return models.PointStruct(id=point.id, vector=vectors, payload=point.payload)


def query_arguments(query: VectorQuery, limit: int, condition: models.Filter | None) -> dict:
    """query_points' arguments for each mode; hybrid is a prefetch of both lists fused by RRF with
    the request's k (a parameterised RRF needs Qdrant server 1.16 or newer)."""
    sparse = sparse_vector(query.sparse)
    if query.mode == "dense":
        return {"query": query.dense}
    if query.mode == "sparse":
        return {"query": sparse, "using": VECTOR_NAME}
    candidates = hybrid_candidates(limit)
    return {
        "prefetch": [
            models.Prefetch(query=query.dense, limit=candidates, filter=condition),
            models.Prefetch(query=sparse, using=VECTOR_NAME, limit=candidates, filter=condition),
        ],
        "query": models.RrfQuery(rrf=models.Rrf(k=query.rrf_k)),
    }


class ServerStore(VectorStore):
    backend = "server"

    def __init__(
        self,
        host: str,
        port: int,
        api_key: str | None,
        client: QdrantClient | None = None,
        https: bool = False,
    ):
        self.host, self.port, self.https, self._api_key = host, port, https, api_key
        self._layouts: dict[str, tuple[int, list[str]]] = {}
        self._client = client or QdrantClient(
            host=host,
            port=port,
            api_key=api_key,
            https=https,
            timeout=TIMEOUT_SECONDS,
            check_compatibility=False,
        )

    def snapshot_location(self, name: str, snapshot: str) -> str:
        """The URL the server fetches a snapshot of its own from, in a recover request.

        The server itself opens it, so it must name an address the server listens on: the one vecpipe
        reaches it at (its private address on another host, loopback on the same host; "localhost"
        would miss a server bound to its private address only), with the server's own port and scheme.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.https else "http"
        return f"{scheme}://{host}:{self.port}/collections/{name}/snapshots/{snapshot}"

    @contextmanager
    def _errors(self, action: str, collection: str | None = None) -> Iterator[None]:
        try:
            yield
        except UnexpectedResponse as error:
            if error.status_code == 404 and collection is not None:
                raise CollectionNotFoundError(collection) from error
            reason = error.content.decode(errors="replace")[:300]
            raise VectorStoreError(
                f"qdrant server refused to {action}: HTTP {error.status_code} {reason}"
            ) from error
        except (ResponseHandlingException, httpx.HTTPError, OSError) as error:
            raise StoreUnavailableError(
                f"qdrant server at {self.host}:{self.port} unreachable while trying to {action}: {error}"
            ) from error

    def ping(self) -> str:
        with self._errors("list collections"):
            count = len(self._client.get_collections().collections)
        return f"qdrant server at {self.host}:{self.port} ({count} collections)"

    def list_collections(self) -> list[str]:
        with self._errors("list collections"):
            return sorted(item.name for item in self._client.get_collections().collections)

    def _layout(self, name: str) -> tuple[int, list[str]]:
        """The dense size and sparse vector names, remembered (vecpipe is the only writer)."""
        if name not in self._layouts:
            with self._errors("read the collection", name):
                info = self._client.get_collection(name)
            self._layouts[name] = (dense_params(info).size, sparse_names(info))
        return self._layouts[name]

    def create_collection(self, name: str, vector_size: int, sparse: bool = False) -> bool:
        check_collection_name(name)
        with self._errors("check the collection"):
            exists = self._client.collection_exists(name)
        if exists:
            size, sparse_vectors = self._layout(name)
            if (size, bool(sparse_vectors)) != (vector_size, sparse):
                raise CollectionConflictError(name, (size, bool(sparse_vectors)), (vector_size, sparse))
            return False
        idf = models.SparseVectorParams(modifier=models.Modifier.IDF)
        with self._errors("create the collection"):
            self._client.create_collection(
                name,
                vectors_config=models.VectorParams(size=vector_size, distance=models.Distance.COSINE),
                sparse_vectors_config={VECTOR_NAME: idf} if sparse else None,
            )
            for key in INDEXED_KEYWORDS:
                self._client.create_payload_index(name, key, models.PayloadSchemaType.KEYWORD, wait=True)
        return True

    def delete_collection(self, name: str) -> None:
        check_collection_name(name)
        with self._errors("check the collection"):
            exists = self._client.collection_exists(name)
        if not exists:
            raise CollectionNotFoundError(name)
        self._layouts.pop(name, None)
        with self._errors("delete the collection", name):
            self._client.delete_collection(name)

    def collection_info(self, name: str) -> CollectionInfo:
        check_collection_name(name)
        with self._errors("read the collection", name):
            info = self._client.get_collection(name)
            exact = self._client.count(name, exact=True).count
        params = dense_params(info)
        return CollectionInfo(
            name=name,
            vector_size=params.size,
            distance=params.distance.value,
            points_count=exact,
            indexed_vectors_count=info.indexed_vectors_count or 0,
            segments_count=info.segments_count,
            payload_indexes=sorted(info.payload_schema),
            sparse_vectors=sparse_names(info),
        )

    def count(self, name: str, filters: Filters | None = None) -> int:
        check_collection_name(name)
        with self._errors("count", name):
            return self._client.count(name, count_filter=build_filter(filters), exact=True).count

    def upsert(self, name: str, points: list[StoredPoint], wait: bool = True) -> int:
        expected, sparse_vectors = self._layout(check_collection_name(name))
        for point in points:
            if len(point.vector) != expected:
                raise DimensionMismatchError(name, expected, len(point.vector))
            if point.sparse is not None and not sparse_vectors:
                raise NoSparseIndexError(name, "a point with a sparse vector")
        batch = [point_struct(point) for point in points]
        with self._errors("upsert", name):
            self._client.upsert(name, points=batch, wait=wait)
        return len(points)

    def delete_documents(self, name: str, doc_ids: list[str]) -> None:
        check_collection_name(name)
        selector = models.FilterSelector(filter=build_filter({"doc_id": doc_ids}))
        with self._errors("delete points", name):
            self._client.delete(name, points_selector=selector, wait=True)

    def chunks(self, name: str, doc_id: str, indexes: list[int]) -> list[dict[str, Any]]:
        check_collection_name(name)
        with self._errors("read chunks", name):
            found, _ = self._client.scroll(
                name,
                scroll_filter=build_filter({"doc_id": doc_id, "chunk_index": indexes}),
                limit=len(indexes),
                with_payload=True,
                with_vectors=False,
            )
        return sorted((point.payload or {} for point in found), key=lambda p: p.get("chunk_index", 0))

    def search(
        self,
        name: str,
        query: VectorQuery,
        limit: int,
        filters: Filters | None = None,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        expected, sparse_vectors = self._layout(check_collection_name(name))
        if query.dense is not None and len(query.dense) != expected:
            raise DimensionMismatchError(name, expected, len(query.dense))
        if query.sparse is not None and not sparse_vectors:
            raise NoSparseIndexError(name, f"search_mode '{query.mode}'")
        condition = build_filter(filters)
        hybrid = query.mode == "hybrid"
        with self._errors("search", name):
            answer = self._client.query_points(
                name,
                **query_arguments(query, limit, condition),
                limit=limit,
                query_filter=condition,
                score_threshold=None if hybrid else score_threshold,  # hybrid's applies once scaled
                with_payload=True,
            )
        hits = [
            Hit(id=plain_id(point.id), score=point.score, payload=point.payload or {})
            for point in answer.points
        ]
        return fused_hits(hits, query.rrf_k, score_threshold) if hybrid else hits

    def create_snapshot(self, name: str) -> SnapshotInfo:
        check_collection_name(name)
        with self._errors("create a snapshot", name):
            made = self._client.create_snapshot(name, wait=True)
        assert made is not None  # None only without wait
        return SnapshotInfo(made.name, made.size, made.creation_time, made.checksum)

    def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        check_collection_name(name)
        with self._errors("list snapshots", name):
            found = self._client.list_snapshots(name)
        return sorted(
            (SnapshotInfo(s.name, s.size, s.creation_time, s.checksum) for s in found),
            key=lambda snapshot: snapshot.name,
        )

    def restore_snapshot(self, name: str, snapshot: str) -> CollectionInfo:
        check_snapshot_name(snapshot)
        known = {item.name: item for item in self.list_snapshots(name)}
        if snapshot not in known:
            raise SnapshotNotFoundError(name, snapshot)
        # The server fetches its own snapshot over HTTP(S) at the address vecpipe knows it by; the API
        # key rides along so a protected server lets itself in.
        location = self.snapshot_location(name, snapshot)
        self._layouts.pop(name, None)
        with self._errors("restore the snapshot", name):
            self._client.recover_snapshot(
                name, location=location, api_key=self._api_key, checksum=known[snapshot].checksum, wait=True
            )
        return self.collection_info(name)

    def close(self) -> None:
        self._client.close()
