"""The web page through a TestClient that keeps cookies, as a browser does, over https (the session
cookie is Secure)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def web(db: None, redis_server) -> Iterator:
    from fastapi.testclient import TestClient

    from semantik.webui.main import create_app

    with TestClient(
        create_app(), base_url="https://testserver", follow_redirects=False, raise_server_exceptions=False
    ) as client:
        yield client
    _forget_login_state(redis_server)


@pytest.fixture
def make_web(web) -> Iterator:
    """Another browser: a client of its own (its own cookies) on the same database and Redis."""
    from fastapi.testclient import TestClient

    from semantik.webui.main import create_app

    opened = []

    def make():
        client = TestClient(create_app(), base_url="https://testserver", follow_redirects=False)
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def _forget_login_state(redis_server) -> None:
    """Failed-login counters live in Redis, which outlives each test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    keys = list(client.scan_iter("semantik:auth:*"))
    if keys:
        client.delete(*keys)
    client.close()
