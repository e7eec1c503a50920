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


def plain_id(point_id: object) -> PointId:
    """A point id as Semantik keeps it: the engines' UUID objects become their string."""
    return point_id if isinstance(point_id, int) else str(point_id)


class CollectionNotFoundError(EntityNotFoundError):
    def __init__(self, name: str):
        super().__init__("Collection", name)


class CollectionConflictError(EntityAlreadyExistsError):
    """A create for an existing name with another layout: idempotence cannot hold."""

    def __init__(self, name: str, existing: tuple[int, bool], requested: tuple[int, bool]):
        if existing[0] != requested[0]:
            difference = f"dimension {existing[0]}, not {requested[0]}"
        else:
            difference = "a sparse index" if existing[1] else "no sparse index"
        Exception.__init__(self, f"collection '{name}' already exists with {difference}")


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


class NoSparseIndexError(ValidationError):
    def __init__(self, collection: str, needed_for: str):
        super().__init__(
            f"collection '{collection}' has no sparse index, which {needed_for} needs; "
            "a reindex with sparse_index_config enabled builds one"
        )


HYBRID_CANDIDATES = 50  # each list's depth before fusion: RRF needs more than the k it returns


def hybrid_candidates(limit: int) -> int:
    return max(limit, HYBRID_CANDIDATES)


def fused_hits(hits: list[Hit], rrf_k: int, score_threshold: float | None) -> list[Hit]:
    """Reciprocal-rank-fusion scores scaled to [0, 1], then the threshold applied to them.

    Qdrant's RRF gives a point ``1/(rrf_k + rank)`` per list it is in, counting ranks from 0 (the
    paper counts from 1); the best a point can get is first in both lists, ``2/rrf_k``, which scales
    to 1.0. So ``score_threshold`` keeps its meaning of "0 to 1, higher is closer" in hybrid mode, and
    a merge across collections compares like with like (Semantik normalises fused scores too).
    """
    best = 2.0 / rrf_k
    scaled = [Hit(hit.id, min(hit.score / best, 1.0), hit.payload) for hit in hits]
    if score_threshold is None:
        return scaled
    return [hit for hit in scaled if hit.score >= score_threshold]


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
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class StoredPoint:
    id: PointId
    vector: list[float]
    payload: dict[str, Any]
    sparse: SparseVector | None = None  # the BM25 vector, for a collection with a sparse index


@dataclass(frozen=True)
class VectorQuery:
    """What to search with: the dense vector, the sparse one, or both fused by RRF (hybrid)."""

    dense: list[float] | None = None
    sparse: SparseVector | None = None
    rrf_k: int = 60

    @property
    def mode(self) -> str:
        if self.dense is not None and self.sparse is not None:
            return "hybrid"
        return "dense" if self.dense is not None else "sparse"


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
    sparse_vectors: list[str] = field(default_factory=list)


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
    def create_collection(self, name: str, vector_size: int, sparse: bool = False) -> bool:
        """Create ``name`` unless it exists with this layout; True when it was created now.

        ``sparse`` adds the BM25 sparse vector (``bm25``, IDF modifier) beside the dense one."""

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
        query: VectorQuery,
        limit: int,
        filters: Filters | None = None,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        """Dense: cosine similarity; sparse: BM25 score; hybrid: both lists fused by RRF in the engine,
        scaled by ``fused_hits``. The threshold applies to the score returned."""

    @abstractmethod
    def create_snapshot(self, name: str) -> SnapshotInfo: ...

    @abstractmethod
    def list_snapshots(self, name: str) -> list[SnapshotInfo]: ...

    @abstractmethod
    def restore_snapshot(self, name: str, snapshot: str) -> CollectionInfo: ...

    @abstractmethod
    def close(self) -> None:
        """Release files and connections (flushing what is pending)."""
