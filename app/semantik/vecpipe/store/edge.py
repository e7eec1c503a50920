"""Embedded backend: the Qdrant engine inside vecpipe through qdrant-edge-py, one shard per collection.

Layout under QDRANT_PATH: ``collections/<name>/`` (one EdgeShard each) and ``snapshots/<name>/``.
A shard holds the unnamed dense vector and, with a sparse index, the sparse vector ``bm25`` (IDF
modifier) of the same point; a snapshot carries both.
The engine locks each shard's WAL, so a second process opening the same store fails at start: an
embedded store belongs to one vecpipe process. Inside the process, a readers-writer lock per
collection keeps searches and upserts off a shard while a snapshot, restore or delete has it.

Known cost: ``EdgeShard.optimize`` (building HNSW) holds the GIL for its whole run (measured: 57 s
for 100k x 384 on 2 cores), so it runs inline in the upsert that crosses ``optimize_after``
unindexed points, never in a background thread that would freeze requests at random.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from semantik.shared.sparse import VECTOR_NAME
from semantik.vecpipe.store import archive
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
    StoredPoint,
    StoreUnavailableError,
    VectorQuery,
    VectorStore,
    check_collection_name,
    check_snapshot_name,
    fused_hits,
    hybrid_candidates,
    plain_id,
)
from semantik.vecpipe.store.shards import (
    Collection,
    engine_errors,
    engine_filter,
    finish_interrupted_changes,
    open_shard,
)

log = logging.getLogger(__name__)
OPTIMIZE_AFTER_UNINDEXED = 20_000


def _check_dimensions(name: str, expected: int, sizes: Iterable[int]) -> None:
    for size in sizes:
        if size != expected:
            raise DimensionMismatchError(name, expected, size)


def _engine_point(collection: Collection, point: StoredPoint) -> qe.Point:
    if point.sparse is None:
        return qe.Point(id=point.id, vector=point.vector, payload=point.payload)
    if not collection.sparse_vectors:
        raise NoSparseIndexError(collection.name, "a point with a sparse vector")
    vectors: dict[str, qe.NamedVector] = {
        "": point.vector,
        VECTOR_NAME: qe.SparseVector(point.sparse.indices, point.sparse.values),
    }
    return qe.Point(id=point.id, vector=vectors, payload=point.payload)


def _engine_query(
    query: VectorQuery, limit: int, condition: qe.Filter | None, threshold: float | None
) -> qe.QueryRequest:
    """The engine's request for each mode; hybrid is Qdrant's prefetch of both lists fused by RRF."""
    sparse = qe.SparseVector(query.sparse.indices, query.sparse.values) if query.sparse else None
    scoring: qe.ScoringQueryType
    prefetches: list[qe.Prefetch] | None = None
    # VectorQuery.mode follows from which vectors are set; the asserts tell the type checker which.
    if query.mode == "dense":
        assert query.dense is not None
        scoring = qe.Query.Nearest(query.dense)
    elif query.mode == "sparse":
        assert sparse is not None
        scoring = qe.Query.Nearest(sparse, using=VECTOR_NAME)
    else:
        assert query.dense is not None and sparse is not None
        candidates = hybrid_candidates(limit)
        prefetches = [
            qe.Prefetch(candidates, query=qe.Query.Nearest(query.dense), filter=condition),
            qe.Prefetch(candidates, query=qe.Query.Nearest(sparse, using=VECTOR_NAME), filter=condition),
        ]
        # Fusion.Rrf subclasses Fusion at run time; qdrant-edge-py 0.9.0's stub nests it without that base.
        scoring = qe.Fusion.Rrf(k=query.rrf_k)  # type: ignore[assignment]
        threshold = None  # the threshold applies once scaled
    return qe.QueryRequest(
        limit=limit,
        query=scoring,
        prefetches=prefetches,
        filter=condition,
        score_threshold=threshold,
        with_payload=True,
    )


class EdgeStore(VectorStore):
    backend = "embedded"

    def __init__(self, root: Path, optimize_after: int = OPTIMIZE_AFTER_UNINDEXED):
        self.root = root
        self._shards_dir = root / "collections"
        self._snapshots_dir = root / "snapshots"
        self._optimize_after = optimize_after
        self._registry = threading.Lock()
        self._collections: dict[str, Collection] = {}
        self._shards_dir.mkdir(parents=True, exist_ok=True)
        finish_interrupted_changes(self._shards_dir)
        started = time.perf_counter()
        try:
            for path in sorted(self._shards_dir.iterdir()):
                if path.is_dir() and not path.name.startswith("."):
                    self._collections[path.name] = Collection(path.name, path, open_shard(path))
        except BaseException:
            self.close()
            raise
        # Part of every start's pause (a search waits it out in the socket's backlog): said, as the
        # model's load is, so that a slow start shows which of the two it was.
        log.info(
            "opened the embedded store at %s (%d collections) in %.1f s",
            root,
            len(self._collections),
            time.perf_counter() - started,
        )

    def ping(self) -> str:
        if not self._shards_dir.is_dir():
            raise StoreUnavailableError(f"embedded store directory {self._shards_dir} is gone")
        return f"qdrant-edge at {self.root} ({len(self._collections)} collections)"

    def list_collections(self) -> list[str]:
        with self._registry:
            return sorted(self._collections)

    def _get(self, name: str) -> Collection:
        check_collection_name(name)
        with self._registry:
            found = self._collections.get(name)
        if found is None:
            raise CollectionNotFoundError(name)
        return found

    @contextmanager
    def _reading(self, name: str) -> Iterator[Collection]:
        collection = self._get(name)
        with collection.lock.shared():
            if collection.closed:
                raise CollectionNotFoundError(name)
            yield collection

    def create_collection(self, name: str, vector_size: int, sparse: bool = False) -> bool:
        check_collection_name(name)
        with self._registry:
            existing = self._collections.get(name)
            if existing is None:
                path = self._shards_dir / name
                config = qe.EdgeConfig(
                    vectors=qe.EdgeVectorParams(size=vector_size, distance=qe.Distance.Cosine),
                    sparse_vectors=(
                        {VECTOR_NAME: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)} if sparse else None
                    ),
                )
                with engine_errors(f"create collection '{name}'"):
                    shard = qe.EdgeShard.create(str(path), config)
                    for key in INDEXED_KEYWORDS:
                        shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
                self._collections[name] = Collection(name, path, shard)
                return True
        layout = (existing.vector_size, bool(existing.sparse_vectors))
        if layout != (vector_size, sparse):
            raise CollectionConflictError(name, layout, (vector_size, sparse))
        return False

    def delete_collection(self, name: str) -> None:
        collection = self._get(name)
        trash = self._shards_dir / f".deleted-{name}-{uuid.uuid4().hex}"
        with self._registry, collection.lock.exclusive():
            if collection.closed:
                raise CollectionNotFoundError(name)
            collection.close()
            os.replace(collection.path, trash)  # the name is free at once; the files go after
            del self._collections[name]
        shutil.rmtree(trash, ignore_errors=True)

    def collection_info(self, name: str) -> CollectionInfo:
        with self._reading(name) as collection, engine_errors("read collection info"):
            info = collection.shard.info()
            return CollectionInfo(
                name=name,
                vector_size=collection.vector_size,
                distance="Cosine",
                points_count=collection.shard.count(qe.CountRequest(exact=True)),
                indexed_vectors_count=info.indexed_vectors_count,
                segments_count=info.segments_count,
                payload_indexes=sorted(info.payload_schema),
                sparse_vectors=collection.sparse_vectors,
            )

    def count(self, name: str, filters: Filters | None = None) -> int:
        with self._reading(name) as collection, engine_errors("count"):
            return collection.shard.count(qe.CountRequest(exact=True, filter=engine_filter(filters)))

    def upsert(self, name: str, points: list[StoredPoint], wait: bool = True) -> int:
        with self._reading(name) as collection:
            _check_dimensions(name, collection.vector_size, (len(point.vector) for point in points))
            batch = [_engine_point(collection, point) for point in points]
            with collection.writes, engine_errors("upsert"):
                collection.shard.update(qe.UpdateOperation.upsert_points(batch))
                if wait:  # applied either way; wait=true also makes it durable before answering
                    collection.shard.flush()
                self._maybe_optimize(collection)
        return len(points)

    def _maybe_optimize(self, collection: Collection) -> None:
        info = collection.shard.info()
        unindexed = info.points_count - info.indexed_vectors_count
        if unindexed < self._optimize_after:
            return
        started = time.perf_counter()
        collection.shard.optimize()
        log.info(
            "built the index of '%s' (%d unindexed points) in %.1f s",
            collection.name,
            unindexed,
            time.perf_counter() - started,
        )

    def delete_documents(self, name: str, doc_ids: list[str]) -> None:
        condition = qe.Filter(must=[qe.FieldCondition(key="doc_id", match=qe.MatchAny(doc_ids))])
        with self._reading(name) as collection, collection.writes, engine_errors("delete points"):
            collection.shard.update(qe.UpdateOperation.delete_points_by_filter(condition))
            collection.shard.flush()

    def chunks(self, name: str, doc_id: str, indexes: list[int]) -> list[dict[str, Any]]:
        request = qe.ScrollRequest(
            limit=len(indexes),
            filter=engine_filter({"doc_id": doc_id, "chunk_index": indexes}),
            with_payload=True,
        )
        with self._reading(name) as collection, engine_errors("read chunks"):
            found, _ = collection.shard.scroll(request)
        return sorted((point.payload or {} for point in found), key=lambda p: p.get("chunk_index", 0))

    def search(
        self,
        name: str,
        query: VectorQuery,
        limit: int,
        filters: Filters | None = None,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        request = _engine_query(query, limit, engine_filter(filters), score_threshold)
        with self._reading(name) as collection:
            if query.dense is not None:
                _check_dimensions(name, collection.vector_size, [len(query.dense)])
            if query.sparse is not None and not collection.sparse_vectors:
                raise NoSparseIndexError(name, f"search_mode '{query.mode}'")
            with engine_errors("search"):
                found = collection.shard.query(request)
        hits = [Hit(id=plain_id(point.id), score=point.score, payload=point.payload or {}) for point in found]
        return fused_hits(hits, query.rrf_k, score_threshold) if query.mode == "hybrid" else hits

    def create_snapshot(self, name: str) -> SnapshotInfo:
        collection = self._get(name)
        with collection.lock.exclusive():
            if collection.closed:
                raise CollectionNotFoundError(name)
            with engine_errors("flush before the snapshot"):
                collection.shard.flush()
            return archive.write_snapshot(collection.path, self._snapshots_dir / name, name)

    def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        check_collection_name(name)
        found = archive.list_snapshots(self._snapshots_dir / name)
        if not found and name not in self.list_collections():
            raise CollectionNotFoundError(name)
        return found

    def restore_snapshot(self, name: str, snapshot: str) -> CollectionInfo:
        check_collection_name(name)
        source = self._snapshots_dir / name / check_snapshot_name(snapshot)
        if not source.is_file():
            raise SnapshotNotFoundError(name, snapshot)
        archive.verify(source)
        staging = self._shards_dir / f".restore-{name}"
        shutil.rmtree(staging, ignore_errors=True)
        with engine_errors(f"unpack snapshot '{snapshot}'"):
            qe.EdgeShard.unpack_snapshot(str(source), str(staging))
        with self._registry:
            current = self._collections.get(name)
            with current.lock.exclusive() if current else nullcontext():
                self._swap_in(name, staging, current)
        log.info("restored collection '%s' from snapshot %s", name, snapshot)
        return self.collection_info(name)

    def _swap_in(self, name: str, staging: Path, current: Collection | None) -> None:
        """Put the unpacked shard in place of the live one; on failure put the live one back."""
        path, previous = self._shards_dir / name, self._shards_dir / f".old-{name}"
        if current is not None:
            current.close()
        shutil.rmtree(previous, ignore_errors=True)
        if path.exists():
            os.replace(path, previous)
        os.replace(staging, path)
        try:
            if current is None:
                self._collections[name] = Collection(name, path, open_shard(path))
            else:
                current.reopen()
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            if previous.exists():
                os.replace(previous, path)
                if current is not None:
                    current.reopen()
            raise
        shutil.rmtree(previous, ignore_errors=True)

    def close(self) -> None:
        with self._registry:
            for collection in self._collections.values():
                with collection.lock.exclusive():
                    collection.close()
            self._collections.clear()
