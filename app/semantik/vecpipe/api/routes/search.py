"""POST /search: embed the query with the loaded model, search one collection (dense only)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from semantik.vecpipe.api.deps import EmbedderDep, StoreDep, check_model_matches
from semantik.vecpipe.api.routes.embed import truncation_warning
from semantik.vecpipe.models import Embedder
from semantik.vecpipe.schemas import SearchHit, SearchRequest, SearchResponse
from semantik.vecpipe.store.base import Hit, VectorStore

router = APIRouter(tags=["search"])
NO_RERANKER = "use_reranker: no reranker is configured in vecpipe; results are in vector-score order"


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


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, embedder: EmbedderDep, store: StoreDep) -> SearchResponse:
    # Embedding is CPU work: it runs in the threadpool, in one call with the search; the response is
    # validated back on the event loop (a sync endpoint would add a second thread hop for that).
    return await run_in_threadpool(_search, body, embedder, store)


def _search(body: SearchRequest, embedder: Embedder, store: VectorStore) -> SearchResponse:
    check_model_matches(embedder.info, body.model_name, body.quantization)
    warnings = [NO_RERANKER] if body.use_reranker else []
    started = time.perf_counter()
    embedding = embedder.embed([body.query], mode="query", batch_size=1)
    embedded = time.perf_counter()
    hits = store.search(
        body.collection, embedding.vectors[0].tolist(), body.k, body.filters, body.score_threshold
    )
    finished = time.perf_counter()
    results = [to_result(hit, body.include_content) for hit in hits]
    return SearchResponse(
        query=body.query,
        results=results,
        num_results=len(results),
        model_used=embedder.info.name,
        embedding_time_ms=(embedded - started) * 1000,
        search_time_ms=(finished - embedded) * 1000,
        warnings=warnings + truncation_warning(embedding.truncated, 1, embedder.info),
    )
