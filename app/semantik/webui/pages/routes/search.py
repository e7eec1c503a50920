"""Search (a GET form: works without a script, and its URL can be shared) and a document's view."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from semantik.shared import sparse
from semantik.shared.errors import EntityNotFoundError, ServiceUnavailableError, ValidationError
from semantik.shared.models import Collection, User
from semantik.shared.services import collections
from semantik.shared.services.search import SEARCHABLE, SearchRequest, search
from semantik.webui.api.deps import SessionDep, VecpipeDep
from semantik.webui.pages import text
from semantik.webui.pages.render import page
from semantik.webui.pages.route import PageRoute
from semantik.webui.pages.session import PageUser
from semantik.webui.schemas import SafeStr

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MOST_COLLECTIONS = 10  # as the API's search allows
PASSAGES = 30  # chunks asked for; grouped by document, each shows its best three
CONTEXT = 2  # chunks shown before and after the one a result pointed at
# The modes offered, in the words the page uses (the API's search_mode values).
MODES = {
    "hybrid": "Meaning and words",
    "dense": "Meaning",
    "sparse": "Exact words",
}
NO_VECPIPE = (
    "The search service (vecpipe) is not answering, so nothing could be searched. Try again in a "
    "minute; if it keeps happening, tell your administrator."
)


@dataclass
class DocumentHits:
    collection_id: str
    collection_name: str
    document_id: str
    file_name: str
    file_path: str
    score: float
    passages: list[dict[str, Any]] = field(default_factory=list)


def grouped(results: list[dict[str, Any]], per_document: int = 3) -> list[DocumentHits]:
    """Results by document, best document first, each with its best passages in score order."""
    groups: dict[tuple[str, str], DocumentHits] = {}
    for hit in results:  # already in score order
        key = (hit["collection_id"], hit["document_id"])
        if key not in groups:
            groups[key] = DocumentHits(
                hit["collection_id"],
                hit["collection_name"],
                hit["document_id"],
                hit["file_name"],
                hit["file_path"],
                hit["score"] or 0.0,
            )
        if len(groups[key].passages) < per_document:
            groups[key].passages.append(hit)
    return list(groups.values())


def _searchable(session: SessionDep, user: User) -> list[Collection]:
    rows, _ = collections.visible_to(session, user, include_public=True, page=1, per_page=100)
    return [row for row in rows if row.status in SEARCHABLE]


def _run(session, vecpipe, user: User, query: str, chosen: list[str], mode: str | None) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        outcome = search(
            session, vecpipe, user, chosen, SearchRequest(query=query, k=PASSAGES, search_mode=mode)
        )
    except ServiceUnavailableError:
        return {"error": NO_VECPIPE}
    except ValidationError as error:  # a mode a chosen collection cannot serve, said as the API says it
        return {"error": f"{error}."}
    return {
        "groups": grouped(outcome.results),
        "failed": outcome.failed,
        "warnings": outcome.warnings,
        "mode_used": outcome.search_mode_used,
        "took_ms": (time.perf_counter() - started) * 1000,
    }


@router.get("/")
@router.get("/search")
def search_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    vecpipe: VecpipeDep,
    q: SafeStr = Query("", max_length=1000),
    c: list[UUID] = Query([], max_length=MOST_COLLECTIONS),
    mode: Literal["", "hybrid", "dense", "sparse"] = "",
) -> Response:
    available = _searchable(session, user)
    query, chosen = q.strip(), [str(cid) for cid in c]
    searched = chosen or [row.id for row in available[:MOST_COLLECTIONS]]
    context: dict[str, Any] = {"groups": [], "failed": [], "warnings": [], "took_ms": None, "error": None}
    if query and searched:
        context.update(_run(session, vecpipe, user, query, searched, mode or None))
    return page(
        request,
        "search.html",
        q=query,
        words=text.query_words(query),
        available=available,
        chosen=set(chosen),
        searched_count=len(searched),
        modes=MODES,
        mode=mode,
        # Without a keyword index anywhere, only meaning can be searched: the other modes are not offered.
        keywords=any(sparse.enabled(row.sparse_index_config) for row in available),
        **context,
    )


def _chunks(vecpipe, collection: Collection, document_id: str, indexes: list[int]) -> tuple[list, str | None]:
    try:
        return vecpipe.chunks(collection.vector_store_name, document_id, indexes), None
    except ServiceUnavailableError:
        return [], NO_VECPIPE
    except EntityNotFoundError:
        return [], "This collection has no index yet: its first operation has not finished."


@router.get("/collections/{collection_id}/documents/{document_id}")
def document_page(
    request: Request,
    collection_id: UUID,
    document_id: UUID,
    user: PageUser,
    session: SessionDep,
    vecpipe: VecpipeDep,
    chunk: int = Query(0, ge=0, le=10_000_000),
    q: SafeStr = Query("", max_length=1000),
) -> Response:
    """A chunk between its neighbours (CONTEXT on each side), with links to read on either way."""
    collection = collections.get_readable(session, user, str(collection_id))
    document = collections.document(session, collection, str(document_id))
    last = max(document.chunk_count - 1, 0)
    focus = min(chunk, last)
    indexes = list(range(max(0, focus - CONTEXT), min(last, focus + CONTEXT) + 1))
    found, error = _chunks(vecpipe, collection, document.id, indexes)
    return page(
        request,
        "document.html",
        collection=collection,
        document=document,
        pieces=text.in_context(found, focus),
        focus=focus,
        earlier=max(0, focus - 2 * CONTEXT - 1) if indexes[0] > 0 else None,
        later=min(last, focus + 2 * CONTEXT + 1) if indexes[-1] < last else None,
        q=q.strip(),
        words=text.query_words(q),
        error=error,
    )
