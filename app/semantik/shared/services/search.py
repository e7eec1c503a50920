"""Search across collections: each searched in parallel through vecpipe, merged by score.

One search mode per request, so merged scores compare like with like: dense (cosine), sparse (BM25)
or hybrid (RRF scaled to 0..1). A mode a collection cannot serve is refused (400), never swapped.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from semantik.shared import sparse
from semantik.shared.errors import SemantikError, ServiceUnavailableError, ValidationError
from semantik.shared.models import Collection, CollectionStatus, User
from semantik.shared.services import collections
from semantik.shared.vecpipe_client import VecpipeClient

SEARCHABLE = (CollectionStatus.READY, CollectionStatus.PROCESSING)
# Chosen from bench/quality.py's figures on the PostgreSQL manual (README, "Search quality").
DEFAULT_SEARCH_MODE = "hybrid"
POOL_THREADS = 40  # shared by the multi-collection searches of this process
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
# One collection's answer: its hits and vecpipe's warnings about them.
Hits = tuple[list[dict[str, Any]], list[str]]


@dataclass
class SearchRequest:
    query: str
    k: int = 10
    search_type: str = "semantic"
    score_threshold: float = 0.0
    metadata_filter: dict[str, Any] | None = None
    include_content: bool = True
    use_reranker: bool = False
    search_mode: str | None = None  # None: DEFAULT_SEARCH_MODE where every collection can serve it
    rrf_k: int | None = None  # None: vecpipe's default (60)


@dataclass
class SearchOutcome:
    results: list[dict[str, Any]] = field(default_factory=list)
    searched: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    search_time_ms: float = 0.0
    search_mode_used: str = "dense"


def resolve_mode(requested: str | None, targets: list[Collection]) -> tuple[str, list[str]]:
    """(mode, warnings): the mode asked for, refused when a collection has no sparse index for it;
    or, when none was asked for, the default where every collection can serve it, else dense, said."""
    lacking = [target.name for target in targets if not sparse.enabled(target.sparse_index_config)]
    names = ", ".join(f"'{name}'" for name in lacking)
    if requested is None:
        if not lacking or DEFAULT_SEARCH_MODE == "dense":
            return DEFAULT_SEARCH_MODE, []
        return "dense", [
            f"search_mode defaults to '{DEFAULT_SEARCH_MODE}', but collection {names} has no sparse index: "
            "searched 'dense' (a reindex with sparse_index_config enabled adds one)"
        ]
    if requested != "dense" and lacking:
        raise ValidationError(
            f"search_mode '{requested}' needs a sparse index, which collection {names} does not have; "
            "search with search_mode 'dense', or reindex with sparse_index_config enabled"
        )
    return requested, []


def _one(client: VecpipeClient, collection: Collection, request: SearchRequest, mode: str) -> Hits:
    """The collection's hits and vecpipe's warnings about them."""
    if collection.status not in SEARCHABLE:
        raise SemantikError(f"Collection is {collection.status.value}, not ready for search")
    options = {} if request.rrf_k is None else {"rrf_k": request.rrf_k}
    answer = client.search(
        collection.vector_store_name,
        request.query,
        request.k,
        include_content=request.include_content,
        search_type=request.search_type,
        score_threshold=request.score_threshold,
        filters=request.metadata_filter,
        search_mode=mode,
        **options,
    )
    return [_result(hit, collection) for hit in answer.get("results", [])], answer.get("warnings") or []


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


def _attempt(
    client: VecpipeClient, collection: Collection, request: SearchRequest, mode: str
) -> Hits | Exception:
    """The hits and warnings of one collection, or the error it failed with (settled by the caller)."""
    try:
        return _one(client, collection, request, mode)
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


def _search_all(
    client: VecpipeClient, targets: list[Collection], request: SearchRequest, mode: str
) -> list[Hits | Exception]:
    """One answer per target, in order: a single target in the calling thread, several in parallel."""
    if len(targets) == 1:
        return [_attempt(client, targets[0], request, mode)]
    return list(_shared_pool().map(lambda target: _attempt(client, target, request, mode), targets))


def search(
    session: Session, client: VecpipeClient, user: User, collection_ids: list[str], request: SearchRequest
) -> SearchOutcome:
    """Results from every readable collection; raises 503 when vecpipe itself is unreachable."""
    targets = [collections.get_readable(session, user, cid) for cid in dict.fromkeys(collection_ids)]
    mode, notes = resolve_mode(request.search_mode, targets)
    outcome = SearchOutcome(warnings=notes, search_mode_used=mode)
    if request.use_reranker:
        outcome.warnings.append(
            "Reranking was requested but no reranker is configured; results are not reranked"
        )
    started = time.perf_counter()
    unavailable = []
    for target, answer in zip(targets, _search_all(client, targets, request, mode), strict=True):
        if isinstance(answer, SemantikError):
            unavailable += [answer] if isinstance(answer, ServiceUnavailableError) else []
            outcome.failed.append(
                {
                    "collection_id": target.id,
                    "collection_name": target.name,
                    "error": answer.__class__.__name__,
                    "error_message": str(answer),
                }
            )
            continue
        if isinstance(answer, Exception):
            raise answer
        hits, warnings = answer
        outcome.warnings += [warning for warning in warnings if warning not in outcome.warnings]
        outcome.results += hits
        outcome.searched.append({"id": target.id, "name": target.name, "result_count": len(hits)})
    outcome.search_time_ms = (time.perf_counter() - started) * 1000
    if unavailable and len(unavailable) == len(targets):
        raise ServiceUnavailableError(str(unavailable[0]))
    outcome.results = sorted(outcome.results, key=lambda hit: hit["score"] or 0.0, reverse=True)[: request.k]
    return outcome
