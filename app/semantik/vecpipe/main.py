"""Build and run vecpipe: one process, the model loaded once, the vector store opened once.

``serve(settings)`` is what ``semantik vecpipe`` runs; ``create_app`` is for tests and tools.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from semantik.shared.config import ConfigError, Settings
from semantik.shared.errors import SemantikError
from semantik.vecpipe.api.errors import BodySizeLimit, install_error_handlers
from semantik.vecpipe.api.main import api_router
from semantik.vecpipe.models import Embedder, ModelLoadError, load_embedder
from semantik.vecpipe.store import open_store
from semantik.vecpipe.store.base import VectorStore

log = logging.getLogger(__name__)


def _startup_checks(settings: Settings) -> bytes:
    """Refuse to build an app that would fail every request, rather than fail them one by one."""
    if not settings.internal_api_key:
        raise ConfigError(["INTERNAL_API_KEY: required by vecpipe but not set"])
    if settings.use_mock_embeddings and settings.environment == "production":
        raise ConfigError(["USE_MOCK_EMBEDDINGS: mock vectors are for tests; production refuses them"])
    return settings.internal_api_key.encode()


def create_app(
    settings: Settings, *, embedder: Embedder | None = None, store: VectorStore | None = None
) -> FastAPI:
    """The app; an embedder or store passed in stays the caller's, one opened here closes with the app."""
    key = _startup_checks(settings)
    owned_store = store is None
    # The store first: a locked store fails in milliseconds, a model takes seconds to load.
    store = store or open_store(settings)
    try:
        embedder = embedder or load_embedder(settings)
    except BaseException:
        if owned_store:
            store.close()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned_store:
            store.close()  # flushes the embedded shards and releases their locks

    app = FastAPI(title="semantik vecpipe", version="1.0", lifespan=lifespan)
    app.state.internal_api_key = key
    app.state.embedder = embedder
    app.state.store = store
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.include_router(api_router)
    return app


def serve(settings: Settings) -> None:
    """Run vecpipe in this process with uvicorn on VECPIPE_HOST:VECPIPE_PORT (one worker: the store
    is owned by one process). Start-up failures come out as ConfigError with the reason."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(settings)
    except (ModelLoadError, SemantikError, RuntimeError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError([f"vecpipe cannot start: {error}"]) from error
    scheme = "https" if settings.vecpipe_tls_cert else "http"
    log.info("vecpipe listening on %s://%s:%d", scheme, settings.vecpipe_host, settings.vecpipe_port)
    tls = {}
    if settings.vecpipe_tls_cert and settings.vecpipe_tls_key:  # problems() refuses half a pair
        tls = {"ssl_certfile": str(settings.vecpipe_tls_cert), "ssl_keyfile": str(settings.vecpipe_tls_key)}
    uvicorn.run(app, host=settings.vecpipe_host, port=settings.vecpipe_port, log_level="info", **tls)
