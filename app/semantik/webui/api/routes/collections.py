from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Response

from semantik.shared.models import Collection
from semantik.shared.services import collections, operations
from semantik.webui.api.deps import (
    CurrentUser,
    OperationStatuses,
    OperationTypeFilter,
    PageNumber,
    PerPage,
    SessionDep,
    SettingsDep,
)
from semantik.webui.schemas import (
    CollectionCreate,
    CollectionList,
    CollectionOut,
    CollectionUpdate,
    DocumentList,
    OperationOut,
    SafeStr,
    SourceIn,
    SourceList,
)

router = APIRouter(prefix="/api/v2/collections", tags=["collections"])


def _out(session: SessionDep, collection: Collection, **extra: Any) -> dict[str, Any]:
    out = CollectionOut.model_validate(collection).model_dump()
    return {**out, "error_count": collections.error_count(session, collection), **extra}


NOT_NULL = ("name", "is_public", "sync_mode")


def _model_fields(body: CollectionUpdate) -> dict[str, Any]:
    fields = {
        k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k not in NOT_NULL
    }
    if "metadata" in fields:
        fields["meta"] = fields.pop("metadata")
    return fields


@router.post("", response_model=CollectionOut, status_code=201)
def create_collection(body: CollectionCreate, user: CurrentUser, session: SessionDep) -> object:
    fields = body.model_dump()
    fields["meta"] = fields.pop("metadata")
    fields["is_public"] = bool(fields["is_public"])
    fields["sync_mode"] = fields["sync_mode"] or "one_time"
    collection, operation = collections.create(session, user, fields)
    return _out(session, collection, initial_operation_id=operation.uuid)


@router.get("", response_model=CollectionList)
def list_collections(
    user: CurrentUser,
    session: SessionDep,
    page: PageNumber = 1,
    per_page: PerPage = 50,
    include_public: bool = True,
) -> object:
    rows, total = collections.visible_to(
        session, user, include_public=include_public, page=page, per_page=per_page
    )
    return {
        "collections": [_out(session, row) for row in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


@router.get("/{collection_id}", response_model=CollectionOut)
def get_collection(collection_id: UUID, user: CurrentUser, session: SessionDep) -> object:
    return _out(session, collections.get_readable(session, user, str(collection_id)))


@router.put("/{collection_id}", response_model=CollectionOut)
def update_collection(
    collection_id: UUID, body: CollectionUpdate, user: CurrentUser, session: SessionDep
) -> object:
    collection = collections.update(session, user, str(collection_id), _model_fields(body))
    session.flush()
    return _out(session, collection)


@router.delete("/{collection_id}", status_code=204)
def delete_collection(collection_id: UUID, user: CurrentUser, session: SessionDep) -> Response:
    collections.delete(session, user, str(collection_id))
    return Response(status_code=204)


@router.post("/{collection_id}/sources", response_model=OperationOut, status_code=202)
def add_source(
    collection_id: UUID, body: SourceIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> object:
    config = dict(body.source_config or {})
    if body.source_path is not None and "path" not in config:
        config["path"] = body.source_path
    return collections.add_source(
        session,
        user,
        str(collection_id),
        source_type=body.source_type,
        source_config=config,
        roots=settings.document_allowed_roots,
    )


@router.delete("/{collection_id}/sources", response_model=OperationOut, status_code=202)
def remove_source(
    collection_id: UUID,
    user: CurrentUser,
    session: SessionDep,
    source_path: SafeStr = Query(..., min_length=1, max_length=4096),
) -> object:
    return collections.remove_source(session, user, str(collection_id), source_path)


@router.get("/{collection_id}/sources", response_model=SourceList)
def list_sources(
    collection_id: UUID,
    user: CurrentUser,
    session: SessionDep,
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(50, ge=1, le=100),
) -> object:
    collection = collections.get_readable(session, user, str(collection_id))
    rows, total = collections.sources(session, collection, offset, limit)
    return {"items": rows, "total": total, "offset": offset, "limit": limit}


@router.post("/{collection_id}/reindex", response_model=OperationOut, status_code=202)
def reindex(
    collection_id: UUID, user: CurrentUser, session: SessionDep, overrides: dict[str, Any] | None = Body(None)
) -> object:
    return collections.reindex(session, user, str(collection_id), overrides or {})


@router.get("/{collection_id}/operations", response_model=list[OperationOut])
def collection_operations(
    collection_id: UUID,
    user: CurrentUser,
    session: SessionDep,
    status: OperationStatuses = None,
    operation_type: OperationTypeFilter = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> object:
    collection = collections.get_readable(session, user, str(collection_id))
    return collections.collection_operations(
        session,
        collection,
        statuses=operations.parse_statuses(status),
        kind=operations.parse_type(operation_type),
        page=page,
        per_page=per_page,
    )


@router.get("/{collection_id}/documents", response_model=DocumentList)
def list_documents(
    collection_id: UUID,
    user: CurrentUser,
    session: SessionDep,
    page: PageNumber = 1,
    per_page: PerPage = 50,
    status: str | None = Query(None, max_length=32),
) -> object:
    collection = collections.get_readable(session, user, str(collection_id))
    rows, total = collections.documents(session, collection, status=status, page=page, per_page=per_page)
    return {"documents": rows, "total": total, "page": page, "per_page": per_page}
