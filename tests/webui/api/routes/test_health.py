import httpx

from support.caches import reset_caches


def test_healthz_checks_nothing(client) -> None:
    assert client.get("/api/health/healthz").json() == {"status": "healthy", "check": "liveness"}


def test_readyz_names_vecpipe_when_it_is_down(dead_vecpipe, client) -> None:
    response = client.get("/api/health/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["vecpipe"]


def test_readyz_names_a_database_without_its_schema(servers, app_env, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from semantik.webui.main import create_app

    monkeypatch.setenv("DATABASE_URL", servers[0].create_database("readyz_unmigrated"))
    reset_caches()
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            response = client.get("/api/health/readyz")
    finally:
        monkeypatch.undo()
        reset_caches()
    assert response.status_code == 503
    assert "database" in response.json()["failing"]


def test_readyz_follows_redis_down_and_back(vecpipe_server, webui_server, redis_server) -> None:
    assert httpx.get(f"{webui_server}/api/health/readyz", timeout=30).status_code == 200
    redis_server.stop()
    try:
        down = httpx.get(f"{webui_server}/api/health/readyz", timeout=30)
    finally:
        redis_server.start()
    assert down.status_code == 503
    assert down.json()["failing"] == ["redis"]
    # Unauthenticated: the failing component is named, the exception is not shown.
    assert down.json()["services"]["redis"]["message"] == "not reachable or not working (see the webui's log)"
    assert "Error" not in down.text and "redis://" not in down.text
    back = httpx.get(f"{webui_server}/api/health/readyz", timeout=30)
    assert back.status_code == 200, back.text
    vecpipe = back.json()["services"]["vecpipe"]
    assert vecpipe["message"] == "healthy"
    assert vecpipe["components"] == {"qdrant": {"status": "healthy"}, "embedding": {"status": "healthy"}}
