"""The relational schema (API_CONTRACT.md §7), with lowercase enum values as the API shows them."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


class CollectionStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    ERROR = "error"


class DocumentStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DELETED = "deleted"


class OperationType(enum.StrEnum):
    INDEX = "index"
    APPEND = "append"
    REINDEX = "reindex"
    REMOVE_SOURCE = "remove_source"
    DELETE = "delete"
    SYNC = "sync"


class OperationStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_OPERATION_STATUSES = (OperationStatus.PENDING, OperationStatus.PROCESSING)
# An operation's progress inside a batch, in its meta (the worker adds to them as it goes).
CHUNK_COUNTERS = ("documents_prepared", "chunks_prepared", "chunks_embedded")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(255))
    hashed_password: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)
    last_login: Mapped[datetime | None]
    # Directories (inside DOCUMENT_ALLOWED_ROOTS) an administrator lets this user add as sources.
    source_roots: Mapped[list[str] | None] = mapped_column(JSON)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    permissions: Mapped[dict[str, Any] | None]
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User] = relationship(lazy="joined")


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The login session: every rotation keeps it, and a reused token revokes all of it.
    family: Mapped[str | None] = mapped_column(String(36), index=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_revoked: Mapped[bool] = mapped_column(default=False)


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    vector_store_name: Mapped[str] = mapped_column(String(255), unique=True)
    embedding_model: Mapped[str] = mapped_column(String(255))
    quantization: Mapped[str] = mapped_column(String(16))
    chunk_size: Mapped[int]
    chunk_overlap: Mapped[int]
    chunking_strategy: Mapped[str] = mapped_column(String(32))
    chunking_config: Mapped[dict[str, Any] | None]
    # Semantik's {enabled, plugin_id, model_config_data} when the collection has a BM25 sparse index
    # beside its dense vectors (shared/sparse.py); None for none (as for every row from an earlier release).
    sparse_index_config: Mapped[dict[str, Any] | None]
    is_public: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    meta: Mapped[dict[str, Any] | None]
    status: Mapped[CollectionStatus] = mapped_column(
        _enum(CollectionStatus, "collection_status"), default=CollectionStatus.PENDING
    )
    status_message: Mapped[str | None] = mapped_column(Text)
    qdrant_collections: Mapped[dict[str, Any] | None]
    qdrant_staging: Mapped[dict[str, Any] | None]
    document_count: Mapped[int] = mapped_column(default=0)
    vector_count: Mapped[int] = mapped_column(default=0)
    total_size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sync_mode: Mapped[str] = mapped_column(String(16), default="one_time")
    sync_interval_minutes: Mapped[int | None]
    sync_paused_at: Mapped[datetime | None]
    sync_next_run_at: Mapped[datetime | None]
    sync_last_run_started_at: Mapped[datetime | None]
    sync_last_run_completed_at: Mapped[datetime | None]
    sync_last_run_status: Mapped[str | None] = mapped_column(String(32))
    sync_last_error: Mapped[str | None] = mapped_column(Text)


class CollectionSource(Base):
    __tablename__ = "collection_sources"
    __table_args__ = (UniqueConstraint("collection_id", "source_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    source_path: Mapped[str] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(String(32))
    source_config: Mapped[dict[str, Any] | None]
    document_count: Mapped[int] = mapped_column(default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    last_indexed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    meta: Mapped[dict[str, Any] | None]


class Document(Base):
    __tablename__ = "documents"
    # The reference keys documents by content hash; two identical files at different paths are
    # still two documents (and a sync must see each), so the path is the identity here.
    __table_args__ = (UniqueConstraint("collection_id", "file_path"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection_sources.id", ondelete="SET NULL"), index=True
    )
    file_path: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[DocumentStatus] = mapped_column(
        _enum(DocumentStatus, "document_status"), default=DocumentStatus.PENDING
    )
    error_message: Mapped[str | None] = mapped_column(Text)
    error_category: Mapped[str | None] = mapped_column(String(64))
    chunk_count: Mapped[int] = mapped_column(default=0)
    retry_count: Mapped[int] = mapped_column(default=0)
    last_retry_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    meta: Mapped[dict[str, Any] | None]


class Operation(Base):
    __tablename__ = "operations"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    type: Mapped[OperationType] = mapped_column(_enum(OperationType, "operation_type"))
    status: Mapped[OperationStatus] = mapped_column(
        _enum(OperationStatus, "operation_status"), default=OperationStatus.PENDING
    )
    task_id: Mapped[str | None] = mapped_column(String(255))
    # The host of the worker that last started processing it; None until then (and for rows from 0.2.0).
    worker_host: Mapped[str | None] = mapped_column(String(255))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_message: Mapped[str | None] = mapped_column(Text)
    documents_total: Mapped[int] = mapped_column(Integer, default=0)
    documents_processed: Mapped[int] = mapped_column(Integer, default=0)
    documents_failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    meta: Mapped[dict[str, Any] | None]

    @property
    def chunks_embedded(self) -> int:
        return int((self.meta or {}).get("chunks_embedded", 0))

    @property
    def chunks_expected(self) -> int | None:
        """The chunks this operation will embed, extrapolated from the documents parsed so far."""
        meta = self.meta or {}
        documents, chunks = int(meta.get("documents_prepared", 0)), int(meta.get("chunks_prepared", 0))
        if not documents:
            return None
        return chunks + round(chunks / documents * max(self.documents_total - documents, 0))

    @property
    def eta_seconds(self) -> int | None:
        """Seconds left at the rate chunks have been embedded since it started; None until one has."""
        expected, embedded = self.chunks_expected, self.chunks_embedded
        if (
            self.status is not OperationStatus.PROCESSING
            or not expected
            or not embedded
            or not self.started_at
        ):
            return None
        elapsed = (utcnow() - self.started_at).total_seconds()
        return max(0, round((expected - embedded) * elapsed / embedded))
