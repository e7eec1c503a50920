"""The webui application: routers, error bodies, and the clients it holds for its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from semantik.shared.config import Settings, require
from semantik.shared.vecpipe_client import VecpipeClient
from semantik.webui import errors
from semantik.webui.api.routes import api_keys, auth, collections, health, operations, search


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or require("webui")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.vecpipe = VecpipeClient(settings)
        yield
        app.state.vecpipe.close()

    app = FastAPI(title="Semantik", version="2.0", lifespan=lifespan)
    app.state.settings = settings
    errors.install(app)
    for module in (auth, api_keys, collections, operations, search, health):
        app.include_router(module.router)
    return app
