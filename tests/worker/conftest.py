"""Fixtures for the worker's service-level tests: a settings object, a fake vector API, a folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.fakes import FakeVectors


@pytest.fixture
def vectors() -> FakeVectors:
    return FakeVectors()


@pytest.fixture
def settings(db: None):
    from semantik.shared.config import get_settings

    return get_settings().model_copy(update={"ingest_batch_documents": 4, "ingest_embed_batch": 16})


@pytest.fixture
def folder(documents_root: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh directory inside DOCUMENT_ALLOWED_ROOTS for one test."""
    path = documents_root / request.node.name[:80]
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)
