"""Error bodies per API_CONTRACT.md §6: `{detail, reference}` with a correlation id on every response."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from semantik.shared.errors import AuthenticationError, SemantikError
from semantik.shared.logs import CORRELATION_ID
from semantik.webui.pages.route import NOT_FOUND, error_page

log = logging.getLogger(__name__)
HEADER = "X-Correlation-ID"
API_PATHS = ("/api/", "/docs", "/redoc", "/openapi.json", "/static/")


def _correlation_id(request: Request) -> str:
    return getattr(request.state, "correlation_id", None) or uuid.uuid4().hex[:12]


def _body(request: Request, status: int, detail: object, retry_after: int | None = None) -> JSONResponse:
    cid = _correlation_id(request)
    headers = {HEADER: cid}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse({"detail": detail, "reference": f"ERR-{cid}"}, status_code=status, headers=headers)


class CorrelationId:
    """Every HTTP response carries `X-Correlation-ID`: the client's (alphanumeric, <= 64) or a new one.

    A plain ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) runs each request through
    an extra task and memory streams, a measurable part of a search's overhead. The id is kept in
    ``scope["state"]``, which is what ``request.state`` reads, so the error handlers find it.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = Headers(scope=scope).get(HEADER, "")
        cid = supplied if supplied.isalnum() and len(supplied) <= 64 else uuid.uuid4().hex[:12]
        scope.setdefault("state", {})["correlation_id"] = cid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = cid
            await send(message)

        token = CORRELATION_ID.set(cid)  # every log line of this request carries it
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            CORRELATION_ID.reset(token)


def install(app: FastAPI) -> None:
    app.add_middleware(CorrelationId)

    @app.exception_handler(SemantikError)
    async def domain_error(request: Request, error: SemantikError) -> JSONResponse:
        status = error.status_code
        if isinstance(error, AuthenticationError) and str(error) == "Inactive user":
            status = 403
        return _body(request, status, str(error), error.retry_after)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _body(request, error.status_code, error.detail)

    @app.exception_handler(StarletteHTTPException)
    async def no_route(request: Request, error: StarletteHTTPException) -> Response:
        """An address no route serves: a page in words outside the API, FastAPI's own answer in it."""
        if error.status_code in (404, 405) and not request.url.path.startswith(API_PATHS):
            return error_page(request, 404, NOT_FOUND)
        return await http_exception_handler(request, error)

    @app.exception_handler(Exception)
    async def unhandled(request: Request, error: Exception) -> JSONResponse:
        cid = _correlation_id(request)
        log.exception("unhandled error [%s] on %s %s", cid, request.method, request.url.path)
        return JSONResponse(
            {"detail": "Internal server error", "correlation_id": cid}, status_code=500, headers={HEADER: cid}
        )
