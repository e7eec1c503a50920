"""The web UI's metrics: requests by route template, method and status, and how long they took.

A route's template (/api/v2/collections/{collection_uuid}), never the path: one series per route, not
one per collection; a path no route matched counts as "unmatched"."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "semantik_webui_requests_total", "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "semantik_webui_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["route", "method"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)  # fmt: skip


class RequestMetrics:
    """ASGI middleware: the route is known once the router has matched it (FastAPI puts it in the
    scope), so it is read when the request is done."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler becomes a 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUESTS.labels(route, scope["method"], str(status)).inc()
            LATENCY.labels(route, scope["method"]).observe(time.perf_counter() - started)
