"""The one vector-store interface vecpipe uses, whatever the backend (embedded engine or Qdrant server).

Routes speak only to ``VectorStore``; each backend maps its own failures onto the errors below, so
the HTTP answer for "unknown collection" or "wrong dimension" is the same on both.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from semantik.shared.errors import (
    EntityAlreadyExistsError,
    EntityNotFoundError,
    SemantikError,
    ServiceUnavailableError,
    ValidationError,
)

# Collection and snapshot names become directory and file names in the embedded store.
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}\.snapshot$")
INDEXED_KEYWORDS = ("doc_id", "chunk_id", "collection_id")

PointId = int | str
FilterValue = str | int | bool | list[str] | list[int]
Filters = dict[str, FilterValue]


class CollectionNotFoundError(EntityNotFoundError):
    def __init__(self, name: str):
        super().__init__("Collection", name)


class CollectionConflictError(EntityAlreadyExistsError):
    """A create for an existing name with another dimension: idempotence cannot hold."""

    def __init__(self, name: str, existing: int, requested: int):
        Exception.__init__(
            self, f"collection '{name}' already exists with dimension {existing}, not {requested}"
        )


class DimensionMismatchError(ValidationError):
    def __init__(self, collection: str, expected: int, got: int):
        super().__init__(
            f"dimension_mismatch: vectors have dimension {got} but collection '{collection}' "
            f"has dimension {expected}"
        )
        self.expected, self.got = expected, got


class SnapshotNotFoundError(EntityNotFoundError):
    def __init__(self, collection: str, snapshot: str):
        super().__init__("Snapshot", f"{collection}/{snapshot}")


class StoreUnavailableError(ServiceUnavailableError):
    pass


class VectorStoreError(SemantikError):
    """The backend answered but failed the operation (the contract's 502)."""

    status_code = 502


def check_collection_name(name: str) -> str:
    if not COLLECTION_NAME.fullmatch(name):
        raise ValidationError(
            f"invalid collection name '{name[:60]}': use 1-255 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_snapshot_name(name: str) -> str:
    if not SNAPSHOT_NAME.fullmatch(name):
        raise ValidationError(f"invalid snapshot name '{name[:60]}'")
    return name


@dataclass(frozen=True)
class StoredPoint:
    id: PointId
    vector: list[float]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    id: PointId
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    vector_size: int
    distance: str
    points_count: int
    indexed_vectors_count: int
    segments_count: int
    payload_indexes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    size: int
    created_at: str | None
    checksum: str | None


class VectorStore(ABC):
    """Collections of cosine vectors with payloads. Implementations are safe to call from threads."""

    backend: str

    @abstractmethod
    def ping(self) -> str:
        """A short description of the backend when reachable; raises StoreUnavailableError."""

    @abstractmethod
    def list_collections(self) -> list[str]: ...

    @abstractmethod
    def create_collection(self, name: str, vector_size: int) -> bool:
        """Create ``name`` unless it exists with this size; True when it was created now."""

    @abstractmethod
    def delete_collection(self, name: str) -> None: ...

    @abstractmethod
    def collection_info(self, name: str) -> CollectionInfo: ...

    @abstractmethod
    def count(self, name: str, filters: Filters | None = None) -> int: ...

    @abstractmethod
    def upsert(self, name: str, points: list[StoredPoint], wait: bool = True) -> int: ...

    @abstractmethod
    def delete_documents(self, name: str, doc_ids: list[str]) -> None: ...

    @abstractmethod
    def chunks(self, name: str, doc_id: str, indexes: list[int]) -> list[dict[str, Any]]:
        """The payloads of these chunks of one document (those that exist), in chunk order."""

    @abstractmethod
    def search(
        self,
        name: str,
        vector: list[float],
        limit: int,
        filters: Filters | None = None,
        score_threshold: float | None = None,
    ) -> list[Hit]: ...

    @abstractmethod
    def create_snapshot(self, name: str) -> SnapshotInfo: ...

    @abstractmethod
    def list_snapshots(self, name: str) -> list[SnapshotInfo]: ...

    @abstractmethod
    def restore_snapshot(self, name: str, snapshot: str) -> CollectionInfo: ...

    @abstractmethod
    def close(self) -> None:
        """Release files and connections (flushing what is pending)."""
