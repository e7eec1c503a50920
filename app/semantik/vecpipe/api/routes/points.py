"""Points: upsert (idempotent by point id), delete by document, read a document's chunks."""

from __future__ import annotations

import time

from fastapi import APIRouter

from semantik.vecpipe.api.bodies import JSONBodyRoute
from semantik.vecpipe.api.deps import StoreDep
from semantik.vecpipe.schemas import (
    ChunksRequest,
    ChunksResponse,
    DeletePointsRequest,
    DeletePointsResponse,
    UpsertRequest,
    UpsertResponse,
)
from semantik.vecpipe.store.base import SparseVector, StoredPoint

router = APIRouter(tags=["points"], route_class=JSONBodyRoute)


@router.post("/upsert", response_model=UpsertResponse)
def upsert(body: UpsertRequest, store: StoreDep) -> UpsertResponse:
    started = time.perf_counter()
    points = [
        StoredPoint(
            p.id,
            p.vector,
            p.payload.model_dump(),
            SparseVector(p.sparse_vector.indices, p.sparse_vector.values) if p.sparse_vector else None,
        )
        for p in body.points
    ]
    upserted = store.upsert(body.collection_name, points, wait=body.wait)
    return UpsertResponse(
        points_upserted=upserted,
        collection_name=body.collection_name,
        upsert_time_ms=(time.perf_counter() - started) * 1000,
    )


@router.post("/points/delete", response_model=DeletePointsResponse)
def delete_points(body: DeletePointsRequest, store: StoreDep) -> DeletePointsResponse:
    """Remove every point of these documents (a re-index or a removed source)."""
    doomed = store.count(body.collection_name, {"doc_id": body.doc_ids})
    store.delete_documents(body.collection_name, body.doc_ids)
    return DeletePointsResponse(collection_name=body.collection_name, points_deleted=doomed)


@router.post("/points/chunks", response_model=ChunksResponse)
def read_chunks(body: ChunksRequest, store: StoreDep) -> ChunksResponse:
    """Chunks of one document by index, for a view of a passage in its context (read only)."""
    found = store.chunks(body.collection_name, body.doc_id, sorted(set(body.chunk_indexes)))
    return ChunksResponse(collection_name=body.collection_name, chunks=found)
