"""Every failure answers ``{"detail": ...}`` with the status its error class carries."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from semantik.shared.errors import SemantikError

MAX_BODY_BYTES = 128 * 1024 * 1024


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SemantikError)
    async def _domain_error(request: Request, error: SemantikError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status_code)


class BodySizeLimit:
    """413 for a body over the limit: a declared length before anything reads it, and a chunked
    body (no length) as soon as what arrived passes the limit, so it is never held whole."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        detail = f"request body of {size} bytes exceeds the limit of {self.limit} bytes"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send, str(int(declared)))
            return
        received, refused = 0, False

        # Past the limit the 413 goes out at once and the app is told the client left; whatever
        # the app answers or raises about that is dropped.
        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    await self._refuse(scope, receive, send, f"more than {self.limit}")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:  # the app's complaint about the "disconnect" it was handed
            if not refused:
                raise
