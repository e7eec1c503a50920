"""Building the app: refusals at start, and who closes the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from semantik.shared.config import ConfigError
from semantik.vecpipe import main
from semantik.vecpipe.models import ModelLoadError
from semantik.vecpipe.store.edge import EdgeStore
from vecpipe.helpers import make_settings


def test_an_unset_key_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="INTERNAL_API_KEY"):
        main.create_app(make_settings(tmp_path, internal_api_key=None))


def test_production_refuses_mock_embeddings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="USE_MOCK_EMBEDDINGS"):
        main.create_app(make_settings(tmp_path, environment="production"))


def test_the_app_closes_the_store_it_opened(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(main.create_app(settings)) as client:
        assert client.get("/health").status_code == 200
    EdgeStore(settings.qdrant_path).close()  # would fail with "open in another process" if still held


def test_a_store_passed_in_stays_open(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "qdrant")
    try:
        with TestClient(main.create_app(make_settings(tmp_path), store=store)):
            pass
        assert store.create_collection("still-open", 4) is True
    finally:
        store.close()


def test_a_model_that_cannot_load_releases_the_store(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, use_mock_embeddings=False, default_embedding_model=str(tmp_path / "absent")
    )
    with pytest.raises(ModelLoadError, match="absent"):
        main.create_app(settings)
    EdgeStore(settings.qdrant_path).close()


def test_serve_reports_start_failures_as_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(settings: object) -> None:
        raise ModelLoadError("cannot load DEFAULT_EMBEDDING_MODEL 'x'")

    monkeypatch.setattr(main, "create_app", boom)
    monkeypatch.setattr(main.uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    with pytest.raises(ConfigError, match="vecpipe cannot start: cannot load DEFAULT_EMBEDDING_MODEL"):
        main.serve(make_settings(tmp_path))


def test_serve_runs_one_uvicorn_process_on_the_configured_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(main.uvicorn, "run", lambda app, **options: calls.append(options))
    main.serve(make_settings(tmp_path, vecpipe_host="127.0.0.2", vecpipe_port=8123))
    assert len(calls) == 1
    assert calls[0]["host"] == "127.0.0.2" and calls[0]["port"] == 8123
    assert "workers" not in calls[0]
