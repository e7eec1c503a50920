"""Every failure answers ``{"detail": ...}`` with the status its error class carries."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from semantik.shared.errors import SemantikError

MAX_BODY_BYTES = 128 * 1024 * 1024


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SemantikError)
    async def _domain_error(request: Request, error: SemantikError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status_code)


class BodySizeLimit:
    """413 for a request that declares a body over the limit, before anything reads it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"0")
            if declared.isdigit() and int(declared) > self.limit:
                detail = f"request body of {int(declared)} bytes exceeds the limit of {self.limit} bytes"
                response = JSONResponse({"detail": detail}, status_code=413)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
