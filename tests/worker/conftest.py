"""Fixtures for the worker's service-level tests: a settings object, a fake vector API, a folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import servers
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


# -- real processes ------------------------------------------------------------------------------
SEMANTIK = str(Path(sys.executable).parent / "semantik")


@pytest.fixture
def worker_env(worker_base_env: dict[str, str], vecpipe_server: str) -> dict[str, str]:
    """Environment for worker and beat processes that talk to the real vecpipe."""
    return {**worker_base_env, "VECPIPE_URL": vecpipe_server}


@pytest.fixture
def worker_base_env(app_env: dict[str, str], tmp_path: Path, redis_server) -> dict[str, str]:
    """Environment for worker and beat processes: small batches, no orphan grace, a clean queue."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.delete("celery", "unacked", "unacked_index")  # messages left by earlier (webui) tests
    client.close()
    return {
        **app_env,
        "DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
        "WORKER_CONCURRENCY": "1",
        "INGEST_BATCH_DOCUMENTS": "4",
        "OPERATION_ORPHAN_GRACE_SECONDS": "0",
    }


def start_process(
    mode: str, env: dict[str, str], log: Path, ready: str, timeout: float = 90
) -> subprocess.Popen:
    """`semantik <mode>` in its own process group, once ``ready`` appears in its log."""
    return servers.start_process(
        [SEMANTIK, mode], env, log, lambda: ready in log.read_text(errors="replace"), timeout
    )


stop_process = servers.stop_process


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; whatever is still running at the end is stopped."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        stop_process(process)
