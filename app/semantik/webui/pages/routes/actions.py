"""What changes a collection for good, each asked for on a page of its own before it is done:
reindex, remove a source, delete. The confirmation works without a script, by keyboard alike."""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from semantik.shared.services import collections
from semantik.webui.api.deps import SessionDep
from semantik.webui.pages.render import page
from semantik.webui.pages.route import PageRoute
from semantik.webui.pages.session import PageUser, UserForm, field

router = APIRouter(route_class=PageRoute, include_in_schema=False)
CONFIRM = {
    "reindex": (
        "Reindex",
        "Every document is read, chunked and embedded again into a new index. Searches keep using "
        "the current index until the new one is complete.",
    ),
    "remove-source": (
        "Remove the source",
        "Its documents and their vectors are removed from this collection. The files themselves "
        "stay where they are.",
    ),
    "delete": (
        "Delete the collection",
        "The collection, its documents, its operations and its vectors are deleted. This cannot be "
        "undone; the files themselves stay where they are.",
    ),
}


def _confirm(request: Request, collection, action: str, source_path: str = "") -> Response:
    verb, consequence = CONFIRM[action]
    return page(
        request,
        "confirm.html",
        collection=collection,
        action=action,
        verb=verb,
        consequence=consequence,
        source_path=source_path,
    )


def _back(collection_id: UUID) -> RedirectResponse:
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@router.get("/collections/{collection_id}/reindex")
def confirm_reindex(request: Request, collection_id: UUID, user: PageUser, session: SessionDep) -> Response:
    return _confirm(request, collections.get_owned(session, user, str(collection_id)), "reindex")


@router.post("/collections/{collection_id}/reindex")
def reindex(collection_id: UUID, _: UserForm, user: PageUser, session: SessionDep) -> Response:
    collections.reindex(session, user, str(collection_id), {})
    return _back(collection_id)


@router.get("/collections/{collection_id}/remove-source")
def confirm_remove_source(
    request: Request,
    collection_id: UUID,
    user: PageUser,
    session: SessionDep,
    path: str = Query(..., min_length=1, max_length=4096),
) -> Response:
    collection = collections.get_owned(session, user, str(collection_id))
    return _confirm(request, collection, "remove-source", path)


@router.post("/collections/{collection_id}/remove-source")
def remove_source(collection_id: UUID, form: UserForm, user: PageUser, session: SessionDep) -> Response:
    collections.remove_source(session, user, str(collection_id), field(form, "path"))
    return _back(collection_id)


@router.get("/collections/{collection_id}/delete")
def confirm_delete(request: Request, collection_id: UUID, user: PageUser, session: SessionDep) -> Response:
    return _confirm(request, collections.get_owned(session, user, str(collection_id)), "delete")


@router.post("/collections/{collection_id}/delete")
def delete(collection_id: UUID, _: UserForm, user: PageUser, session: SessionDep) -> Response:
    name = collections.get_owned(session, user, str(collection_id)).name
    collections.delete(session, user, str(collection_id))
    return RedirectResponse(f"/collections?deleted={quote(name)}", status_code=303)
