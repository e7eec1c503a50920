"""Operations: created beside the collection state they change, enqueued by task name, cancellable."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from semantik.shared import queue
from semantik.shared.errors import (
    AccessDeniedError,
    EntityNotFoundError,
    ServiceUnavailableError,
    ValidationError,
)
from semantik.shared.models import (
    ACTIVE_OPERATION_STATUSES,
    Collection,
    CollectionStatus,
    Operation,
    OperationStatus,
    OperationType,
    User,
)

log = logging.getLogger(__name__)


def active_for(session: Session, collection_id: str) -> Operation | None:
    return session.scalars(
        select(Operation).where(
            Operation.collection_id == collection_id, Operation.status.in_(ACTIVE_OPERATION_STATUSES)
        )
    ).first()


def latest_for(session: Session, collection_ids: list[str]) -> dict[str, Operation]:
    """Each collection's newest operation (a list page shows what last happened to each)."""
    # Ids grow with each operation created: a collection's highest is its newest.
    newest = (
        select(func.max(Operation.id))
        .where(Operation.collection_id.in_(collection_ids))
        .group_by(Operation.collection_id)
    )
    rows = session.scalars(select(Operation).where(Operation.id.in_(newest)))
    return {operation.collection_id: operation for operation in rows}


def start(
    session: Session, collection: Collection, user: User, kind: OperationType, config: dict[str, Any]
) -> Operation:
    """Record the operation, commit, then enqueue it; an unreachable broker fails it with a reason."""
    operation = Operation(collection_id=collection.id, user_id=user.id, type=kind, config=config)
    session.add(operation)
    session.commit()
    try:
        operation.task_id = queue.enqueue(queue.OPERATION_TASKS[kind], operation.uuid)
    except Exception as error:  # kombu raises several types for one cause: the broker is down
        log.warning("could not enqueue %s operation %s: %s", kind.value, operation.uuid, error)
        operation.status = OperationStatus.FAILED
        operation.error_message = "task queue unavailable; nothing was changed"
        operation.completed_at = datetime.now(UTC)
        collection.status = CollectionStatus.ERROR if kind is OperationType.INDEX else CollectionStatus.READY
        session.commit()
        raise ServiceUnavailableError("The task queue (Redis) is unavailable; try again later") from None
    session.commit()
    return operation


def parse_statuses(raw: str | None) -> list[OperationStatus]:
    if not raw:
        return []
    try:
        return [OperationStatus(part.strip().lower()) for part in raw.split(",") if part.strip()]
    except ValueError:
        choices = ", ".join(status.value for status in OperationStatus)
        raise ValidationError(f"Invalid status filter '{raw}'; choose from {choices}") from None


def parse_type(raw: str | None) -> OperationType | None:
    if not raw:
        return None
    try:
        return OperationType(raw.lower())
    except ValueError:
        choices = ", ".join(kind.value for kind in OperationType)
        raise ValidationError(f"Invalid operation_type '{raw}'; choose from {choices}") from None


def list_for_user(
    session: Session,
    user: User,
    *,
    statuses: list[OperationStatus],
    kind: OperationType | None,
    page: int,
    per_page: int,
) -> tuple[list[Operation], int]:
    query = select(Operation).where(Operation.user_id == user.id)
    if statuses:
        query = query.where(Operation.status.in_(statuses))
    if kind is not None:
        query = query.where(Operation.type == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Operation.created_at.desc(), Operation.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total


def get_for_user(session: Session, user: User, operation_uuid: str) -> Operation:
    operation = session.scalars(select(Operation).where(Operation.uuid == operation_uuid)).first()
    if operation is None:
        raise EntityNotFoundError("Operation", operation_uuid)
    if operation.user_id != user.id:
        collection = session.get(Collection, operation.collection_id)
        if collection is None or not collection.is_public:
            raise AccessDeniedError("You do not have access to this operation")
    return operation


def cancel(session: Session, user: User, operation_uuid: str) -> Operation:
    """Mark it cancelled; a running worker sees this between batches and stops cleanly."""
    operation = session.scalars(
        select(Operation).where(Operation.uuid == operation_uuid).with_for_update()
    ).first()
    if operation is None:
        raise EntityNotFoundError("Operation", operation_uuid)
    if operation.user_id != user.id:
        raise AccessDeniedError("Only the operation's owner can cancel it")
    if operation.status not in ACTIVE_OPERATION_STATUSES:
        raise ValidationError(f"Cannot cancel an operation that is {operation.status.value}")
    never_started = operation.status is OperationStatus.PENDING
    operation.status = OperationStatus.CANCELLED
    operation.completed_at = datetime.now(UTC)
    collection = session.get(Collection, operation.collection_id)
    if never_started and collection is not None:
        if operation.type is OperationType.INDEX:
            collection.status = CollectionStatus.ERROR
            collection.status_message = "The initial index operation was cancelled"
        else:
            collection.status = CollectionStatus.READY
    return operation
