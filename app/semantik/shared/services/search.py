"""Search across collections: each searched in parallel through vecpipe, merged by score."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from semantik.shared.errors import SemantikError, ServiceUnavailableError
from semantik.shared.models import Collection, CollectionStatus, User
from semantik.shared.services import collections
from semantik.shared.vecpipe_client import VecpipeClient

SEARCHABLE = (CollectionStatus.READY, CollectionStatus.PROCESSING)
POOL_THREADS = 40  # shared by the multi-collection searches of this process
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


@dataclass
class SearchRequest:
    query: str
    k: int = 10
    search_type: str = "semantic"
    score_threshold: float = 0.0
    metadata_filter: dict[str, Any] | None = None
    include_content: bool = True
    use_reranker: bool = False


@dataclass
class SearchOutcome:
    results: list[dict[str, Any]] = field(default_factory=list)
    searched: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    search_time_ms: float = 0.0


def _one(client: VecpipeClient, collection: Collection, request: SearchRequest) -> list[dict[str, Any]]:
    if collection.status not in SEARCHABLE:
        raise SemantikError(f"Collection is {collection.status.value}, not ready for search")
    answer = client.search(
        collection.vector_store_name,
        request.query,
        request.k,
        include_content=request.include_content,
        search_type=request.search_type,
        score_threshold=request.score_threshold,
        filters=request.metadata_filter,
    )
    return [_result(hit, collection) for hit in answer.get("results", [])]


def _result(hit: dict[str, Any], collection: Collection) -> dict[str, Any]:
    path = hit.get("path") or ""
    return {
        "document_id": hit.get("doc_id"),
        "chunk_id": hit.get("chunk_id"),
        "score": hit.get("score"),
        "original_score": hit.get("score"),
        "reranked_score": None,
        "text": hit.get("content") or "",
        "metadata": hit.get("metadata") or {},
        "file_name": path.rsplit("/", 1)[-1],
        "file_path": path,
        "chunk_index": hit.get("chunk_index", 0),
        "total_chunks": hit.get("total_chunks", 1),
        "collection_id": collection.id,
        "collection_name": collection.name,
        "embedding_model": collection.embedding_model,
    }


def _attempt(client: VecpipeClient, collection: Collection, request: SearchRequest) -> list | Exception:
    """The hits of one collection, or the error it failed with (settled by the caller, in order)."""
    try:
        return _one(client, collection, request)
    except Exception as error:
        return error


def _shared_pool() -> ThreadPoolExecutor:
    """One pool per process, started on first use: creating and joining an executor's threads on
    every request cost more than a fast search itself."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="search")
        return _pool


def _search_all(client: VecpipeClient, targets: list[Collection], request: SearchRequest) -> list:
    """One answer per target, in order: a single target in the calling thread, several in parallel."""
    if len(targets) == 1:
        return [_attempt(client, targets[0], request)]
    return list(_shared_pool().map(lambda target: _attempt(client, target, request), targets))


def search(
    session: Session, client: VecpipeClient, user: User, collection_ids: list[str], request: SearchRequest
) -> SearchOutcome:
    """Results from every readable collection; raises 503 when vecpipe itself is unreachable."""
    targets = [collections.get_readable(session, user, cid) for cid in dict.fromkeys(collection_ids)]
    outcome = SearchOutcome()
    if request.use_reranker:
        outcome.warnings.append(
            "Reranking was requested but no reranker is configured; results are not reranked"
        )
    started = time.perf_counter()
    unavailable = []
    for target, hits in zip(targets, _search_all(client, targets, request), strict=True):
        if isinstance(hits, SemantikError):
            unavailable += [hits] if isinstance(hits, ServiceUnavailableError) else []
            outcome.failed.append(
                {
                    "collection_id": target.id,
                    "collection_name": target.name,
                    "error": hits.__class__.__name__,
                    "error_message": str(hits),
                }
            )
            continue
        if isinstance(hits, Exception):
            raise hits
        outcome.results += hits
        outcome.searched.append({"id": target.id, "name": target.name, "result_count": len(hits)})
    outcome.search_time_ms = (time.perf_counter() - started) * 1000
    if unavailable and len(unavailable) == len(targets):
        raise ServiceUnavailableError(str(unavailable[0]))
    outcome.results = sorted(outcome.results, key=lambda hit: hit["score"] or 0.0, reverse=True)[: request.k]
    return outcome
