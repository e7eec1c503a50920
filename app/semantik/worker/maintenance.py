"""What beat schedules: reaping stuck operations, re-running orphaned ones, due syncs, old results."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select

from semantik.shared import queue
from semantik.shared.config import Settings
from semantik.shared.db import session_scope
from semantik.shared.errors import SemantikError
from semantik.shared.models import (
    Collection,
    CollectionSource,
    CollectionStatus,
    Operation,
    OperationStatus,
    OperationType,
    User,
)
from semantik.shared.services import operations
from semantik.worker import endings
from semantik.worker.lifecycle import heartbeat_of, now
from semantik.worker.locks import is_locked

log = logging.getLogger(__name__)
Enqueue = Callable[..., object]
RESULT_KEY_PATTERNS = ("celery-task-meta-*", "celery-taskset-meta-*")


def _processing() -> list[Operation]:
    with session_scope() as session:
        return list(session.scalars(select(Operation).where(Operation.status == OperationStatus.PROCESSING)))


def reap_stuck(settings: Settings, vectors, at: datetime | None = None) -> list[str]:
    """Fail processing operations that made no progress for OPERATION_STUCK_MINUTES."""
    limit = timedelta(minutes=settings.operation_stuck_minutes)
    at = at or now()
    reaped = []
    for operation in _processing():
        idle = at - heartbeat_of(operation)
        if idle < limit:
            continue
        minutes = int(idle.total_seconds() // 60)
        reason = (
            f"no progress for {minutes} minutes (limit {settings.operation_stuck_minutes:g}); "
            "the worker was lost or hung"
        )
        endings.clean_up(endings.fail(operation.uuid, reason), vectors)
        reaped.append(operation.uuid)
    return reaped


def _orphaned(operation: Operation, settings: Settings, at: datetime) -> bool:
    """Processing, idle past the grace period, and no live worker holds its collection."""
    grace = settings.operation_orphan_grace_seconds
    if (operation.meta or {}).get("retry_pending"):
        grace += settings.worker_retry_backoff_max  # a retry is scheduled; give it its countdown
    if (at - heartbeat_of(operation)).total_seconds() < grace:
        return False
    return not is_locked(operation.collection_id)


def recover_orphans(
    settings: Settings, vectors, enqueue: Enqueue = queue.enqueue, at: datetime | None = None
) -> list[str]:
    """Queue again the operations a dead worker left processing; give up after too many attempts.

    Duplicates are harmless (the task is idempotent and takes the collection's lock), so the only
    cost of queuing one too many is a task that finds nothing to do.
    """
    at = at or now()
    recovered = []
    for operation in _processing():
        if not _orphaned(operation, settings, at):
            continue
        attempts = int((operation.meta or {}).get("attempts", 0))
        if attempts >= settings.operation_max_attempts:
            reason = f"gave up after {attempts} attempts; the worker running it was lost each time"
            endings.clean_up(endings.fail(operation.uuid, reason), vectors)
            continue
        log.warning("operation %s was orphaned (attempt %d); queuing it again", operation.uuid, attempts)
        enqueue(queue.OPERATION_TASKS[operation.type], operation.uuid)
        recovered.append(operation.uuid)
    return recovered


def _due_collections(at: datetime) -> list[str]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(Collection.id).where(
                    Collection.sync_mode == "continuous",
                    Collection.sync_paused_at.is_(None),
                    Collection.status == CollectionStatus.READY,
                    # No run scheduled yet means continuous sync was just switched on: run now.
                    or_(Collection.sync_next_run_at.is_(None), Collection.sync_next_run_at <= at),
                    Collection.id.in_(select(CollectionSource.collection_id)),
                )
            )
        )


def start_due_syncs(at: datetime | None = None) -> list[str]:
    """A sync operation for every continuous collection whose interval has passed."""
    at = at or now()
    started = []
    for collection_id in _due_collections(at):
        with session_scope() as session:
            collection = session.get_one(Collection, collection_id, with_for_update=True)
            if collection.status is not CollectionStatus.READY or operations.active_for(
                session, collection.id
            ):
                continue  # changed since the query: the webui started something
            collection.status = CollectionStatus.PROCESSING
            collection.sync_last_run_started_at = at
            collection.sync_last_run_status = "running"
            collection.sync_next_run_at = at + timedelta(minutes=collection.sync_interval_minutes or 15)
            owner = session.get_one(User, collection.owner_id)
            try:
                operation = operations.start(session, collection, owner, OperationType.SYNC, {})
            except SemantikError as error:  # start() already put the collection back
                log.warning("sync of collection %s not started: %s", collection_id, error)
                collection.sync_last_run_status, collection.sync_last_error = "failed", str(error)
                continue
            started.append(operation.uuid)
    return started


def delete_old_results(redis_client, retention_hours: float, at: datetime | None = None) -> int:
    """Delete task results older than the retention, and undated ones stored without an expiry."""
    cutoff = (at or now()) - timedelta(hours=retention_hours)
    deleted = 0
    for pattern in RESULT_KEY_PATTERNS:
        for key in redis_client.scan_iter(match=pattern, count=500):
            stored = _result_date(redis_client.get(key))
            never_expires = stored is None and redis_client.ttl(key) == -1
            if never_expires or (stored is not None and stored < cutoff):
                deleted += redis_client.delete(key)
    return deleted


def _result_date(raw: bytes | None) -> datetime | None:
    """When the result was stored, or None when it does not say (or cannot be read)."""
    try:
        parsed = datetime.fromisoformat(json.loads(raw or b"{}")["date_done"])
    except (ValueError, TypeError, KeyError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
