"""The webui application: routers, error bodies, and the clients it holds for its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from semantik.shared import security
from semantik.shared.config import Settings, require
from semantik.shared.services.auth_state import AuthState
from semantik.shared.vecpipe_client import VecpipeClient
from semantik.webui import errors, pages
from semantik.webui.api.routes import api_keys, auth, collections, health, operations, search, users
from semantik.webui.metrics import RequestMetrics


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or require("webui")
    security.set_hash_concurrency(settings.password_hash_concurrency)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.vecpipe = VecpipeClient(settings)
        app.state.auth_state = AuthState.from_settings(settings)
        yield
        app.state.auth_state.close()
        app.state.vecpipe.close()

    # The API's own description is a map for an attacker: off in production unless asked for.
    docs = (
        settings.enable_api_docs
        if settings.enable_api_docs is not None
        else settings.environment != "production"
    )
    app = FastAPI(
        title="Semantik",
        version="2.0",
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.settings = settings
    errors.install(app)
    for module in (auth, users, api_keys, collections, operations, search, health):
        app.include_router(module.router)
    pages.install(app)
    app.add_middleware(RequestMetrics)  # the outermost of the app's own: it sees every answer's status
    return app
