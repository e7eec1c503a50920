"""Dependencies of the routes: the internal-key check and the process's model and store."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from semantik.shared.errors import ValidationError
from semantik.vecpipe.models import Embedder, ModelInfo
from semantik.vecpipe.store.base import VectorStore

KEY_HEADER = "X-Internal-Api-Key"


# These dependencies only compare a header or read app.state: async, so FastAPI runs them on the event
# loop instead of sending each to the threadpool and back (a thread hop apiece on every request).
async def require_internal_key(
    request: Request, key: Annotated[str | None, Header(alias=KEY_HEADER)] = None
) -> None:
    """401 unless the header equals INTERNAL_API_KEY, compared in constant time.

    The key is checked for presence when the app is built (create_app), so an unset key stops the
    service at start instead of turning every request into a 500 as in the reference.
    """
    expected: bytes = request.app.state.internal_api_key
    if key is None or not hmac.compare_digest(key.encode(), expected):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED, detail=f"Invalid or missing {KEY_HEADER} header"
        )


async def get_embedder(request: Request) -> Embedder:
    return request.app.state.embedder


async def get_store(request: Request) -> VectorStore:
    return request.app.state.store


EmbedderDep = Annotated[Embedder, Depends(get_embedder)]
StoreDep = Annotated[VectorStore, Depends(get_store)]


def check_model_matches(info: ModelInfo, model_name: str | None, quantization: str | None) -> None:
    """400 when a client asks for another model or quantization than the one loaded here."""
    if model_name is not None and model_name != info.name:
        raise ValidationError(f"model_name '{model_name}' does not match the loaded model '{info.name}'")
    if quantization is not None and quantization != info.quantization:
        raise ValidationError(
            f"quantization '{quantization}' does not match the loaded model's quantization "
            f"'{info.quantization}'"
        )
