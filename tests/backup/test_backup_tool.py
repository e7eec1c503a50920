"""semantik-backup, the host side of backup.yml and restore.yml, against the real servers.

PostgreSQL and Redis are the test setup's; vecpipe is the real one with its embedded store. The
playbooks around the tool are proven in the lab (molecule/backup).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.servers import Postgres, Redis, free_port, stop_process, wait_for_port

TOOL_PATH = Path(__file__).parents[2] / "roles/backup/files/semantik_backup.py"
spec = importlib.util.spec_from_file_location("semantik_backup", TOOL_PATH)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def psql(postgres: Postgres, database: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", "-X", "-At", postgres.url(database), "-c", sql], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def pg_env(servers: tuple[Postgres, Redis], monkeypatch: pytest.MonkeyPatch) -> Postgres:
    """libpq's environment for the tool's pg_dump, psql and pg_restore (the test superuser)."""
    postgres = servers[0]
    for name, value in {"PGHOST": "127.0.0.1", "PGPORT": str(postgres.port), "PGUSER": "semantik"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    return postgres


def test_postgres_dump_is_checked_counted_and_restores(pg_env: Postgres, tmp_path: Path):
    pg_env.create_database("backup_source")
    psql(pg_env, "backup_source", "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    psql(pg_env, "backup_source", "INSERT INTO alembic_version VALUES ('202611291804')")
    psql(pg_env, "backup_source", "CREATE TABLE documents (id int PRIMARY KEY, body text)")
    psql(pg_env, "backup_source", "INSERT INTO documents SELECT g, 'text' FROM generate_series(1, 25) g")

    tool.backup_postgres(tmp_path, "backup_source", user="")

    info = json.loads((tmp_path / "postgres/info.json").read_text())
    assert info == {
        "database": "backup_source",
        "alembic_revision": "202611291804",
        "rows": {"alembic_version": 1, "documents": 25},
    }
    psql(pg_env, "backup_source", "DELETE FROM documents WHERE id > 3; INSERT INTO documents VALUES (99, '')")
    tool.restore_postgres(tmp_path / "postgres/backup_source.dump", "backup_source", "semantik", user="")
    assert psql(pg_env, "backup_source", "SELECT count(*), max(id) FROM documents") == "25|25"


def test_a_dump_of_a_missing_database_fails_naming_it(pg_env: Postgres, tmp_path: Path):
    with pytest.raises(tool.BackupError, match="pg_dump failed.*no_such_db"):
        tool.backup_postgres(tmp_path, "no_such_db", user="")


def test_redis_rdb_comes_from_a_new_bgsave_and_restores_into_an_aof_server(
    redis_server: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("REDISCLI_AUTH", redis_server.password)
    before = int(tool.persistence("127.0.0.1", redis_server.port)["rdb_last_save_time"])
    tool.redis_cli("127.0.0.1", redis_server.port, "SET", "backup:key", "kept")
    tool.redis_cli("127.0.0.1", redis_server.port, "RPUSH", "backup:queue", "a", "b", "c")

    tool.backup_redis(tmp_path, redis_server.root / "dump.rdb", "127.0.0.1", redis_server.port)

    assert int(tool.persistence("127.0.0.1", redis_server.port)["rdb_last_save_time"]) > before
    rdb = tmp_path / "redis/dump.rdb"
    assert rdb.read_bytes().startswith(b"REDIS")

    # A server like the deployed one (appendonly yes) loads the AOF and ignores dump.rdb: the
    # restore makes the RDB the AOF's base.
    data = tmp_path / "restored"
    data.mkdir()
    tool.restore_redis(rdb, data, aof=True, owner="")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--save", ""]
        + ["--appendonly", "yes", "--requirepass", redis_server.password],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        assert tool.redis_cli("127.0.0.1", port, "GET", "backup:key") == "kept"
        assert tool.redis_cli("127.0.0.1", port, "LLEN", "backup:queue") == "3"
        tool.redis_cli("127.0.0.1", port, "SET", "after", "restore")  # the AOF goes on from there
    finally:
        stop_process(server)
    assert (data / "appendonlydir/appendonly.aof.1.incr.aof").read_bytes().count(b"after") == 1


def test_vectors_snapshot_through_vecpipe_and_restore_exactly(
    vecpipe_server: str, vecpipe_root: Path, app_env: dict[str, str], tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("INTERNAL_API_KEY", app_env["INTERNAL_API_KEY"])
    api = httpx.Client(base_url=vecpipe_server, headers={"X-Internal-Api-Key": app_env["INTERNAL_API_KEY"]})
    for name in ("backup_a", "backup_gone"):
        api.delete(f"/collections/{name}")
    assert api.post("/collections", json={"name": "backup_a"}).status_code == 201
    vectors = api.post("/embed", json={"texts": ["one", "two", "three"]}).json()["embeddings"]
    points = [
        {"id": i + 1, "vector": vector, "payload": {"doc_id": f"d{i}", "chunk_id": f"c{i}", "content": t}}
        for i, (t, vector) in enumerate(zip(["one", "two", "three"], vectors, strict=True))
    ]
    assert api.post("/upsert", json={"collection_name": "backup_a", "points": points}).status_code == 200
    snapshots = vecpipe_root / "qdrant/snapshots"

    tool.backup_vectors(tmp_path, vecpipe_server, snapshots, venv=Path(sys.executable).parents[1])

    info = json.loads((tmp_path / "vectors/info.json").read_text())
    entry = next(item for item in info["collections"] if item["name"] == "backup_a")
    assert entry["points"] == 3
    assert info["application_version"]
    assert (tmp_path / "vectors/backup_a" / entry["snapshot"]).is_file()
    assert not (snapshots / "backup_a" / entry["snapshot"]).exists()  # moved into the backup

    # Lose one collection's points, gain one the backup never had: the restore undoes both.
    api.delete("/collections/backup_a")
    api.post("/collections", json={"name": "backup_gone"})
    tool.restore_vectors(tmp_path, vecpipe_server, snapshots)

    names = api.get("/collections").json()["collections"]
    assert "backup_a" in names and "backup_gone" not in names
    assert api.get("/collections/backup_a/count").json()["count"] == 3
    assert not list((snapshots / "backup_a").glob("*.snapshot"))  # the copies are cleaned up


def fake_partial(root: Path, name: str) -> Path:
    partial = root / f"{name}.partial"
    (partial / "postgres").mkdir(parents=True)
    (partial / "postgres/semantik.dump").write_bytes(b"PGDMP" + bytes(range(256)))
    (partial / "postgres/info.json").write_text(
        json.dumps({"database": "semantik", "alembic_revision": "r1", "rows": {"documents": 4}})
    )
    (partial / "vectors/c1").mkdir(parents=True)
    (partial / "vectors/c1/c1-x.snapshot").write_bytes(b"tar" * 100)
    (partial / "vectors/info.json").write_text(
        json.dumps({"collections": [{"name": "c1", "points": 12, "snapshot": "c1-x.snapshot"}]})
    )
    (partial / "redis").mkdir()
    (partial / "redis/dump.rdb").write_bytes(b"REDIS0010")
    return partial


def test_seal_writes_the_manifest_last_and_verify_names_a_changed_byte(tmp_path: Path):
    backup = tool.seal(fake_partial(tmp_path, "20261129T010000Z"), keep=7, environment="dev")

    assert backup.name == "20261129T010000Z"
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["alembic_revision"] == "r1" and manifest["vectors"] == 12
    assert {entry["path"] for entry in manifest["files"]} >= {"postgres/semantik.dump", "redis/dump.rdb"}
    assert tool.verify(backup) == []

    dump = backup / "postgres/semantik.dump"
    data = bytearray(dump.read_bytes())
    data[100] ^= 0x01
    dump.write_bytes(bytes(data))
    assert tool.verify(backup) == [
        "postgres/semantik.dump: sha256 differs from the manifest (the file is corrupted)"
    ]

    (backup / "redis/dump.rdb").unlink()
    (backup / "stray.txt").write_text("x")
    problems = tool.verify(backup)
    assert "redis/dump.rdb: missing" in problems and "stray.txt: not in the manifest" in problems


def test_verify_refuses_a_backup_without_its_manifest_and_the_cli_says_which_file(tmp_path: Path, capsys):
    backup = tool.seal(fake_partial(tmp_path, "20261129T010000Z"), keep=7, environment="dev")
    (backup / "vectors/c1/c1-x.snapshot").write_bytes(b"tar" * 99 + b"taR")

    assert tool.main(["verify", str(tmp_path)]) == 1
    assert "vectors/c1/c1-x.snapshot: sha256 differs" in capsys.readouterr().err

    (backup / "manifest.json").unlink()
    assert tool.verify(backup) == ["20261129T010000Z: no manifest.json (an incomplete backup)"]


def test_an_unsealable_backup_keeps_its_partial_name(tmp_path: Path):
    partial = fake_partial(tmp_path, "20261129T010000Z")
    for path in sorted((partial / "redis").iterdir()):
        path.unlink()
    (partial / "redis").rmdir()
    with pytest.raises(tool.BackupError, match="no redis part"):
        tool.seal(partial, keep=7, environment="dev")
    assert partial.is_dir() and not (partial / "manifest.json").exists()
    assert not (tmp_path / "20261129T010000Z").exists()


def test_retention_keeps_the_newest_sealed_backups_and_latest_ignores_partials(tmp_path: Path):
    for hour in range(1, 5):
        tool.seal(fake_partial(tmp_path, f"20261129T0{hour}0000Z"), keep=2, environment="dev")
    in_progress = fake_partial(tmp_path, "20261129T050000Z")
    old_failure = fake_partial(tmp_path, "20261128T230000Z")
    os.utime(old_failure, (1, 1))

    tool.prune(tmp_path, keep=2)

    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "20261129T030000Z",
        "20261129T040000Z",
        in_progress.name,
    ]
    assert tool.find(tmp_path, "latest").name == "20261129T040000Z"
    with pytest.raises(tool.BackupError, match="no backup 20261129T010000Z"):
        tool.find(tmp_path, "20261129T010000Z")


def test_config_is_copied_without_secrets(tmp_path: Path):
    source = tmp_path / "etc"
    source.mkdir()
    (source / "semantik.env").write_text(
        "DATABASE_URL='postgresql://semantik:pg-pass-123@db:5432/semantik'\n"
        "JWT_SECRET_KEY='jwt-secret-value'\nINTERNAL_API_KEY=abc123key\nFLOWER_BASIC_AUTH='admin:pw'\n"
        "WEBUI_PORT=8080\n"
    )
    redis_conf = f"port 6379\nuser default on #{'a' * 64} ~* +@all\nrequirepass hunter2\n"
    (source / "redis.conf").write_text(redis_conf)

    (source / "config.yaml").write_text("service:\n  api_key: qdrant-key-1\n  http_port: 6333\n")

    tool.backup_config(
        tmp_path / "out", "host1", [f"{source}/semantik.env", f"{source}/*.conf", f"{source}/*.yaml"]
    )

    copied = tmp_path / "out/config/host1" / source.relative_to("/")
    text = "".join((copied / name).read_text() for name in ("semantik.env", "redis.conf", "config.yaml"))
    for secret in (
        "pg-pass-123",
        "jwt-secret-value",
        "abc123key",
        "admin:pw",
        "a" * 64,
        "hunter2",
        "qdrant-key-1",
    ):
        assert secret not in text
    assert (
        "http_port: 6333" in text
        and "WEBUI_PORT=8080" in text
        and "postgresql://semantik:<redacted>@db:5432/semantik" in text
    )
    assert "user default on #<redacted> ~* +@all" in text


def test_vecpipe_refusal_is_a_clear_error(vecpipe_server: str, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("INTERNAL_API_KEY", "wrong-key")
    with pytest.raises(tool.BackupError, match="vecpipe GET /collections: 401"):
        tool.backup_vectors(tmp_path, vecpipe_server, None, None)
