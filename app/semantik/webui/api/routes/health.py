"""Liveness checks nothing; readiness checks each dependency with its own time limit."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from semantik.shared.db import get_engine
from semantik.webui.api.deps import SettingsDep, VecpipeDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/health", tags=["health"])
CHECK_SECONDS = 5.0
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="readyz")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "healthy", "check": "liveness"}


def _database(_: Any) -> str:
    # The schema too: a database without it (new, or wiped and not migrated yet) answers SELECT 1 but
    # fails every request.
    with get_engine().connect() as connection:
        if connection.execute(text("SELECT version_num FROM alembic_version")).first() is None:
            raise LookupError("no schema revision: run semantik migrate")
    return "connected"


def _redis(settings: Any) -> str:
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=CHECK_SECONDS,
        socket_connect_timeout=CHECK_SECONDS,
        **settings.redis_tls(),
    )
    try:
        client.ping()
    finally:
        client.close()
    return "connected"


def _status(check, argument: Any) -> dict[str, Any]:
    future = _pool.submit(check, argument)
    try:
        return {"status": "healthy", "message": future.result(timeout=CHECK_SECONDS)}
    except FutureTimeout:
        return {"status": "unhealthy", "message": f"no answer within {CHECK_SECONDS:.0f} s"}
    except Exception as error:  # any failure of a dependency makes it unready
        # The answer is unauthenticated: it names the component; the reason goes to the log only.
        log.warning("readiness: %s failed: %s: %s", check.__name__, error.__class__.__name__, error)
        return {"status": "unhealthy", "message": "not reachable or not working (see the webui's log)"}


@router.get("/readyz")
def readyz(settings: SettingsDep, vecpipe: VecpipeDep) -> JSONResponse:
    services = {
        "database": _status(_database, None),
        "redis": _status(_redis, settings),
        "vecpipe": _status(lambda client: client.health(), vecpipe),
    }
    if services["vecpipe"]["status"] == "healthy":
        vecpipe_health = services["vecpipe"].pop("message")
        services["vecpipe"]["message"] = vecpipe_health.get("status", "healthy")
        # Each component's state, not its details (model, device, errors): this answer is public.
        components = vecpipe_health.get("components", {})
        services["vecpipe"]["components"] = {
            name: {"status": c.get("status")} for name, c in components.items()
        }
    failing = sorted(name for name, state in services.items() if state["status"] != "healthy")
    body = {"ready": not failing, "check": "readiness", "services": services}
    if failing:
        body["failing"] = failing
    return JSONResponse(body, status_code=503 if failing else 200)
