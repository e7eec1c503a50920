"""The console script as the systemd units and operators run it."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

SEMANTIK = str(Path(sys.executable).parent / "semantik")


def _run(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEMANTIK, *args], env={**os.environ, **env}, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_migrate_brings_an_empty_database_to_head(servers, app_env) -> None:
    url = servers[0].create_database("cli_migrate")
    result = _run("migrate", env={**app_env, "DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    assert {"users", "collections", "operations", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_create_user_reads_the_password_from_stdin(db, app_env) -> None:
    created = _run(
        "create-user",
        "root_admin",
        "admin@example.org",
        "--superuser",
        "--password-stdin",
        env=app_env,
        stdin="a-long-enough-password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "superuser" in created.stdout
    again = _run(
        "create-user",
        "root_admin",
        "admin@example.org",
        "--password-stdin",
        env=app_env,
        stdin="a-long-enough-password\n",
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_a_mode_refuses_to_start_without_its_settings() -> None:
    result = _run(
        "webui", env={"DATABASE_URL": "", "JWT_SECRET_KEY": "", "REDIS_URL": "", "INTERNAL_API_KEY": ""}
    )
    assert result.returncode == 1
    assert "JWT_SECRET_KEY: required by webui but not set" in result.stderr
