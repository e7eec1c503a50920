"""Collections, their sources and documents: ownership rules and state changes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from semantik.shared import queue, sparse
from semantik.shared.errors import (
    AccessDeniedError,
    EntityAlreadyExistsError,
    EntityNotFoundError,
    InvalidStateError,
    ValidationError,
)
from semantik.shared.models import (
    Collection,
    CollectionSource,
    CollectionStatus,
    Document,
    DocumentStatus,
    Operation,
    OperationStatus,
    OperationType,
    User,
    new_uuid,
)
from semantik.shared.services import operations, users
from semantik.shared.services.paths import resolve_source_path

log = logging.getLogger(__name__)
SOURCE_TYPES = ("directory",)
CHUNK_LIMITS = {"chunk_size": (100, 10000), "chunk_overlap": (0, 1000)}


def create(session: Session, user: User, fields: dict[str, Any]) -> tuple[Collection, Operation]:
    """A new collection, pending its initial index operation. Its sparse index config is kept whole
    when enabled and as None otherwise, whoever asked (the API, the page)."""
    fields = {**fields, "sparse_index_config": sparse.stored(fields.get("sparse_index_config"))}
    if session.scalars(select(Collection).where(Collection.name == fields["name"])).first():
        raise EntityAlreadyExistsError("Collection", fields["name"])
    collection_id = new_uuid()
    collection = Collection(
        id=collection_id,
        owner_id=user.id,
        status=CollectionStatus.PENDING,
        vector_store_name="col_" + collection_id.replace("-", "_"),
        **fields,
    )
    session.add(collection)
    session.flush()
    return collection, operations.start(session, collection, user, OperationType.INDEX, {})


def visible_to(
    session: Session, user: User, *, include_public: bool, page: int, per_page: int
) -> tuple[list[Collection], int]:
    query = select(Collection).where(
        or_(Collection.owner_id == user.id, Collection.is_public.is_(True))
        if include_public
        else Collection.owner_id == user.id
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Collection.created_at.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total


def get_readable(session: Session, user: User, collection_id: str) -> Collection:
    collection = session.get(Collection, collection_id)
    if collection is None:
        raise EntityNotFoundError("Collection", collection_id)
    if collection.owner_id != user.id and not collection.is_public:
        raise AccessDeniedError("You do not have access to this collection")
    return collection


def get_owned(session: Session, user: User, collection_id: str, *, lock: bool = False) -> Collection:
    collection = session.get(Collection, collection_id, with_for_update=lock)
    if collection is None:
        raise EntityNotFoundError("Collection", collection_id)
    if collection.owner_id != user.id:
        raise AccessDeniedError("Only the collection's owner can change it")
    return collection


def update(session: Session, user: User, collection_id: str, fields: dict[str, Any]) -> Collection:
    collection = get_owned(session, user, collection_id)
    name = fields.get("name")
    if (
        name
        and name != collection.name
        and session.scalars(select(Collection).where(Collection.name == name)).first()
    ):
        raise EntityAlreadyExistsError("Collection", name)
    for key, value in fields.items():
        setattr(collection, key, value)
    if collection.sync_mode == "continuous" and not collection.sync_interval_minutes:
        raise ValidationError("sync_interval_minutes is required when sync_mode is continuous")
    return collection


def delete(session: Session, user: User, collection_id: str) -> None:
    """Drop the rows now; the worker drops the vectors (retried until vecpipe answers)."""
    collection = get_owned(session, user, collection_id, lock=True)
    if operations.active_for(session, collection.id) is not None:
        raise InvalidStateError("Cannot delete a collection while an operation is active")
    names = sorted({collection.vector_store_name, *(collection.qdrant_collections or {}).get("names", [])})
    session.delete(collection)
    session.commit()
    try:
        queue.enqueue(queue.DELETE_VECTORS_TASK, names)
    except Exception as error:  # the rows are gone either way; vectors wait for the next cleanup
        log.warning("vectors of deleted collection %s not queued for deletion: %s", collection_id, error)


def _require_idle(session: Session, collection: Collection, allowed: tuple[CollectionStatus, ...]) -> None:
    if collection.status not in allowed:
        raise InvalidStateError(
            f"Collection is {collection.status.value}; this needs "
            f"{' or '.join(status.value for status in allowed)}"
        )
    if operations.active_for(session, collection.id) is not None:
        raise InvalidStateError("Another operation is already active on this collection")


def add_source(
    session: Session,
    user: User,
    collection_id: str,
    *,
    source_type: str,
    source_config: dict[str, Any],
    roots: list[Path],
) -> Operation:
    if source_type not in SOURCE_TYPES:
        raise ValidationError(
            f"Unsupported source_type '{source_type}'; supported: {', '.join(SOURCE_TYPES)}"
        )
    raw_path = source_config.get("path")
    if not isinstance(raw_path, str):
        raise ValidationError("source_config.path (or source_path) is required for a directory source")
    real = resolve_source_path(raw_path, users.source_roots_for(user, roots))
    collection = get_owned(session, user, collection_id, lock=True)
    _require_idle(session, collection, (CollectionStatus.PENDING, CollectionStatus.READY))
    config = {**source_config, "path": str(real)}
    source = session.scalars(
        select(CollectionSource).where(
            CollectionSource.collection_id == collection.id, CollectionSource.source_path == str(real)
        )
    ).first()
    if source is None:
        source = CollectionSource(collection_id=collection.id, source_path=str(real), source_type=source_type)
        session.add(source)
    source.source_config = config
    collection.status = CollectionStatus.PROCESSING
    session.flush()
    return operations.start(
        session,
        collection,
        user,
        OperationType.APPEND,
        {
            "source_id": source.id,
            "source_path": str(real),
            "source_type": source_type,
            "source_config": config,
        },
    )


def remove_source(session: Session, user: User, collection_id: str, source_path: str) -> Operation:
    collection = get_owned(session, user, collection_id, lock=True)
    source = session.scalars(
        select(CollectionSource).where(
            CollectionSource.collection_id == collection.id, CollectionSource.source_path == source_path
        )
    ).first()
    if source is None:
        raise EntityNotFoundError("Source", source_path)
    _require_idle(session, collection, (CollectionStatus.READY,))
    collection.status = CollectionStatus.PROCESSING
    return operations.start(
        session,
        collection,
        user,
        OperationType.REMOVE_SOURCE,
        {"source_id": source.id, "source_path": source_path},
    )


def chunking_settings(collection: Collection, overrides: dict[str, Any]) -> tuple[int, int]:
    """Chunk size and overlap for the new build: the collection's, with valid overrides applied."""
    chosen = {"chunk_size": collection.chunk_size, "chunk_overlap": collection.chunk_overlap}
    for name, (low, high) in CHUNK_LIMITS.items():
        value = overrides.get(name, chosen[name])
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(f"reindex override {name} must be an integer from {low} to {high}")
        chosen[name] = value
    if 2 * chosen["chunk_overlap"] > chosen["chunk_size"]:  # more would embed most text twice or more
        raise ValidationError("reindex override chunk_overlap must be at most half of chunk_size")
    return chosen["chunk_size"], chosen["chunk_overlap"]


def sparse_settings(collection: Collection, overrides: dict[str, Any]) -> dict[str, Any] | None:
    """The new build's sparse index: the override's when given (null or disabled: none), else the
    collection's. A reindex is how an existing collection gains (or drops) its sparse index."""
    if "sparse_index_config" in overrides:
        return sparse.parse(overrides["sparse_index_config"])
    return collection.sparse_index_config


def reindex(session: Session, user: User, collection_id: str, overrides: dict[str, Any]) -> Operation:
    collection = get_owned(session, user, collection_id, lock=True)
    chunking_settings(collection, overrides)
    sparse_settings(collection, overrides)
    _require_idle(session, collection, (CollectionStatus.READY,))
    collection.status = CollectionStatus.PROCESSING
    return operations.start(session, collection, user, OperationType.REINDEX, overrides)


def sources(
    session: Session, collection: Collection, offset: int, limit: int
) -> tuple[list[CollectionSource], int]:
    query = select(CollectionSource).where(CollectionSource.collection_id == collection.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.order_by(CollectionSource.id).offset(offset).limit(limit))), total


def collection_operations(
    session: Session,
    collection: Collection,
    *,
    statuses: list[OperationStatus],
    kind: OperationType | None,
    page: int,
    per_page: int,
) -> list[Operation]:
    query = select(Operation).where(Operation.collection_id == collection.id)
    if statuses:
        query = query.where(Operation.status.in_(statuses))
    if kind is not None:
        query = query.where(Operation.type == kind)
    return list(
        session.scalars(
            query.order_by(Operation.created_at.desc(), Operation.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )


def documents(
    session: Session, collection: Collection, *, status: str | None, page: int, per_page: int
) -> tuple[list[Document], int]:
    query = select(Document).where(Document.collection_id == collection.id)
    if status:
        try:
            query = query.where(Document.status == DocumentStatus(status.lower()))
        except ValueError:
            choices = ", ".join(s.value for s in DocumentStatus)
            raise ValidationError(f"Invalid document status '{status}'; choose from {choices}") from None
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Document.created_at, Document.file_path).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total


def document(session: Session, collection: Collection, document_id: str) -> Document:
    found = session.get(Document, document_id)
    if found is None or found.collection_id != collection.id:
        raise EntityNotFoundError("Document", document_id)
    return found


def error_count(session: Session, collection: Collection) -> int:
    return (
        session.scalar(
            select(func.count(Document.id)).where(
                Document.collection_id == collection.id, Document.status == DocumentStatus.FAILED
            )
        )
        or 0
    )
