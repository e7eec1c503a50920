"""The database side of ingestion: document rows, collection and source counters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from semantik.shared.models import Collection, CollectionSource, Document, DocumentStatus
from semantik.worker.pipeline import Known, Outcome

ROW_FIELDS = (
    "source_id",
    "file_name",
    "file_size",
    "mime_type",
    "content_hash",
    "status",
    "error_message",
    "error_category",
    "chunk_count",
    "updated_at",
)


def known_documents(session: Session, collection_id: str) -> dict[str, Known]:
    rows = session.execute(
        select(
            Document.file_path,
            Document.id,
            Document.content_hash,
            Document.status,
            Document.chunk_count,
            Document.error_category,
            Document.error_message,
        ).where(Document.collection_id == collection_id)
    )
    return {row[0]: Known(*row[1:]) for row in rows}


def documents_of_source(session: Session, collection_id: str, source_id: int) -> dict[str, str]:
    """Path to id of the documents a source brought in."""
    rows = session.execute(
        select(Document.file_path, Document.id).where(
            Document.collection_id == collection_id, Document.source_id == source_id
        )
    )
    return dict(rows.all())


def _row(collection_id: str, source_id: int | None, outcome: Outcome, now: datetime) -> dict:
    return {
        "id": outcome.doc_id,
        "collection_id": collection_id,
        "source_id": source_id,
        "file_path": outcome.file.path,
        "file_name": outcome.file.name[:255],
        "file_size": outcome.file.size,
        "mime_type": outcome.mime_type,
        "content_hash": outcome.content_hash,
        "status": outcome.status,
        "error_message": outcome.error_message,
        "error_category": outcome.error_category,
        "chunk_count": outcome.chunk_count,
        "created_at": now,
        "updated_at": now,
    }


def record_outcomes(
    session: Session, collection_id: str, source_id: int | None, outcomes: Iterable[Outcome]
) -> None:
    """Insert or update the row of every rewritten document (unchanged ones are already right)."""
    now = datetime.now(UTC)
    rows = [_row(collection_id, source_id, outcome, now) for outcome in outcomes if not outcome.unchanged]
    if not rows:
        return
    statement = insert(Document).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Document.collection_id, Document.file_path],
            set_={name: statement.excluded[name] for name in ROW_FIELDS},
        )
    )


def delete_documents(session: Session, doc_ids: list[str]) -> None:
    if doc_ids:
        session.execute(delete(Document).where(Document.id.in_(doc_ids)))


def refresh_collection_counters(session: Session, collection: Collection) -> None:
    """Recount from the rows, so the counters cannot drift whatever attempt wrote them."""
    documents, vectors, size = session.execute(
        select(
            func.count(Document.id),
            func.coalesce(func.sum(Document.chunk_count), 0),
            func.coalesce(func.sum(Document.file_size), 0),
        ).where(Document.collection_id == collection.id, Document.status == DocumentStatus.COMPLETED)
    ).one()
    collection.document_count, collection.vector_count, collection.total_size_bytes = documents, vectors, size


def refresh_source_counters(session: Session, source: CollectionSource, indexed: bool) -> None:
    count, size = session.execute(
        select(func.count(Document.id), func.coalesce(func.sum(Document.file_size), 0)).where(
            Document.source_id == source.id, Document.status == DocumentStatus.COMPLETED
        )
    ).one()
    source.document_count, source.size_bytes = count, size
    if indexed:
        source.last_indexed_at = datetime.now(UTC)
