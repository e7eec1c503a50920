"""POST /embed: texts to normalised vectors with the loaded model."""

from __future__ import annotations

import time

from fastapi import APIRouter

from semantik.vecpipe import metrics
from semantik.vecpipe.api.bodies import JSONBodyRoute
from semantik.vecpipe.api.deps import EmbedderDep, check_model_matches
from semantik.vecpipe.models import ModelInfo
from semantik.vecpipe.schemas import EmbedRequest, EmbedResponse

router = APIRouter(tags=["embedding"], route_class=JSONBodyRoute)


def truncation_warning(truncated: int, total: int, info: ModelInfo) -> list[str]:
    if not truncated:
        return []
    return [
        f"{truncated} of {total} texts exceed the model's limit of {info.max_tokens} tokens; "
        "each was embedded from its first tokens only"
    ]


@router.post("/embed", response_model=EmbedResponse)
def embed(body: EmbedRequest, embedder: EmbedderDep) -> EmbedResponse:
    check_model_matches(embedder.info, body.model_name, body.quantization)
    started = time.perf_counter()
    result = embedder.embed(body.texts, mode=body.mode, batch_size=body.batch_size)
    elapsed = time.perf_counter() - started
    metrics.EMBED_SECONDS.observe(elapsed)
    metrics.EMBED_BATCH.observe(len(body.texts))
    metrics.TEXTS.inc(len(body.texts))
    elapsed_ms = elapsed * 1000
    return EmbedResponse(
        embeddings=result.vectors.tolist(),
        model_used=embedder.info.name,
        dimension=embedder.info.dimension,
        embedding_time_ms=elapsed_ms,
        batch_count=-(-len(body.texts) // body.batch_size),
        truncated=result.truncated,
        warnings=truncation_warning(result.truncated, len(body.texts), embedder.info),
    )
