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


def test_migrate_to_goes_down_only_when_forced_and_back_up(servers, app_env) -> None:
    from semantik.shared.migrations import current

    url = servers[0].create_database("cli_migrate_to")
    env, engine_url = {**app_env, "DATABASE_URL": url}, url.replace("postgresql://", "postgresql+psycopg2://")
    head = _run("migrate", env=env)
    assert head.returncode == 0, head.stderr
    newest = current(engine_url)
    refused = _run("migrate", "--to", "-1", env=env)
    assert refused.returncode == 1
    assert f"below {newest}, the schema this code is written for" in refused.stderr
    assert current(engine_url) == newest  # nothing moved
    down = _run("migrate", "--to", "-1", "--force", env=env)
    assert down.returncode == 0, down.stderr
    below = current(engine_url)
    assert below is not None and below != newest and down.stdout.strip() == f"schema: {newest} -> {below}"
    unknown = _run("migrate", "--to", "nope", "--force", env=env)
    assert unknown.returncode == 1 and "'nope'" in unknown.stderr
    up = _run("migrate", env=env)
    assert up.returncode == 0 and up.stdout.strip() == f"schema: {below} -> {newest}", up.stderr
    again = _run("migrate", "--to", newest, env=env)
    assert again.returncode == 0 and again.stdout.strip() == f"schema: {newest} -> {newest}"


def test_create_user_is_idempotent_and_never_changes_a_password(db, app_env) -> None:
    args = ("create-user", "root_admin", "admin@example.org", "--superuser", "--password-stdin")
    created = _run(*args, env=app_env, stdin="a-long-enough-password\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created user root_admin") and "superuser" in created.stdout
    again = _run(*args, env=app_env, stdin="another-password-entirely\n")
    assert (again.returncode, again.stdout) == (0, "user root_admin exists; unchanged\n")
    from factories import login_response

    assert login_response("root_admin", "a-long-enough-password").status_code == 200
    assert login_response("root_admin", "another-password-entirely").status_code == 401


def test_list_and_deactivate_users(db, app_env) -> None:
    _run(
        "create-user",
        "carol",
        "carol@example.org",
        "--password-stdin",
        env=app_env,
        stdin="carols-password\n",
    )
    listed = _run("list-users", env=app_env)
    assert listed.returncode == 0, listed.stderr
    assert "carol\tcarol@example.org\tactive\tuser" in listed.stdout
    assert _run("deactivate-user", "carol", env=app_env).returncode == 0
    assert "carol\tcarol@example.org\tinactive\tuser" in _run("list-users", env=app_env).stdout
    missing = _run("deactivate-user", "nobody", env=app_env)
    assert (missing.returncode, missing.stderr) == (1, "no user nobody\n")


def test_a_mode_refuses_to_start_without_its_settings() -> None:
    result = _run(
        "webui", env={"DATABASE_URL": "", "JWT_SECRET_KEY": "", "REDIS_URL": "", "INTERNAL_API_KEY": ""}
    )
    assert result.returncode == 1
    assert "JWT_SECRET_KEY: required by webui but not set" in result.stderr
