"""An operation's states as the worker moves it: claim, progress, complete, stop, fail.

Every change is one short transaction that locks the operation row, so a cancel from the webui (or
a failure from the reaper) is seen at the next batch boundary and never overwritten.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from semantik.shared.db import session_scope
from semantik.shared.models import (
    ACTIVE_OPERATION_STATUSES,
    CHUNK_COUNTERS,
    Collection,
    CollectionStatus,
    Operation,
    OperationStatus,
    OperationType,
)
from semantik.worker import records

log = logging.getLogger(__name__)
Apply = Callable[[Session, Collection], None]


class OperationStopped(Exception):
    """Someone else ended the operation (cancelled, or failed by the reaper) while it ran."""

    def __init__(self, status: OperationStatus):
        super().__init__(f"operation is {status.value}")
        self.status = status


@dataclass(frozen=True)
class Claim:
    id: int
    uuid: str
    type: OperationType
    collection_id: str
    config: dict[str, Any]


def now() -> datetime:
    return datetime.now(UTC)


def with_heartbeat(meta: dict[str, Any] | None, **changes: Any) -> dict[str, Any]:
    """A new meta dict (JSON columns only notice reassignment) stamped with the time of progress."""
    return {**(meta or {}), **changes, "heartbeat_at": now().isoformat()}


def heartbeat_of(operation: Operation) -> datetime:
    stamp = (operation.meta or {}).get("heartbeat_at")
    return datetime.fromisoformat(stamp) if stamp else operation.started_at or operation.created_at


def _locked(session: Session, operation_id: int) -> Operation:
    return session.scalars(select(Operation).where(Operation.id == operation_id).with_for_update()).one()


def claim(operation_uuid: str) -> Claim | None:
    """Mark the operation processing and reset its progress; None when it has already ended."""
    with session_scope() as session:
        operation = session.scalars(
            select(Operation).where(Operation.uuid == operation_uuid).with_for_update()
        ).first()
        if operation is None or operation.status not in ACTIVE_OPERATION_STATUSES:
            return None
        attempts = int((operation.meta or {}).get("attempts", 0)) + 1
        operation.status = OperationStatus.PROCESSING
        operation.worker_host = socket.gethostname()
        operation.started_at = operation.started_at or now()
        operation.meta = with_heartbeat(
            operation.meta, attempts=attempts, retry_pending=False, **dict.fromkeys(CHUNK_COUNTERS, 0)
        )
        # Each attempt recounts from the files on disk, so a re-run ends with the same figures.
        operation.documents_total = operation.documents_processed = operation.documents_failed = 0
        collection = session.get(Collection, operation.collection_id)
        if collection is not None and operation.type is not OperationType.INDEX:
            collection.status = CollectionStatus.PROCESSING
        return Claim(
            operation.id, operation.uuid, operation.type, operation.collection_id, dict(operation.config)
        )


def commit_progress(
    claim: Claim,
    write: Callable[[Session], None] | None = None,
    *,
    done: int = 0,
    failed: int = 0,
    total: int = 0,
    in_flight: list[str] | None = None,
) -> None:
    """Commit one batch's rows with the progress they make; raise OperationStopped if it ended.

    ``in_flight`` names the documents of the next batch, whose points may already be changing.
    """
    with session_scope() as session:
        if write is not None:
            write(session)
        operation = _locked(session, claim.id)
        operation.documents_total += total
        operation.documents_processed += done
        operation.documents_failed += failed
        # The batch is recorded: only the next one's documents are left to undo if the operation dies.
        still = (operation.meta or {}).get("in_flight") if in_flight else None
        operation.meta = with_heartbeat(operation.meta, in_flight=still and {**still, "doc_ids": in_flight})
        collection = session.get(Collection, claim.collection_id)
        if collection is not None:
            records.refresh_collection_counters(session, collection)
        status = operation.status
    if status is not OperationStatus.PROCESSING:
        raise OperationStopped(status)


def note_chunks(claim: Claim, **counts: int) -> None:
    """Add to the operation's chunk counters (CHUNK_COUNTERS): progress that moves inside a batch."""
    with session_scope() as session:
        operation = _locked(session, claim.id)
        meta = operation.meta or {}
        operation.meta = with_heartbeat(
            meta, **{name: meta.get(name, 0) + count for name, count in counts.items()}
        )


def mark_in_flight(claim: Claim, vector_store_name: str, doc_ids: list[str]) -> None:
    """Note the documents whose points are about to change, for undoing if the operation dies."""
    with session_scope() as session:
        operation = _locked(session, claim.id)
        operation.meta = with_heartbeat(
            operation.meta, in_flight={"store": vector_store_name, "doc_ids": doc_ids}
        )


def complete(claim: Claim, apply: Apply | None = None) -> None:
    """Apply the operation's final change and mark it completed, or nothing if it was ended."""
    with session_scope() as session:
        operation = _locked(session, claim.id)
        if operation.status is not OperationStatus.PROCESSING:
            status = operation.status
        else:
            status = None
            # The locked operation's collection exists: deleting it deletes the operation (ON DELETE CASCADE).
            collection = session.get_one(Collection, claim.collection_id)
            if apply is not None:
                apply(session, collection)
            operation.status = OperationStatus.COMPLETED
            operation.completed_at = now()
            collection.status, collection.status_message = CollectionStatus.READY, None
            records.refresh_collection_counters(session, collection)
            note_sync_run(collection, operation, "success", None)
    if status is not None:
        raise OperationStopped(status)


def note_retry(operation_uuid: str, error: BaseException) -> None:
    """Record that a retry is scheduled, so orphan recovery leaves it its countdown."""
    with session_scope() as session:
        operation = session.scalars(
            select(Operation).where(Operation.uuid == operation_uuid).with_for_update()
        ).first()
        if operation is not None and operation.status is OperationStatus.PROCESSING:
            operation.meta = with_heartbeat(operation.meta, retry_pending=True, last_error=str(error)[:500])


def note_sync_run(collection: Collection, operation: Operation, status: str, error: str | None) -> None:
    if operation.type is OperationType.SYNC:
        collection.sync_last_run_completed_at = now()
        collection.sync_last_run_status = status
        collection.sync_last_error = error
