"""BM25 sparse vectors: a collection's ``sparse_index_config`` and the one encoder of its texts.

The worker encodes documents and vecpipe encodes queries with the same tokenizer, so this module is
the single place both take it from. The encoder is Qdrant's own BM25 (qdrant-edge-py's ``Bm25``):
each document stores term-frequency weights (``k1``, ``b``), each query a weight of 1 per term, and
the vector store's IDF modifier supplies the inverse document frequency at search time, from the
collection's own statistics (Qdrant's convention for BM25 in sparse vectors). Tokens are hashed, so
no vocabulary is kept. The code tokenizer keeps an identifier whole besides its parts
(``work_mem`` -> ``work``, ``mem``, ``work_mem``), so an exact name outranks its words scattered.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as SchemaError

from semantik.shared.errors import ValidationError

if TYPE_CHECKING:
    import qdrant_edge as qe

PLUGIN_ID: Final = "bm25-local"  # Semantik's name for its local BM25 indexer
VECTOR_NAME = "bm25"  # the sparse vector's name in the vector store
DEFAULT_K1, DEFAULT_B = 1.2, 0.75  # Qdrant's BM25 defaults


class Bm25Parameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k1: float = Field(DEFAULT_K1, ge=0.0, le=3.0, description="term-frequency saturation")
    b: float = Field(DEFAULT_B, ge=0.0, le=1.0, description="length normalisation")


class SparseIndexConfig(BaseModel):
    """Semantik's ``sparse_index_config``: ``{enabled, plugin_id, model_config_data}``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    enabled: bool = True
    plugin_id: Literal["bm25-local"] = PLUGIN_ID
    model_config_data: Bm25Parameters = Field(default_factory=Bm25Parameters)


def stored(config: SparseIndexConfig | dict[str, Any] | None) -> dict[str, Any] | None:
    """What a collection keeps: the full config when enabled, None for no sparse index."""
    if config is None:
        return None
    parsed = config if isinstance(config, SparseIndexConfig) else SparseIndexConfig.model_validate(config)
    return parsed.model_dump() if parsed.enabled else None


def parse(value: object) -> dict[str, Any] | None:
    """A config given where no schema checked it (a reindex override): 400 when it is not valid."""
    if value is not None and not isinstance(value, dict):
        raise ValidationError("sparse_index_config must be an object or null")
    try:
        return stored(value)
    except SchemaError as error:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValidationError(f"invalid sparse_index_config: {reasons}") from None


def enabled(config: dict[str, Any] | None) -> bool:
    return bool(config and config.get("enabled"))


def parameters(config: dict[str, Any] | None) -> tuple[float, float] | None:
    """(k1, b) of an enabled config, else None."""
    if not enabled(config):
        return None
    params = Bm25Parameters.model_validate((config or {}).get("model_config_data") or {})
    return params.k1, params.b


class SparseVectorDict(TypedDict):
    indices: list[int]
    values: list[float]


@lru_cache(maxsize=8)
def _encoder(k1: float, b: float) -> qe.Bm25:
    import qdrant_edge as qe  # the Rust encoder; only the processes that encode load it

    return qe.Bm25(qe.Bm25Config(k=k1, b=b, tokenizer=qe.TokenizerType.Code))


def encode_documents(
    texts: list[str], k1: float = DEFAULT_K1, b: float = DEFAULT_B
) -> list[SparseVectorDict]:
    """One ``{"indices", "values"}`` per text, as vecpipe's /upsert takes it."""
    encoder = _encoder(k1, b)
    vectors = [encoder.embed_document(text) for text in texts]
    return [{"indices": vector.indices, "values": vector.values} for vector in vectors]


def encode_query(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a query: every distinct term once (empty when only stop words remain)."""
    vector = _encoder(DEFAULT_K1, DEFAULT_B).embed_query(text)  # query weights ignore k1 and b
    return vector.indices, vector.values
