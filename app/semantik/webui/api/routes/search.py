from __future__ import annotations

import time
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from semantik.shared.services.search import SearchRequest, search
from semantik.webui.api.deps import CurrentUser, SessionDep, VecpipeDep
from semantik.webui.schemas import Strict

router = APIRouter(prefix="/api/v2/search", tags=["search"])


class SearchOptions(Strict):
    query: str = Field(min_length=1, max_length=1000)
    k: int = Field(10, ge=1, le=100)
    search_type: Literal["semantic", "question", "code"] = "semantic"
    # None: the default mode (DEFAULT_SEARCH_MODE) where every collection has a sparse index, else dense.
    search_mode: Literal["dense", "sparse", "hybrid"] | None = None
    rrf_k: int = Field(60, ge=1, le=1000)
    rerank_model: str | None = Field(None, max_length=255)
    reranker_id: str | None = Field(None, max_length=255)
    score_threshold: float = Field(0.0, ge=0.0, le=1.0)
    metadata_filter: dict[str, Any] | None = None
    include_content: bool = True
    use_hyde: bool | None = None

    # No reranker and no HyDE generator can be installed here: asking for one is refused, not ignored.
    @field_validator("rerank_model", "reranker_id")
    @classmethod
    def _no_reranker(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("no reranker is available in this deployment; leave it null")
        return value

    @field_validator("use_hyde")
    @classmethod
    def _no_hyde(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError("HyDE is not available in this deployment; leave it null or false")
        return value


class MultiSearchIn(SearchOptions):
    collection_uuids: list[UUID] = Field(min_length=1, max_length=10)
    use_reranker: bool = True


class SingleSearchIn(SearchOptions):
    collection_id: UUID
    use_reranker: bool = False


class SearchOut(BaseModel):
    query: str
    results: list[dict[str, Any]]
    total_results: int
    collections_searched: list[dict[str, Any]]
    search_type: str
    search_mode_used: str
    warnings: list[str]
    reranking_used: bool = False
    reranker_model: str | None = None
    embedding_time_ms: float | None = None
    reranking_time_ms: float | None = None
    search_time_ms: float
    total_time_ms: float
    hyde_used: bool = False
    hyde_info: dict[str, Any] | None = None
    partial_failure: bool
    failed_collections: list[dict[str, Any]] | None
    api_version: str = "2.0"


def _run(
    body: SearchOptions,
    ids: list[UUID],
    use_reranker: bool,
    user: CurrentUser,
    session: SessionDep,
    vecpipe: VecpipeDep,
) -> dict[str, Any]:
    started = time.perf_counter()
    request = SearchRequest(
        query=body.query,
        k=body.k,
        search_type=body.search_type,
        score_threshold=body.score_threshold,
        metadata_filter=body.metadata_filter,
        include_content=body.include_content,
        use_reranker=use_reranker,
        search_mode=body.search_mode,
        rrf_k=body.rrf_k if "rrf_k" in body.model_fields_set else None,
    )
    outcome = search(session, vecpipe, user, [str(i) for i in ids], request)
    # Commit here, in this thread (an API key's last_used_at may be pending): the session dependency
    # then has nothing left to send and ends without another thread hop.
    session.commit()
    return {
        "query": body.query,
        "results": outcome.results,
        "total_results": len(outcome.results),
        "collections_searched": outcome.searched,
        "search_type": body.search_type,
        "search_mode_used": outcome.search_mode_used,
        "warnings": outcome.warnings,
        "search_time_ms": round(outcome.search_time_ms, 2),
        "total_time_ms": round((time.perf_counter() - started) * 1000, 2),
        "partial_failure": bool(outcome.failed),
        "failed_collections": outcome.failed or None,
    }


# Async endpoints that hand the blocking part (database, vecpipe) to the threadpool in one call: a sync
# endpoint costs two thread hops, one for the function and one more for validating its response.
@router.post("", response_model=SearchOut)
async def search_many(
    body: MultiSearchIn, user: CurrentUser, session: SessionDep, vecpipe: VecpipeDep
) -> object:
    return await run_in_threadpool(
        _run, body, body.collection_uuids, body.use_reranker, user, session, vecpipe
    )


@router.post("/single", response_model=SearchOut)
async def search_one(
    body: SingleSearchIn, user: CurrentUser, session: SessionDep, vecpipe: VecpipeDep
) -> object:
    return await run_in_threadpool(
        _run, body, [body.collection_id], body.use_reranker, user, session, vecpipe
    )
