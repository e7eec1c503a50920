"""Building the app: refusals at start, and who closes the store."""

from __future__ import annotations

import os
import socket
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


@pytest.mark.integration  # through sentence-transformers' real loader
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
    main.serve(make_settings(tmp_path, vecpipe_host="127.0.0.2", vecpipe_port=8123, vecpipe_stop_grace=7))
    assert len(calls) == 1
    assert calls[0]["host"] == "127.0.0.2" and calls[0]["port"] == 8123
    assert "workers" not in calls[0]
    # A stop waits for the requests in progress that long, no longer (VECPIPE_STOP_GRACE).
    assert calls[0]["timeout_graceful_shutdown"] == 7


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_a_socket_systemd_passed_to_this_process_is_taken(tmp_path: Path) -> None:
    with _listening() as sock:
        environ = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "vecpipe", "X": "y"}
        taken = main.systemd_socket(environ, fd=os.dup(sock.fileno()))
        try:
            assert taken is not None and taken.getsockname() == sock.getsockname()
            assert not os.get_inheritable(taken.fileno())
        finally:
            taken.close()
    assert environ == {"X": "y"}  # as sd_listen_fds(1): a child must not take the socket for its own


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"LISTEN_PID": "1", "LISTEN_FDS": "1"},  # meant for another process
        {"LISTEN_PID": "{pid}", "LISTEN_FDS": "0"},
        {"LISTEN_FDS": "1"},
    ],
)
def test_without_a_socket_for_this_process_none_is_taken(environ: dict[str, str]) -> None:
    environ = {name: value.format(pid=os.getpid()) for name, value in environ.items()}
    assert main.systemd_socket(environ, fd=-1) is None
    assert environ == {}


def test_a_passed_descriptor_that_is_no_socket_is_refused(tmp_path: Path) -> None:
    with open(tmp_path / "file", "w") as file:
        environ = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1"}
        with pytest.raises(ConfigError, match="is not a socket"):
            main.systemd_socket(environ, fd=file.fileno())


@pytest.mark.parametrize("tls", [False, True])
def test_serve_runs_on_the_passed_socket_with_the_same_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: bool
) -> None:
    served = []

    class Server:
        started = True

        def __init__(self, config) -> None:
            self.config = config

        def run(self, sockets) -> None:
            served.append((self.config, sockets))

    monkeypatch.setattr(main.uvicorn, "run", lambda *a, **k: pytest.fail("must not bind VECPIPE_PORT"))
    monkeypatch.setattr(main.uvicorn, "Server", Server)
    options = (
        {"vecpipe_tls_cert": tmp_path / "cert.pem", "vecpipe_tls_key": tmp_path / "key.pem"} if tls else {}
    )
    with _listening() as sock:
        monkeypatch.setattr(main, "systemd_socket", lambda: sock)
        main.serve(make_settings(tmp_path, **options))
    ((config, sockets),) = served
    assert sockets == [sock]
    assert config.timeout_graceful_shutdown == 5  # VECPIPE_STOP_GRACE's default
    if tls:
        assert (config.ssl_certfile, config.ssl_keyfile) == (
            str(tmp_path / "cert.pem"),
            str(tmp_path / "key.pem"),
        )
    else:
        assert config.ssl_certfile is None and config.ssl_keyfile is None
