"""Collections on the page: the list, a new one, one collection with its live state, its actions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError as SchemaError

from semantik.shared import sparse
from semantik.shared.config import Settings
from semantik.shared.errors import AccessDeniedError, SemantikError
from semantik.shared.models import ACTIVE_OPERATION_STATUSES, Collection, User
from semantik.shared.services import collections, operations, users
from semantik.webui.api.deps import SessionDep, SettingsDep
from semantik.webui.pages.forms import problems
from semantik.webui.pages.render import page
from semantik.webui.pages.route import PageRoute
from semantik.webui.pages.session import PageUser, UserForm, field
from semantik.webui.schemas import CollectionCreate

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PER_PAGE = 25
LIMITS = collections.CHUNK_LIMITS


@router.get("/collections")
def collection_list(
    request: Request, user: PageUser, session: SessionDep, page_number: int = Query(1, alias="page", ge=1)
) -> Response:
    rows, total = collections.visible_to(
        session, user, include_public=True, page=page_number, per_page=PER_PAGE
    )
    latest = operations.latest_for(session, [row.id for row in rows])
    deleted = request.query_params.get("deleted", "")[:255]
    return page(
        request,
        "collections.html",
        rows=rows,
        latest=latest,
        page_number=page_number,
        pages=max(1, -(-total // PER_PAGE)),
        total=total,
        notice=f"The collection “{deleted}” is deleted." if deleted else None,
    )


def _new_form(request: Request, settings: Settings, status: int = 200, **context: Any) -> Response:
    values = {"chunk_size": "1000", "chunk_overlap": "200", "name": "", "description": "", "keywords": "on"}
    values.update(context.pop("values", {}))
    return page(
        request,
        "collection_new.html",
        status=status,
        values=values,
        errors=context.pop("errors", {}),
        limits=LIMITS,
        model=settings.default_embedding_model,
    )


@router.get("/collections/new")
def new_collection(request: Request, _: PageUser, settings: SettingsDep) -> Response:
    return _new_form(request, settings)


@router.post("/collections/new")
def create_collection(
    request: Request, form: UserForm, user: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    values = {
        name: field(form, name) for name in ("name", "description", "chunk_size", "chunk_overlap", "keywords")
    }
    try:
        body = CollectionCreate(
            name=values["name"],
            description=values["description"] or None,
            chunk_size=values["chunk_size"] or 1000,
            chunk_overlap=values["chunk_overlap"] or 0,
            # vecpipe serves one model: the page's collections use the one it loaded.
            embedding_model=settings.default_embedding_model,
            quantization=settings.default_quantization,
            sparse_index_config=sparse.SparseIndexConfig() if values["keywords"] else None,
        )
        fields = body.model_dump()
        fields.update(meta=fields.pop("metadata"), is_public=False, sync_mode="one_time")
        collection, _ = collections.create(session, user, fields)
    except SchemaError as error:
        return _new_form(request, settings, 400, values=values, errors=problems(error))
    except SemantikError as error:
        return _new_form(request, settings, 400, values=values, errors={"name": str(error)})
    return RedirectResponse(f"/collections/{collection.id}", status_code=303)


def _source_roots(user: User, settings: Settings) -> tuple[list[str], str | None]:
    """Where this user may add directory sources, or why they may not."""
    try:
        return [str(root) for root in users.source_roots_for(user, settings.document_allowed_roots)], None
    except AccessDeniedError as error:
        return [], f"{error}."


def _live(
    session: SessionDep, settings: Settings, user: User, collection: Collection, page_number: int
) -> dict[str, Any]:
    """What changes while operations run: state, counts, sources, operations, documents."""
    history = collections.collection_operations(
        session, collection, statuses=[], kind=None, page=1, per_page=10
    )
    documents, total = collections.documents(
        session, collection, status=None, page=page_number, per_page=PER_PAGE
    )
    roots, no_roots = _source_roots(user, settings)
    return {
        "collection": collection,
        "owner": collection.owner_id == user.id,
        "active": any(op.status in ACTIVE_OPERATION_STATUSES for op in history),
        "error_count": collections.error_count(session, collection),
        "sources": collections.sources(session, collection, 0, 100)[0],
        "history": history,
        "documents": documents,
        "document_total": total,
        "page_number": page_number,
        "pages": max(1, -(-total // PER_PAGE)),
        "roots": roots,
        "no_roots": no_roots,
        "source_error": None,
        "source_path": roots[0] + "/" if roots else "",
    }


@router.get("/collections/{collection_id}")
@router.get("/collections/{collection_id}/live")
def collection_page(
    request: Request,
    collection_id: UUID,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    page_number: int = Query(1, alias="page", ge=1, le=100_000),
) -> Response:
    """A collection's page, or (…/live) its changing part, which the page's script fetches while work runs."""
    collection = collections.get_readable(session, user, str(collection_id))
    template = "_collection_live.html" if request.url.path.endswith("/live") else "collection.html"
    return page(request, template, **_live(session, settings, user, collection, page_number))


@router.post("/collections/{collection_id}/sources")
def add_source(
    request: Request,
    collection_id: UUID,
    form: UserForm,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    path = field(form, "path")
    try:
        collections.add_source(
            session,
            user,
            str(collection_id),
            source_type="directory",
            source_config={"path": path, "recursive": True},
            roots=settings.document_allowed_roots,
        )
    except SemantikError as error:
        session.rollback()
        collection = collections.get_readable(session, user, str(collection_id))
        context = _live(session, settings, user, collection, 1)
        context.update(source_error=f"{error}.", source_path=path)
        return page(request, "collection.html", status=error.status_code, **context)
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)
