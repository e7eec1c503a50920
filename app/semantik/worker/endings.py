"""How an operation ends early (cancelled, failed, reaped) without leaving anything inconsistent.

The collection goes back to a usable status with a message, a half-built blue/green collection is
dropped, and the batch that was being written when the end came (``in_flight``) is undone: its
points are deleted and its rows marked pending, so the store never holds points for documents the
database does not list as indexed, and the next sync indexes them again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from semantik.shared import queue
from semantik.shared.db import session_scope
from semantik.shared.errors import EntityNotFoundError
from semantik.shared.models import (
    ACTIVE_OPERATION_STATUSES,
    Collection,
    CollectionStatus,
    Document,
    DocumentStatus,
    Operation,
    OperationStatus,
    OperationType,
)
from semantik.worker import records
from semantik.worker.lifecycle import Claim, note_sync_run, now

log = logging.getLogger(__name__)
INTERRUPTED = "indexing was interrupted; the next sync or append indexes it again"


@dataclass
class Leftovers:
    """What an ended operation leaves in the vector store that nothing describes any more."""

    collections: list[str] = field(default_factory=list)
    store: str | None = None
    doc_ids: list[str] = field(default_factory=list)


def _undo_in_flight(session: Session, operation: Operation, leftovers: Leftovers) -> None:
    in_flight = (operation.meta or {}).get("in_flight") or {}
    leftovers.store, leftovers.doc_ids = in_flight.get("store"), list(in_flight.get("doc_ids") or [])
    if leftovers.doc_ids:
        session.execute(
            update(Document)
            .where(Document.id.in_(leftovers.doc_ids))
            .values(
                status=DocumentStatus.PENDING,
                chunk_count=0,
                content_hash="",  # matches no file: the next scan rewrites it
                error_message=INTERRUPTED,
                error_category="interrupted",
            )
        )
    operation.meta = {**(operation.meta or {}), "in_flight": None}


def _release(session: Session, operation: Operation, reason: str | None) -> Leftovers:
    leftovers = Leftovers()
    _undo_in_flight(session, operation, leftovers)
    collection = session.get(Collection, operation.collection_id, with_for_update=True)
    if collection is None:
        return leftovers
    ending = "failed: " + reason if reason else "was " + operation.status.value
    collection.status = (
        CollectionStatus.ERROR if operation.type is OperationType.INDEX else CollectionStatus.READY
    )
    collection.status_message = f"The last {operation.type.value} operation {ending}"
    records.refresh_collection_counters(session, collection)
    note_sync_run(collection, operation, "failed" if reason else operation.status.value, reason)
    staging = collection.qdrant_staging or {}
    if staging.get("operation_id") == operation.uuid:
        collection.qdrant_staging = None
        leftovers.collections.append(staging["name"])
    return leftovers


def stopped(claim: Claim) -> Leftovers:
    """After OperationStopped: the operation keeps the status it was given."""
    with session_scope() as session:
        operation = session.scalars(select(Operation).where(Operation.id == claim.id).with_for_update()).one()
        return _release(session, operation, None)


def fail(operation_uuid: str, reason: str) -> Leftovers:
    """Mark an active operation failed with ``reason``; nothing to clean up if it had ended."""
    with session_scope() as session:
        operation = session.scalars(
            select(Operation).where(Operation.uuid == operation_uuid).with_for_update()
        ).first()
        if operation is None or operation.status not in ACTIVE_OPERATION_STATUSES:
            return Leftovers()
        operation.status = OperationStatus.FAILED
        operation.error_message = reason[:4000]
        operation.completed_at = now()
        log.warning("operation %s (%s) failed: %s", operation.uuid, operation.type.value, reason)
        return _release(session, operation, reason)


def clean_up(leftovers: Leftovers, vectors: Any) -> None:
    if leftovers.doc_ids and leftovers.store not in leftovers.collections:
        try:
            vectors.delete_points(leftovers.store, leftovers.doc_ids)
        except Exception as error:  # their rows are pending: the next scan deletes them first
            log.warning(
                "points of %d interrupted documents stay in %s for now: %s",
                len(leftovers.doc_ids),
                leftovers.store,
                error,
            )
    drop_vector_collections(leftovers.collections, vectors)


def drop_vector_collections(names: list[str], vectors: Any) -> list[str]:
    """Drop now; what vecpipe refuses is queued (retried until it answers) and returned."""
    remaining = []
    for name in names:
        try:
            vectors.delete_collection(name)
        except EntityNotFoundError:
            pass  # already gone: what we wanted
        except Exception as error:  # any failure: leave it to the retried task
            log.warning("vector collection %s not dropped now (%s); queued", name, error)
            remaining.append(name)
    if remaining:
        try:
            queue.enqueue(queue.DELETE_VECTORS_TASK, remaining)
        except Exception as error:  # the names stay listed on the collection for its deletion
            log.error("could not queue the deletion of %s: %s", remaining, error)
    return remaining
