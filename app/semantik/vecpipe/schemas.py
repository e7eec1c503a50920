"""Request and response bodies of vecpipe's HTTP API (API_CONTRACT.md section 5).

Requests forbid unknown fields, so a typo is a 422 rather than a silently ignored option. Limits
live here, where a client reads them in the 422 message ("at most 1000 items").
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from semantik.shared.config import Quantization

MAX_TEXTS = 1000
MAX_POINTS = 1000
MAX_TEXT_CHARS = 200_000
MAX_DIMENSION = 65_536
FILTER_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must contain more than whitespace")
    return text


def _point_id(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("an integer point id must be >= 0")
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("a string point id must be a UUID") from None


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_not_blank)]
PointId = Annotated[StrictInt | str, AfterValidator(_point_id)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
# No booleans: qdrant-edge-py 0.9.0 turns MatchValue(True) into 1, which matches no stored true, so
# the embedded store could not honour them (tests/vecpipe/store/test_edge.py keeps watch).
ScalarFilter = str | StrictInt
NonEmptyList = Field(min_length=1)
FilterValue = ScalarFilter | Annotated[list[str], NonEmptyList] | Annotated[list[int], NonEmptyList]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbedRequest(Strict):
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)
    model_name: str | None = None
    quantization: Quantization | None = None
    mode: Literal["query", "document"] = "document"
    batch_size: int = Field(32, ge=1, le=256)


class EmbedResponse(BaseModel):
    embeddings: list[list[float]]
    model_used: str
    dimension: int
    embedding_time_ms: float
    batch_count: int
    truncated: int
    warnings: list[str]


class SearchRequest(Strict):
    query: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_not_blank)]
    k: int = Field(10, ge=1, le=100, validation_alias=AliasChoices("k", "top_k"))
    collection: str
    filters: dict[str, FilterValue] | list[str] | None = None
    include_content: bool = False
    score_threshold: float | None = Field(None, ge=-1.0, le=1.0)
    search_type: Literal["semantic", "question", "code"] = "semantic"
    search_mode: Literal["dense", "sparse", "hybrid"] = "dense"
    rrf_k: int = Field(60, ge=1, le=1000, description="RRF's k, for search_mode hybrid")
    model_name: str | None = None
    quantization: Quantization | None = None
    use_reranker: bool = False

    @field_validator("filters")
    @classmethod
    def _filters_as_dict(cls, filters: dict[str, Any] | list[str] | None) -> dict[str, Any] | None:
        if isinstance(filters, list):  # a bare list means "these documents"
            if not filters:
                raise ValueError("a list of document ids must not be empty")
            return {"doc_id": filters}
        for key in filters or {}:
            if not FILTER_KEY.fullmatch(key):
                raise ValueError(
                    f"filter key '{key[:64]}' must be a payload field name (letters, digits, _, .)"
                )
        return filters or None


class SearchHit(BaseModel):
    doc_id: str | None
    chunk_id: str | None
    score: float
    path: str | None
    content: str | None
    metadata: dict[str, Any]
    chunk_index: int | None
    total_chunks: int | None


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]
    num_results: int
    model_used: str
    embedding_time_ms: float
    search_time_ms: float
    reranking_time_ms: float | None = None
    search_mode_used: str = "dense"
    warnings: list[str]
    api_version: str = "1.0"


class CreateCollectionRequest(Strict):
    name: str
    vector_size: int | None = Field(None, ge=1, le=MAX_DIMENSION)
    sparse_index: bool = Field(False, description="a BM25 sparse vector 'bm25' (IDF) beside the dense one")


class CreateCollectionResponse(BaseModel):
    name: str
    vector_size: int
    sparse_index: bool
    created: bool


class CollectionResponse(BaseModel):
    name: str
    backend: str
    vector_size: int
    distance: str
    points_count: int
    indexed_vectors_count: int
    segments_count: int
    payload_indexes: list[str]
    sparse_vectors: list[str]


class CountResponse(BaseModel):
    collection_name: str
    count: int


class PointPayload(BaseModel):
    """What the worker stores per chunk; further fields are kept as they come."""

    model_config = ConfigDict(extra="allow")
    doc_id: str = Field(min_length=1)
    chunk_id: str = Field(min_length=1)
    path: str = ""
    content: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    chunk_index: int | None = None
    total_chunks: int | None = None
    collection_id: str | None = None


class SparseVectorIn(Strict):
    """Term ids (hashed tokens, unsigned 32-bit) and their weights, as shared/sparse.py encodes them."""

    indices: list[Annotated[StrictInt, Field(ge=0, le=2**32 - 1)]] = Field(max_length=MAX_DIMENSION)
    values: list[Finite] = Field(max_length=MAX_DIMENSION)

    @model_validator(mode="after")
    def _pairs(self) -> SparseVectorIn:
        if len(self.indices) != len(self.values):
            raise ValueError("indices and values must have the same length")
        if len(set(self.indices)) != len(self.indices):
            raise ValueError("indices must not repeat")
        return self


class PointIn(Strict):
    id: PointId
    vector: list[Finite] = Field(min_length=1, max_length=MAX_DIMENSION)
    sparse_vector: SparseVectorIn | None = None  # only for a collection with a sparse index
    payload: PointPayload


class UpsertRequest(Strict):
    collection_name: str
    points: list[PointIn] = Field(min_length=1, max_length=MAX_POINTS)
    wait: bool = True


class UpsertResponse(BaseModel):
    status: Literal["success"] = "success"
    points_upserted: int
    collection_name: str
    upsert_time_ms: float


class DeletePointsRequest(Strict):
    collection_name: str
    doc_ids: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1, max_length=MAX_POINTS)


# A document view shows a chunk between a few of its neighbours, never a whole document at once.
MAX_CHUNKS_READ = 50


class ChunksRequest(Strict):
    collection_name: str
    doc_id: str = Field(min_length=1, max_length=255)
    chunk_indexes: list[Annotated[int, Field(ge=0)]] = Field(min_length=1, max_length=MAX_CHUNKS_READ)


class ChunksResponse(BaseModel):
    collection_name: str
    chunks: list[PointPayload]


class DeletePointsResponse(BaseModel):
    status: Literal["success"] = "success"
    collection_name: str
    points_deleted: int


class SnapshotOut(BaseModel):
    name: str
    size: int
    created_at: str | None
    checksum: str | None


class SnapshotList(BaseModel):
    collection_name: str
    snapshots: list[SnapshotOut]


class RestoreResponse(BaseModel):
    status: Literal["restored"] = "restored"
    snapshot: str
    collection: CollectionResponse
