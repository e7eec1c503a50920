"""The real `semantik webui` process: gunicorn with uvicorn workers, and schemathesis against it."""

import json
import re
import subprocess
import sys
import time
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


def test_webui_logs_one_json_object_per_line_with_the_correlation_id(
    webui_server: str, app_env: dict[str, str], tmp_path: Path
) -> None:
    answer = httpx.get(f"{webui_server}/api/auth/me", headers={"X-Correlation-ID": "tracethis42"})
    assert answer.headers["X-Correlation-ID"] == "tracethis42"
    time.sleep(0.5)  # the access line is written as the answer goes out
    text = (tmp_path / "webui.log").read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every line: one JSON object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines), lines[:3]
    (access,) = [line for line in lines if "/api/auth/me" in line["message"]]
    assert (access["logger"], access["correlation_id"]) == ("uvicorn.access", "tracethis42"), access
    assert " 401" in access["message"], access
    assert "Booting worker" in text and "Listening at" in text  # gunicorn's own lines, in the format
    for name in ("JWT_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "INTERNAL_API_KEY"):
        assert app_env[name] not in text, name


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
