"""Collections: create (idempotent), list, info, count, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from semantik.vecpipe.api.bodies import JSONBodyRoute
from semantik.vecpipe.api.deps import EmbedderDep, StoreDep
from semantik.vecpipe.schemas import (
    CollectionResponse,
    CountResponse,
    CreateCollectionRequest,
    CreateCollectionResponse,
)
from semantik.vecpipe.store.base import VectorStore

router = APIRouter(prefix="/collections", tags=["collections"], route_class=JSONBodyRoute)


def collection_response(store: VectorStore, name: str) -> CollectionResponse:
    info = store.collection_info(name)
    return CollectionResponse(backend=store.backend, **info.__dict__)


@router.get("")
def list_collections(store: StoreDep) -> dict[str, list[str]]:
    return {"collections": store.list_collections()}


@router.post("", response_model=CreateCollectionResponse)
def create_collection(
    body: CreateCollectionRequest, store: StoreDep, embedder: EmbedderDep, response: Response
) -> CreateCollectionResponse:
    """201 when created now, 200 when it already existed so, 409 with another size or sparse index."""
    size = body.vector_size or embedder.info.dimension
    created = store.create_collection(body.name, size, sparse=body.sparse_index)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return CreateCollectionResponse(
        name=body.name, vector_size=size, sparse_index=body.sparse_index, created=created
    )


@router.get("/{name}", response_model=CollectionResponse)
def get_collection(name: str, store: StoreDep) -> CollectionResponse:
    return collection_response(store, name)


@router.get("/{name}/count", response_model=CountResponse)
def count_points(
    name: str, store: StoreDep, doc_id: Annotated[list[str] | None, Query()] = None
) -> CountResponse:
    """All points, or the points of the given documents (repeat ``doc_id``)."""
    found = store.count(name, {"doc_id": doc_id} if doc_id else None)
    return CountResponse(collection_name=name, count=found)


@router.delete("/{name}")
def delete_collection(name: str, store: StoreDep) -> dict[str, str]:
    store.delete_collection(name)
    return {"status": "deleted", "collection_name": name}
