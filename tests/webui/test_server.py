"""The real `semantik webui` process: gunicorn with uvicorn workers, and schemathesis against it."""

import re
import subprocess
import sys
from pathlib import Path

import httpx

from factories import PASSWORD, register


def test_webui_serves_through_gunicorn_workers(webui_server: str) -> None:
    assert httpx.get(f"{webui_server}/api/health/healthz").json() == {
        "status": "healthy",
        "check": "liveness",
    }
    response = httpx.get(f"{webui_server}/api/auth/me")
    assert response.status_code == 401
    assert response.headers["X-Correlation-ID"]


def test_schemathesis_finds_no_server_errors(vecpipe_server: str, webui_server: str, tmp_path: Path) -> None:
    register(None, "fuzzer", admin=True)  # an administrator: the users API is fuzzed too
    token = httpx.post(
        f"{webui_server}/api/auth/login", json={"username": "fuzzer", "password": PASSWORD}
    ).json()["access_token"]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{webui_server}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "25",
            "--seed",
            "20261129",
            "--workers",
            "1",  # CPython 3.11 ast.parse is not thread-safe; hypothesis calls it per worker
            "--no-color",
            "--phases",
            "examples,coverage,fuzzing",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = result.stdout[-3000:]
    print(summary)
    assert result.returncode == 0, summary
    cases = re.search(r"(\d+) generated", summary)
    assert cases and int(cases.group(1)) > 500, summary
