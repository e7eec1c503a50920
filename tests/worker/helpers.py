"""Rows and folders for the worker's tests, made the way the webui makes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from semantik.shared.db import session_scope
from semantik.shared.models import (
    Collection,
    CollectionSource,
    CollectionStatus,
    Document,
    DocumentStatus,
    Operation,
    OperationType,
    User,
    new_uuid,
)


def make_user(name: str = "owner") -> int:
    with session_scope() as session:
        user = User(username=name, email=f"{name}@example.org", hashed_password="x")
        session.add(user)
        session.flush()
        return user.id


def make_collection(
    user_id: int,
    *,
    status: CollectionStatus = CollectionStatus.READY,
    chunk_size: int = 100,
    chunk_overlap: int = 20,
    sparse_index_config: dict[str, Any] | None = None,
) -> str:
    with session_scope() as session:
        collection_id = new_uuid()
        session.add(
            Collection(
                id=collection_id,
                name=f"c-{collection_id[:8]}",
                owner_id=user_id,
                vector_store_name="col_" + collection_id.replace("-", "_"),
                embedding_model="test-model",
                quantization="float32",
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                chunking_strategy="recursive",
                sparse_index_config=sparse_index_config,
                status=status,
            )
        )
        return collection_id


def make_source(collection_id: str, path: Path, **config: Any) -> int:
    with session_scope() as session:
        source = CollectionSource(
            collection_id=collection_id,
            source_path=str(path),
            source_type="directory",
            source_config={"path": str(path), **config},
        )
        session.add(source)
        session.flush()
        return source.id


def make_operation(collection_id: str, kind: OperationType, config: dict[str, Any] | None = None) -> str:
    with session_scope() as session:
        collection = session.get(Collection, collection_id)
        operation = Operation(
            collection_id=collection_id, user_id=collection.owner_id, type=kind, config=config or {}
        )
        session.add(operation)
        session.flush()
        return operation.uuid


def operation(uuid: str) -> Operation:
    with session_scope() as session:
        return session.scalars(select(Operation).where(Operation.uuid == uuid)).one()


def collection(collection_id: str) -> Collection:
    with session_scope() as session:
        return session.get(Collection, collection_id)


def documents(collection_id: str) -> dict[str, Document]:
    """By file name."""
    with session_scope() as session:
        rows = session.scalars(select(Document).where(Document.collection_id == collection_id))
        return {row.file_name: row for row in rows}


def completed_chunks(collection_id: str) -> int:
    with session_scope() as session:
        return session.scalar(
            select(func.coalesce(func.sum(Document.chunk_count), 0)).where(
                Document.collection_id == collection_id, Document.status == DocumentStatus.COMPLETED
            )
        )


def write_corpus(folder: Path, count: int, words: int = 60, prefix: str = "note") -> list[Path]:
    """``count`` distinct text files of about ``words`` words each."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        body = " ".join(f"{prefix}{number} word{(number * 7 + i) % 97}" for i in range(words // 2))
        path = folder / f"{prefix}-{number:04d}.txt"
        path.write_text(f"Document {number} about topic {number % 5}.\n\n{body}\n")
        paths.append(path)
    return paths
