"""What each operation type does, and the one entry point the Celery tasks call.

``run_operation`` is safe to call any number of times for the same operation: a finished one is
left alone, a duplicate delivery while another worker runs it does nothing, and a re-run after a
crash redoes only what the database does not yet record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from semantik.shared import sparse
from semantik.shared.config import Settings
from semantik.shared.db import session_scope
from semantik.shared.errors import EntityNotFoundError, ServiceUnavailableError
from semantik.shared.models import (
    ACTIVE_OPERATION_STATUSES,
    Collection,
    CollectionSource,
    Operation,
    OperationStatus,
    OperationType,
)
from semantik.worker import endings, lifecycle, records
from semantik.worker.ingest import SourceRef, ingest_sources, remove_documents, target_for
from semantik.worker.lifecycle import Claim, OperationStopped
from semantik.worker.locks import collection_lock
from semantik.worker.reindex import reindex

log = logging.getLogger(__name__)


class CollectionBusyError(ServiceUnavailableError):
    """Another operation holds the collection; the task retries later."""


def _collection(session: Session, claim: Claim) -> Collection:
    collection = session.get(Collection, claim.collection_id)
    if collection is None:
        raise EntityNotFoundError("Collection", claim.collection_id)
    return collection


def _sources(session: Session, claim: Claim) -> list[CollectionSource]:
    query = select(CollectionSource).where(CollectionSource.collection_id == claim.collection_id)
    source_id = claim.config.get("source_id")
    if source_id is not None:
        query = query.where(CollectionSource.id == source_id)
    found = list(session.scalars(query.order_by(CollectionSource.id)))
    if source_id is not None and not found:
        raise EntityNotFoundError("Source", claim.config.get("source_path", source_id))
    return found


def index(claim: Claim, settings: Settings, vectors) -> None:
    with session_scope() as session:
        collection = _collection(session, claim)
        name, sparse_index = collection.vector_store_name, sparse.enabled(collection.sparse_index_config)
    vectors.create_collection(name, sparse_index=sparse_index)

    def ready(session: Session, collection: Collection) -> None:
        collection.qdrant_collections = {"names": [name]}

    lifecycle.complete(claim, ready)


def _ingest(claim: Claim, settings: Settings, vectors, *, remove_missing: bool) -> None:
    with session_scope() as session:
        target = target_for(settings, _collection(session, claim))
        sources = [SourceRef.of(source) for source in _sources(session, claim)]
    ingest_sources(claim, settings, vectors, target, sources, remove_missing=remove_missing)

    def count_sources(session: Session, collection: Collection) -> None:
        for source in session.scalars(
            select(CollectionSource).where(CollectionSource.id.in_([s.id for s in sources]))
        ):
            records.refresh_source_counters(session, source, indexed=True)

    lifecycle.complete(claim, count_sources)


def append(claim: Claim, settings: Settings, vectors) -> None:
    _ingest(claim, settings, vectors, remove_missing=False)


def sync(claim: Claim, settings: Settings, vectors) -> None:
    """Re-scan: new and changed files (by sha256) are indexed, vanished ones removed."""
    _ingest(claim, settings, vectors, remove_missing=True)


def remove_source(claim: Claim, settings: Settings, vectors) -> None:
    with session_scope() as session:
        name = _collection(session, claim).vector_store_name
        source = _sources(session, claim)[0]
        doc_ids = sorted(records.documents_of_source(session, claim.collection_id, source.id).values())
    lifecycle.commit_progress(claim, total=len(doc_ids))
    remove_documents(claim, vectors, name, doc_ids)
    lifecycle.commit_progress(claim, done=len(doc_ids))

    def forget_source(session: Session, collection: Collection) -> None:
        session.delete(session.get(CollectionSource, source.id))

    lifecycle.complete(claim, forget_source)


def delete(claim: Claim, settings: Settings, vectors) -> None:
    """Drop the collection's vectors, then the collection (its rows, this operation's included)."""
    with session_scope() as session:
        collection = _collection(session, claim)
        names = sorted(
            {collection.vector_store_name, *(collection.qdrant_collections or {}).get("names", [])}
        )
    endings.drop_vector_collections(names, vectors)
    with session_scope() as session:
        session.delete(_collection(session, claim))


HANDLERS: dict[OperationType, Callable[[Claim, Settings, object], None]] = {
    OperationType.INDEX: index,
    OperationType.APPEND: append,
    OperationType.SYNC: sync,
    OperationType.REINDEX: reindex,
    OperationType.REMOVE_SOURCE: remove_source,
    OperationType.DELETE: delete,
}


def _status(operation_uuid: str) -> tuple[str, OperationStatus] | None:
    with session_scope() as session:
        row = session.execute(
            select(Operation.collection_id, Operation.status).where(Operation.uuid == operation_uuid)
        ).first()
    return (row[0], row[1]) if row else None


def run_operation(operation_uuid: str, settings: Settings, vectors) -> str:
    """Run the operation to its end; returns what happened, in a word, for the task result."""
    found = _status(operation_uuid)
    if found is None:
        return "missing"
    collection_id, status = found
    if status not in ACTIVE_OPERATION_STATUSES:
        return f"already {status.value}"
    with collection_lock(collection_id) as held:
        if not held:
            if status is OperationStatus.PROCESSING:
                return "running elsewhere"  # a duplicate delivery; the holder finishes it
            raise CollectionBusyError(f"collection {collection_id} is busy with another operation")
        claim = lifecycle.claim(operation_uuid)
        if claim is None:
            return "already ended"
        try:
            HANDLERS[claim.type](claim, settings, vectors)
        except OperationStopped as stop:
            endings.clean_up(endings.stopped(claim), vectors)
            log.info("operation %s stopped: %s", claim.uuid, stop)
            return stop.status.value
    return OperationStatus.COMPLETED.value
