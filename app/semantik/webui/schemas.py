"""Request and response bodies of the webui API (API_CONTRACT.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from semantik.shared.sparse import SparseIndexConfig

FORBIDDEN_NAME_CHARS = set('/\\*?<>|:"')
ChunkingStrategy = Literal["fixed_size", "semantic", "recursive", "markdown", "hierarchical", "hybrid"]


def _storable(value: object) -> object:
    """PostgreSQL refuses NUL in text and JSON, and UTF-8 has no lone surrogates: say so with a 422."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list):
        for item in value:
            _storable(item)
    return value


SafeStr = Annotated[str, AfterValidator(_storable)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _only_storable_text(cls, data: object) -> object:
        return _storable(data)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- auth --------------------------------------------------------------------------------------
class RegisterIn(Strict):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_]+$")
    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    full_name: str | None = Field(None, max_length=255)


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(Strict):
    refresh_token: str | None = Field(None, max_length=4096)


class UserOut(Out):
    id: int
    username: str
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    created_at: datetime
    updated_at: datetime | None
    last_login: datetime | None
    source_roots: list[str] = []

    @field_validator("source_roots", mode="before")
    @classmethod
    def _none_is_empty(cls, roots: list[str] | None) -> list[str]:
        return roots or []


class UserCreate(RegisterIn):
    is_superuser: bool = False


SourceRoot = Annotated[str, Field(min_length=1, max_length=4096)]


class UserPatch(Strict):
    is_active: bool | None = None
    is_superuser: bool | None = None
    # Directories under DOCUMENT_ALLOWED_ROOTS the user may add as sources ([] takes them away).
    source_roots: list[SourceRoot] | None = Field(None, max_length=20)


class UserList(BaseModel):
    users: list[UserOut]
    total: int
    page: int
    per_page: int


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class MessageOut(BaseModel):
    message: str


# -- API keys ----------------------------------------------------------------------------------
class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    # Unset: the longest lifetime allowed (API_KEY_MAX_LIFETIME_DAYS).
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class ApiKeyPatch(Strict):
    is_active: bool


class ApiKeyOut(Out):
    id: str
    name: str
    is_active: bool
    permissions: dict[str, Any] | None
    last_used_at: datetime | None
    expires_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    api_key: str


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]
    total: int


# -- collections -------------------------------------------------------------------------------
class CollectionFields(Strict):
    description: str | None = Field(None, max_length=10000)
    is_public: bool | None = None
    metadata: dict[str, Any] | None = None
    sync_mode: Literal["one_time", "continuous"] | None = None
    sync_interval_minutes: int | None = Field(None, ge=15, le=525600)

    @model_validator(mode="after")
    def _interval_needed(self) -> CollectionFields:
        if self.sync_mode == "continuous" and self.sync_interval_minutes is None:
            raise ValueError("sync_interval_minutes is required when sync_mode is continuous")
        return self


def _check_name(name: str | None) -> str | None:
    if name is not None and (FORBIDDEN_NAME_CHARS & set(name) or not name.strip()):
        raise ValueError('name must not be blank or contain any of / \\ * ? < > | : "')
    return name


class CollectionCreate(CollectionFields):
    name: str = Field(min_length=1, max_length=255)
    embedding_model: str = Field("Qwen/Qwen3-Embedding-0.6B", min_length=1, max_length=255)
    quantization: Literal["float32", "float16", "int8"] = "float16"
    chunk_size: int = Field(1000, ge=100, le=10000)
    chunk_overlap: int = Field(200, ge=0, le=1000)
    chunking_strategy: ChunkingStrategy = "recursive"
    chunking_config: dict[str, Any] | None = None
    # A BM25 sparse index beside the dense vectors, for sparse and hybrid search: on unless asked off
    # (null or enabled false); its cost and what it buys are measured in bench/quality.py.
    sparse_index_config: SparseIndexConfig | None = Field(default_factory=SparseIndexConfig)

    _name = field_validator("name")(_check_name)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> CollectionCreate:
        if 2 * self.chunk_overlap > self.chunk_size:  # more would embed most text twice or more
            raise ValueError("chunk_overlap must be at most half of chunk_size")
        return self


class CollectionUpdate(CollectionFields):
    name: str | None = Field(None, min_length=1, max_length=255)

    _name = field_validator("name")(_check_name)


class CollectionOut(Out):
    id: str
    name: str
    description: str | None
    owner_id: int
    vector_store_name: str
    embedding_model: str
    quantization: str
    chunk_size: int
    chunk_overlap: int
    chunking_strategy: str
    chunking_config: dict[str, Any] | None
    sparse_index_config: dict[str, Any] | None = None
    is_public: bool
    metadata: dict[str, Any] | None = Field(None, validation_alias=AliasChoices("meta", "metadata"))
    created_at: datetime
    updated_at: datetime
    document_count: int
    vector_count: int
    total_size_bytes: int
    status: str
    status_message: str | None
    error_count: int = 0
    initial_operation_id: str | None = None
    sync_mode: str
    sync_interval_minutes: int | None
    sync_paused_at: datetime | None
    sync_next_run_at: datetime | None
    sync_last_run_started_at: datetime | None
    sync_last_run_completed_at: datetime | None
    sync_last_run_status: str | None
    sync_last_error: str | None


class CollectionList(BaseModel):
    collections: list[CollectionOut]
    total: int
    page: int
    per_page: int


class SourceIn(Strict):
    source_type: str = Field("directory", max_length=32)
    source_config: dict[str, Any] | None = None
    source_path: str | None = Field(None, max_length=4096)
    config: dict[str, Any] | None = None


class SourceOut(Out):
    id: int
    source_type: str
    source_path: str
    source_config: dict[str, Any] | None
    document_count: int
    size_bytes: int
    last_indexed_at: datetime | None


class SourceList(BaseModel):
    items: list[SourceOut]
    total: int
    offset: int
    limit: int


class DocumentOut(Out):
    id: str
    collection_id: str
    file_name: str
    file_path: str
    file_size: int
    mime_type: str | None
    content_hash: str
    status: str
    error_message: str | None
    error_category: str | None
    chunk_count: int
    metadata: dict[str, Any] | None = Field(None, validation_alias=AliasChoices("meta", "metadata"))
    retry_count: int
    last_retry_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int
    page: int
    per_page: int


# -- operations --------------------------------------------------------------------------------
class OperationOut(Out):
    id: str = Field(validation_alias="uuid")
    collection_id: str
    type: str
    status: str
    config: dict[str, Any]
    error_message: str | None
    documents_total: int
    documents_processed: int
    documents_failed: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    worker_host: str | None  # the host of the worker that ran it; None until one started it
    chunks_embedded: int  # moves inside a batch, every few seconds while it works
    chunks_expected: int | None  # extrapolated from the documents parsed so far
    eta_seconds: int | None  # at the rate so far; None until a chunk is embedded


class OperationList(BaseModel):
    operations: list[OperationOut]
    total: int
    page: int
    per_page: int
