"""The real vecpipe process: `semantik vecpipe` (or `python -m semantik.vecpipe` until the CLI has the
mode) started as the systemd unit would, with the test model, checked over HTTP, then stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from semantik.vecpipe.store.edge import EdgeStore
from support.servers import free_port
from vecpipe.helpers import HEADERS, KEY

pytestmark = pytest.mark.integration  # vecpipe processes, the real model

VENV_BIN = Path(sys.executable).parent


def _command() -> list[str]:
    return [str(VENV_BIN / "semantik"), "vecpipe"]


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {
        name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "PYTHONPATH")
    }
    return {
        **keep,
        "HF_HUB_OFFLINE": "1",
        "ENVIRONMENT": "test",
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "DATA_DIR": str(tmp_path),
        "VECPIPE_HOST": "127.0.0.1",
        **extra,
    }


def _wait_for_health(url: str, process: subprocess.Popen[str], timeout: float = 90.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"vecpipe exited with {process.returncode}: {process.stderr.read()}")
        try:
            return httpx.get(f"{url}/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"vecpipe did not answer /health within {timeout:.0f} s")


@pytest.fixture
def vecpipe(tmp_path: Path, model_path: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = _environment(
        tmp_path,
        INTERNAL_API_KEY=KEY,
        VECPIPE_PORT=str(port),
        DEFAULT_EMBEDDING_MODEL=model_path,
        DEFAULT_QUANTIZATION="int8",
        USE_MOCK_EMBEDDINGS="false",
    )
    process = subprocess.Popen(
        _command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def test_the_process_serves_health_and_checks_the_key(
    vecpipe: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    url, process = vecpipe
    health = _wait_for_health(url, process)
    assert health.status_code == 200
    embedding = health.json()["components"]["embedding"]
    assert (embedding["loaded"], embedding["mock"], embedding["device"]) == (True, False, "cpu")
    assert (embedding["quantization"], embedding["effective_dtype"], embedding["quantized_layers"]) == (
        "int8",
        "int8",
        40,
    )
    assert health.json()["components"]["qdrant"]["backend"] == "embedded"
    assert httpx.post(f"{url}/embed", json={"texts": ["hi"]}).status_code == 401
    assert (
        httpx.post(f"{url}/embed", json={"texts": ["hi"]}, headers={"X-Internal-Api-Key": "nope"}).status_code
        == 401
    )
    answer = httpx.post(f"{url}/embed", json={"texts": ["hi"]}, headers=HEADERS, timeout=30)
    assert answer.status_code == 200 and len(answer.json()["embeddings"][0]) == 384
    assert httpx.post(f"{url}/collections", json={"name": "col_p"}, headers=HEADERS).status_code == 201
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status names it (systemd
    # counts an exit by SIGTERM as clean).
    assert process.wait(30) == -signal.SIGTERM
    assert "Application shutdown complete" in process.stderr.read()
    EdgeStore(tmp_path / "qdrant").close()  # released at shutdown, so a restarted vecpipe can open it


def test_an_unset_key_stops_the_process_at_start(tmp_path: Path) -> None:
    env = _environment(tmp_path, USE_MOCK_EMBEDDINGS="true", VECPIPE_PORT=str(free_port()))
    done = subprocess.run(_command(), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "INTERNAL_API_KEY" in done.stderr


def test_a_second_process_on_the_same_store_is_refused(tmp_path: Path) -> None:
    env = _environment(
        tmp_path, INTERNAL_API_KEY=KEY, USE_MOCK_EMBEDDINGS="true", VECPIPE_PORT=str(free_port())
    )
    holder = EdgeStore(tmp_path / "qdrant")
    holder.create_collection("col_held", 4)
    try:
        done = subprocess.run(_command(), env=env, capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert done.returncode != 0
    assert "is open in another process; an embedded store belongs to one vecpipe process" in done.stderr


# As systemd starts a socket-activated service: the listening socket at fd 3, LISTEN_PID the service's
# own pid (known only once forked, so set here just before exec), LISTEN_FDS=1.
_SOCKET_ACTIVATION = """
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1", LISTEN_FDNAMES="vecpipe")
os.execv(sys.argv[2], sys.argv[2:])
"""


def _activated(sock, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _SOCKET_ACTIVATION, str(sock.fileno()), *_command()],
        env=env,
        pass_fds=(sock.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_socket_passed_by_systemd_is_served_and_outlives_a_restart(tmp_path: Path) -> None:
    import socket
    from concurrent.futures import ThreadPoolExecutor

    unused_port = free_port()
    env = _environment(
        tmp_path, INTERNAL_API_KEY=KEY, USE_MOCK_EMBEDDINGS="true", VECPIPE_PORT=str(unused_port)
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        first = _activated(sock, env)
        try:
            assert _wait_for_health(url, first).status_code == 200
            assert httpx.post(f"{url}/embed", json={"texts": ["hi"]}, headers=HEADERS).status_code == 200
            with pytest.raises(httpx.ConnectError):  # VECPIPE_PORT is not bound: the socket replaces it
                httpx.get(f"http://127.0.0.1:{unused_port}/health", timeout=2)
            first.send_signal(signal.SIGTERM)
            assert first.wait(30) == -signal.SIGTERM
            # No process serves now, yet the socket still accepts: a request waits in its backlog and
            # the next vecpipe on the same socket answers it.
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(httpx.get, f"{url}/health", timeout=90)
                second = _activated(sock, env)
                try:
                    assert waiting.result().status_code == 200
                finally:
                    second.send_signal(signal.SIGTERM)
                    assert second.wait(30) == -signal.SIGTERM
        finally:
            for process in (first, locals().get("second")):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
