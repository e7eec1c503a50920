"""Build and run vecpipe: one process, the model loaded once, the vector store opened once.

``serve(settings)`` is what ``semantik vecpipe`` runs; ``create_app`` is for tests and tools.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import TypedDict

import uvicorn
from fastapi import FastAPI
from uvicorn.main import STARTUP_FAILURE

from semantik.shared import logs, metrics
from semantik.shared.config import ConfigError, Settings
from semantik.shared.errors import SemantikError
from semantik.vecpipe.api.errors import BodySizeLimit, install_error_handlers
from semantik.vecpipe.api.main import api_router
from semantik.vecpipe.metrics import StoreAndModel
from semantik.vecpipe.models import Embedder, ModelLoadError, load_embedder
from semantik.vecpipe.store import open_store
from semantik.vecpipe.store.base import VectorStore

log = logging.getLogger(__name__)
SD_LISTEN_FDS_START = 3  # the first socket systemd passes (sd_listen_fds(3))


class _ServerOptions(TypedDict, total=False):
    """What serve() gives uvicorn.run and uvicorn.Config alike, typed as uvicorn types them."""

    log_level: str
    log_config: None
    timeout_graceful_shutdown: int
    ssl_certfile: str
    ssl_keyfile: str


def systemd_socket(
    environ: MutableMapping[str, str] = os.environ, fd: int = SD_LISTEN_FDS_START
) -> socket.socket | None:
    """The listening socket systemd passed to this process (socket activation), else None.

    As sd_listen_fds(unset_environment=1): the socket counts only when LISTEN_PID is this process and
    LISTEN_FDS is at least 1; LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from the environment
    either way, so that a child process does not take the socket for its own."""
    pid, count = environ.get("LISTEN_PID"), environ.get("LISTEN_FDS")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        environ.pop(name, None)
    try:
        if pid is None or int(pid) != os.getpid() or count is None or int(count) < 1:
            return None
    except ValueError:
        raise ConfigError([f"LISTEN_PID={pid!r} LISTEN_FDS={count!r}: not numbers"]) from None
    try:
        sock = socket.socket(fileno=fd)
    except OSError as error:
        raise ConfigError([f"LISTEN_FDS={count}: file descriptor {fd} is not a socket: {error}"]) from None
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise ConfigError([f"LISTEN_FDS={count}: file descriptor {fd} is not a stream socket"])
    os.set_inheritable(fd, False)
    return sock


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
    """Run vecpipe in this process with uvicorn (one worker: the store is owned by one process), on the
    socket systemd passed (socket activation: the socket outlives a restart, so connections wait in its
    backlog instead of being refused) or else on VECPIPE_HOST:VECPIPE_PORT. Start-up failures come out
    as ConfigError with the reason."""
    logs.setup(settings.log_format, settings.log_level)
    inherited = systemd_socket()
    try:
        app = create_app(settings)
    except (ModelLoadError, SemantikError, RuntimeError) as error:
        if inherited is not None:
            inherited.close()
        if isinstance(error, ConfigError):
            raise
        raise ConfigError([f"vecpipe cannot start: {error}"]) from error
    metrics.serve(settings, StoreAndModel(app.state.store, app.state.embedder))
    scheme = "https" if settings.vecpipe_tls_cert else "http"
    options: _ServerOptions = {
        "log_level": settings.log_level.lower(),
        "log_config": None,  # the root logger's, set above: uvicorn's loggers propagate to it
        # uvicorn annotates it int but only hands it to asyncio.wait_for, which takes a float.
        "timeout_graceful_shutdown": settings.vecpipe_stop_grace,  # type: ignore[typeddict-item]
    }
    if settings.vecpipe_tls_cert and settings.vecpipe_tls_key:  # problems() refuses half a pair
        options["ssl_certfile"] = str(settings.vecpipe_tls_cert)
        options["ssl_keyfile"] = str(settings.vecpipe_tls_key)
    if inherited is None:
        log.info("vecpipe listening on %s://%s:%d", scheme, settings.vecpipe_host, settings.vecpipe_port)
        uvicorn.run(app, host=settings.vecpipe_host, port=settings.vecpipe_port, **options)
        return
    log.info("vecpipe serving %s on the socket systemd passed: %s", scheme, inherited.getsockname())
    server = uvicorn.Server(uvicorn.Config(app, **options))
    server.run(sockets=[inherited])
    if not server.started:  # as uvicorn.run ends when start-up failed
        raise SystemExit(STARTUP_FAILURE)
