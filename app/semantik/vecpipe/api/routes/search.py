"""POST /search: one collection, dense (the loaded model), sparse (BM25) or hybrid (both, RRF)."""

from __future__ import annotations

import time
from typing import cast

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from semantik.shared import sparse
from semantik.vecpipe import metrics
from semantik.vecpipe.api.bodies import JSONBodyRoute
from semantik.vecpipe.api.deps import EmbedderDep, StoreDep, check_model_matches
from semantik.vecpipe.api.routes.embed import truncation_warning
from semantik.vecpipe.models import Embedder
from semantik.vecpipe.schemas import SearchHit, SearchRequest, SearchResponse
from semantik.vecpipe.store.base import Filters, Hit, SparseVector, VectorQuery, VectorStore

router = APIRouter(tags=["search"], route_class=JSONBodyRoute)
NO_RERANKER = "use_reranker: no reranker is configured in vecpipe; results are in vector-score order"
NO_TERMS = (
    "the query has no terms the sparse index can match (only stop words or punctuation): "
    "the sparse list is empty"
)


def to_result(hit: Hit, include_content: bool) -> SearchHit:
    payload = hit.payload
    return SearchHit(
        doc_id=payload.get("doc_id"),
        chunk_id=payload.get("chunk_id"),
        score=hit.score,
        path=payload.get("path"),
        content=payload.get("content") if include_content else None,
        metadata=payload.get("metadata") or {},
        chunk_index=payload.get("chunk_index"),
        total_chunks=payload.get("total_chunks"),
    )


def request_warnings(body: SearchRequest) -> list[str]:
    """What the request asked for that this search cannot do: said, never silently dropped."""
    warnings = [NO_RERANKER] if body.use_reranker else []
    if "rrf_k" in body.model_fields_set and body.search_mode != "hybrid":
        warnings.append(
            f"rrf_k applies to search_mode 'hybrid' only; this {body.search_mode} search ignores it"
        )
    if body.search_type != "semantic":
        warnings.append(
            f"search_type '{body.search_type}' has no query encoding of its own here; "
            "the query was searched as 'semantic'"
        )
    return warnings


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, embedder: EmbedderDep, store: StoreDep) -> SearchResponse:
    # Embedding is CPU work: it runs in the threadpool, in one call with the search; the response is
    # validated back on the event loop (a sync endpoint would add a second thread hop for that).
    return await run_in_threadpool(_search, body, embedder, store)


def _search(body: SearchRequest, embedder: Embedder, store: VectorStore) -> SearchResponse:
    check_model_matches(embedder.info, body.model_name, body.quantization)
    warnings = request_warnings(body)
    started = time.perf_counter()
    dense = sparse_query = None
    if body.search_mode in ("dense", "hybrid"):  # a sparse search needs no model
        embedding = embedder.embed([body.query], mode="query", batch_size=1)
        dense = embedding.vectors[0].tolist()
        warnings += truncation_warning(embedding.truncated, 1, embedder.info)
    if body.search_mode in ("sparse", "hybrid"):
        sparse_query = SparseVector(*sparse.encode_query(body.query))
        warnings += [] if sparse_query.indices else [NO_TERMS]
    encoded = time.perf_counter()
    query = VectorQuery(dense=dense, sparse=sparse_query, rrf_k=body.rrf_k)
    # SearchRequest's validator has made a bare list of ids {"doc_id": [...]}: a dict or None is left.
    filters = cast("Filters | None", body.filters)
    hits = store.search(body.collection, query, body.k, filters, body.score_threshold)
    finished = time.perf_counter()
    metrics.SEARCH_SECONDS.labels(body.search_mode).observe(finished - started)
    metrics.TEXTS.inc(dense is not None)
    results = [to_result(hit, body.include_content) for hit in hits]
    return SearchResponse(
        query=body.query,
        results=results,
        num_results=len(results),
        model_used=embedder.info.name,
        embedding_time_ms=(encoded - started) * 1000,
        search_time_ms=(finished - encoded) * 1000,
        search_mode_used=body.search_mode,
        warnings=warnings,
    )
