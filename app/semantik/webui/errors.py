"""Error bodies per API_CONTRACT.md §6: `{detail, reference}` with a correlation id on every response."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse

from semantik.shared.errors import AuthenticationError, SemantikError

log = logging.getLogger(__name__)
HEADER = "X-Correlation-ID"


def _correlation_id(request: Request) -> str:
    return getattr(request.state, "correlation_id", None) or uuid.uuid4().hex[:12]


def _body(request: Request, status: int, detail: object) -> JSONResponse:
    cid = _correlation_id(request)
    headers = {HEADER: cid}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"detail": detail, "reference": f"ERR-{cid}"}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def correlation(request: Request, call_next):
        supplied = request.headers.get(HEADER, "")
        request.state.correlation_id = (
            supplied if supplied.isalnum() and len(supplied) <= 64 else uuid.uuid4().hex[:12]
        )
        response = await call_next(request)
        response.headers[HEADER] = request.state.correlation_id
        return response

    @app.exception_handler(SemantikError)
    async def domain_error(request: Request, error: SemantikError) -> JSONResponse:
        status = error.status_code
        if isinstance(error, AuthenticationError) and str(error) == "Inactive user":
            status = 403
        return _body(request, status, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _body(request, error.status_code, error.detail)

    @app.exception_handler(Exception)
    async def unhandled(request: Request, error: Exception) -> JSONResponse:
        cid = _correlation_id(request)
        log.exception("unhandled error [%s] on %s %s", cid, request.method, request.url.path)
        return JSONResponse(
            {"detail": "Internal server error", "correlation_id": cid}, status_code=500, headers={HEADER: cid}
        )
