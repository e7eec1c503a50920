"""Point 8: what the stack tells a stranger, its logs, and bodies it must not swallow."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from factories import auth_headers
from semantik.vecpipe.api.errors import BodySizeLimit
from support.caches import reset_caches

MALFORMED = [
    ("POST", "/api/auth/login", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/api/auth/login", {"json": {"username": ["a"], "password": {"b": 1}}}),
    ("GET", "/api/v2/collections/not-a-uuid", {}),
    ("GET", "/api/v2/users/99999999999999999999999", {}),
    ("GET", "/api/v2/collections?page=-1&per_page=100000", {}),
    ("POST", "/api/v2/search", {"json": {"collection_uuids": "x" * 100, "query": None}}),
    ("GET", "/api/../../etc/passwd", {}),
    ("DELETE", "/api/v2/operations/%00", {}),
]


@pytest.mark.parametrize(("method", "url", "extra"), MALFORMED)
def test_no_error_body_carries_a_stack_trace(client, method: str, url: str, extra: dict) -> None:
    headers = {**auth_headers(client, "alice"), **extra.pop("headers", {})}
    response = client.request(method, url, headers=headers, **extra)
    assert 400 <= response.status_code < 500, response.text
    for tell in ("Traceback", 'File "', "sqlalchemy", "psycopg2", "Error:"):
        assert tell not in response.text


def test_the_api_pages_are_off_in_production_unless_enabled(make_client) -> None:
    production = make_client(environment="production")
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert production.get(path).status_code == 404
    assert make_client(environment="production", enable_api_docs=True).get("/openapi.json").status_code == 200
    assert make_client(environment="development").get("/docs").status_code == 200


def test_sql_logging_shows_statements_once_and_never_their_values(
    app_env, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    from semantik.shared.db import get_engine

    monkeypatch.setenv("DB_ECHO", "true")
    reset_caches()
    try:
        engine = get_engine()
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"), engine.connect() as connection:
            connection.execute(text("SELECT :value"), {"value": "s3cret-parameter-value"})
        statements = [record for record in caplog.records if "SELECT %(value)s" in record.getMessage()]
        assert len(statements) == 1
        assert "s3cret-parameter-value" not in caplog.text
        assert logging.getLogger("sqlalchemy.engine.Engine").handlers == []  # no echo handler of its own
    finally:
        monkeypatch.undo()
        logging.getLogger("sqlalchemy.engine.Engine").setLevel(logging.WARNING)
        reset_caches()


def _echo_app(limit: int) -> BodySizeLimit:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return BodySizeLimit(app, limit=limit)


def test_vecpipe_refuses_a_chunked_body_over_its_limit() -> None:
    client = TestClient(_echo_app(limit=1000))

    def chunks(count: int):
        for _ in range(count):
            yield b"x" * 100

    small = client.post("/echo", content=chunks(5))
    assert (small.status_code, small.json()) == (200, {"bytes": 500})
    large = client.post("/echo", content=chunks(50))
    assert "content-length" not in {name.lower() for name in large.request.headers}
    assert large.status_code == 413
    assert "exceeds the limit of 1000 bytes" in large.json()["detail"]


def test_vecpipe_refuses_a_chunked_body_over_the_wire(vecpipe_server: str) -> None:
    """The real vecpipe (128 MiB limit), fed a chunked body that never says its length."""

    def chunks():
        block = b"[" + b"0," * (1024 * 1024 // 2)
        for _ in range(140):
            yield block

    response = httpx.post(
        f"{vecpipe_server}/embed",
        content=chunks(),
        headers={"X-Internal-Api-Key": "test-internal-key-0123456789abcdef0123456789"},
        timeout=120,
    )
    assert response.status_code == 413
    assert "exceeds the limit" in response.json()["detail"]
