"""The security tests try what an attacker would, against the real webui, PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def make_client(db: None) -> Iterator[Callable[..., Any]]:
    """A webui of its own with some settings changed; several share the one database and Redis,
    as several webui hosts do."""
    from fastapi.testclient import TestClient

    from semantik.shared.config import get_settings
    from semantik.webui.main import create_app

    opened = []

    def make(**changes: Any) -> Any:
        settings = get_settings().model_copy(update=changes)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def forget_login_attempts(redis_server) -> Iterator[None]:
    """Counters and revocations live in Redis, which outlives each test: start each one clean."""
    import redis

    yield
    client = redis.Redis.from_url(redis_server.url)
    keys = list(client.scan_iter("semantik:auth:*"))
    if keys:
        client.delete(*keys)
    client.close()
