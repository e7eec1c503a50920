"""semantik-backup, the host side of backup.yml and restore.yml, against the real servers.

PostgreSQL and Redis are the test setup's; vecpipe is the real one with its embedded store. The
playbooks around the tool are proven in the lab (molecule/default, tests/test_backup.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.servers import Postgres, Redis

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
    tool.restore_redis(rdb, data, aof=True)
    server = Redis(data, password=redis_server.password, appendonly=True).start()
    try:
        port = server.port
        assert tool.redis_cli("127.0.0.1", port, "GET", "backup:key") == "kept"
        assert tool.redis_cli("127.0.0.1", port, "LLEN", "backup:queue") == "3"
        tool.redis_cli("127.0.0.1", port, "SET", "after", "restore")  # the AOF goes on from there
    finally:
        server.stop()
    assert (data / "appendonlydir/appendonly.aof.1.incr.aof").read_bytes().count(b"after") == 1


TEXTS = [
    "one bee finds the flowers",
    "two lighthouses guard the coast",
    "three glaciers flow downhill",
    "set work_mem for each sort",
    "pg_stat_activity lists every backend",
    "tides follow the moon",
]


def _top5(api: httpx.Client, query: str, mode: str) -> list[tuple[str, float]]:
    body = {"collection": "backup_a", "query": query, "k": 5, "search_mode": mode}
    return [
        (hit["doc_id"], round(hit["score"], 6)) for hit in api.post("/search", json=body).json()["results"]
    ]


def test_vectors_snapshot_through_vecpipe_and_restore_exactly(
    vecpipe_server: str, vecpipe_root: Path, app_env: dict[str, str], tmp_path: Path, monkeypatch
):
    from semantik.shared import sparse

    monkeypatch.setenv("INTERNAL_API_KEY", app_env["INTERNAL_API_KEY"])
    # The real model on a busy machine can take more than httpx's default 5 s for an embed.
    api = httpx.Client(
        base_url=vecpipe_server, headers={"X-Internal-Api-Key": app_env["INTERNAL_API_KEY"]}, timeout=60
    )
    for name in ("backup_a", "backup_gone"):
        api.delete(f"/collections/{name}")
    # With a sparse index, so that the round trip covers hybrid search too.
    assert api.post("/collections", json={"name": "backup_a", "sparse_index": True}).status_code == 201
    vectors = api.post("/embed", json={"texts": TEXTS}).json()["embeddings"]
    points = [
        {
            "id": i + 1,
            "vector": vector,
            "sparse_vector": encoded,
            "payload": {"doc_id": f"d{i}", "chunk_id": f"c{i}", "content": text},
        }
        for i, (text, vector, encoded) in enumerate(
            zip(TEXTS, vectors, sparse.encode_documents(TEXTS), strict=True)
        )
    ]
    assert api.post("/upsert", json={"collection_name": "backup_a", "points": points}).status_code == 200
    queries = [("work_mem for sorting", "hybrid"), ("pg_stat_activity", "hybrid"), ("the moon", "dense")]
    before = [_top5(api, query, mode) for query, mode in queries]
    assert all(len(top) == 5 for top in before)
    snapshots = vecpipe_root / "qdrant/snapshots"

    tool.backup_vectors(tmp_path, vecpipe_server, snapshots, venv=Path(sys.executable).parents[1])

    info = json.loads((tmp_path / "vectors/info.json").read_text())
    entry = next(item for item in info["collections"] if item["name"] == "backup_a")
    assert entry["points"] == len(TEXTS)
    assert info["application_version"]
    assert (tmp_path / "vectors/backup_a" / entry["snapshot"]).is_file()
    assert not (snapshots / "backup_a" / entry["snapshot"]).exists()  # moved into the backup

    # Lose one collection's points, gain one the backup never had: the restore undoes both.
    api.delete("/collections/backup_a")
    api.post("/collections", json={"name": "backup_gone"})
    tool.restore_vectors(tmp_path, vecpipe_server, snapshots)

    names = api.get("/collections").json()["collections"]
    assert "backup_a" in names and "backup_gone" not in names
    assert api.get("/collections/backup_a/count").json()["count"] == len(TEXTS)
    assert api.get("/collections/backup_a").json()["sparse_vectors"] == ["bm25"]
    assert [_top5(api, query, mode) for query, mode in queries] == before  # the same top 5, hybrid too
    assert not list((snapshots / "backup_a").glob("*.snapshot"))  # the copies are cleaned up


def test_wipe_leaves_an_empty_database_redis_and_store(
    pg_env: Postgres, vecpipe_server: str, app_env: dict[str, str], tmp_path: Path, monkeypatch, request
):
    pg_env.create_database("wipe_me")
    psql(pg_env, "wipe_me", "CREATE TABLE documents (id int PRIMARY KEY)")
    redis_server = Redis(tmp_path, appendonly=True).start()  # not the tests' broker; as deployed
    request.addfinalizer(redis_server.stop)
    monkeypatch.setenv("REDISCLI_AUTH", redis_server.password)
    tool.redis_cli("127.0.0.1", redis_server.port, "SET", "wipe:key", "gone")
    tool.redis_cli("127.0.0.1", redis_server.port, "SAVE")  # in the RDB and in the AOF
    monkeypatch.setenv("INTERNAL_API_KEY", app_env["INTERNAL_API_KEY"])
    api = httpx.Client(base_url=vecpipe_server, headers={"X-Internal-Api-Key": app_env["INTERNAL_API_KEY"]})
    for name in ("wipe_a", "wipe_b"):
        api.post("/collections", json={"name": name})

    assert tool.main(["wipe-postgres", "--database", "wipe_me", "--owner", "semantik", "--run-as", ""]) == 0
    redis_server.stop()
    assert (tmp_path / "dump.rdb").is_file() and (tmp_path / "appendonlydir").is_dir()
    assert tool.main(["wipe-redis", "--redis-dir", str(tmp_path)]) == 0
    redis_server.start()
    assert set(tool.wipe_vectors(vecpipe_server)) >= {"wipe_a", "wipe_b"}

    tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    assert psql(pg_env, "wipe_me", tables) == "0"  # there, and empty
    assert tool.redis_cli("127.0.0.1", redis_server.port, "DBSIZE") == "0"
    assert api.get("/collections").json()["collections"] == []
    assert api.post("/collections", json={"name": "wipe_a"}).status_code == 201  # the store still works


def fake_partial(root: Path, name: str) -> Path:
    partial = root / f"{name}.partial"
    (partial / "postgres").mkdir(parents=True)
    (partial / "postgres/semantik.dump").write_bytes(b"PGDMP" + bytes(range(256)))
    (partial / "postgres/info.json").write_text(
        json.dumps({"database": "semantik", "alembic_revision": "r1", "rows": {"documents": 4}})
    )
    (partial / "vectors/c1").mkdir(parents=True)
    (partial / "vectors/c1/c1-x.snapshot").write_bytes(b"tar" * 100)
    (partial / "vectors/c1/c1-x.snapshot.checksum").write_text("0" * 64)
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


# --- Privacy: modes, staging names, placing files as root, checks where a copy lands ----------------

NAME = "20261129T010000Z"
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
NOBODY = 65534


def modes(top: Path) -> dict[str, str]:
    """Every path under top (and top) -> its mode, octal, without following links."""
    found = {".": oct(stat.S_IMODE(top.lstat().st_mode))}
    for path in top.rglob("*"):
        found[str(path.relative_to(top))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def not_private(top: Path) -> dict[str, str]:
    """What under top is not a 0700 directory or a 0600 regular file."""
    wrong = {}
    for relative, mode in modes(top).items():
        info = (top / relative).lstat()
        kind = "dir" if stat.S_ISDIR(info.st_mode) else "file" if stat.S_ISREG(info.st_mode) else "other"
        if (kind, mode) not in {("dir", "0o700"), ("file", "0o600")}:
            wrong[relative] = f"{kind} {mode}"
    return wrong


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def loose_umask():
    """The umask most shells have: what the tool writes must be private without help from it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_every_file_and_directory_of_a_backup_is_private(
    pg_env: Postgres, redis_server: Redis, tmp_path: Path, monkeypatch, loose_umask
):
    monkeypatch.setenv("REDISCLI_AUTH", redis_server.password)
    pg_env.create_database("backup_private")
    psql(pg_env, "backup_private", "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    psql(pg_env, "backup_private", "INSERT INTO alembic_version VALUES ('r1')")
    config = tmp_path / "etc/semantik.env"
    config.parent.mkdir()
    config.write_text("WEBUI_PORT=8080\n")
    root = tmp_path / "backups/dev"
    root.mkdir(parents=True)
    partial = root / f"{NAME}.partial"

    # What the steps write on a host (the part Ansible fetches) is private already.
    tool.backup_postgres(partial, "backup_private", user="")
    tool.backup_redis(partial, redis_server.root / "dump.rdb", "127.0.0.1", redis_server.port)
    tool.backup_config(partial, "host1", [str(config)])
    assert {"postgres/backup_private.dump", "redis/dump.rdb", "config/host1"} <= set(modes(partial))
    assert not_private(partial) == {}

    # A part as Ansible's fetch leaves it on the controller (the controller's umask): the seal fixes it.
    (partial / "vectors/c1").mkdir(parents=True, mode=0o755)
    (partial / "vectors/c1/c1-x.snapshot").write_bytes(b"tar")
    (partial / "vectors/info.json").write_text(
        json.dumps({"collections": [{"name": "c1", "points": 1, "snapshot": "c1-x.snapshot"}]})
    )
    root.chmod(0o755)
    backup = tool.seal(partial, keep=7, environment="dev")

    assert (backup / "manifest.json").is_file() and "vectors/c1/c1-x.snapshot" in modes(root / NAME)
    assert not_private(root) == {}


def test_the_tool_runs_with_umask_077_and_gives_the_callers_back(tmp_path: Path, monkeypatch, loose_umask):
    seen = []

    def verify(backup, parts=None):
        seen.append(os.umask(0o077))
        return []

    monkeypatch.setattr(tool, "verify", verify)
    tool.seal(fake_partial(tmp_path, NAME), keep=7, environment="dev")
    assert tool.main(["verify", str(tmp_path), NAME]) == 0
    assert seen == [0o077] and os.umask(0o022) == 0o022


def test_a_link_in_a_backup_is_refused_at_the_seal(tmp_path: Path):
    secret = tmp_path / "shadow"
    secret.write_text("root:secret")
    partial = fake_partial(tmp_path / "backups", NAME)
    (partial / "redis/dump.rdb").unlink()
    (partial / "redis/dump.rdb").symlink_to(secret)

    with pytest.raises(tool.BackupError, match=r"redis/dump.rdb: not a regular file"):
        tool.seal(partial, keep=7, environment="dev")
    assert not (partial / "manifest.json").exists()


def run_role_staging(tmp_path: Path, run: int) -> dict[str, str]:
    """The role's checks (the controller's staging directory for a backup host) and install.yml
    (a step's scratch directory on a host), run by ansible-playbook on this machine."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        f"backuphost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    playbook = tmp_path / "staging.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - {ansible.builtin.include_role: {name: backup}}\n"
        "    - {ansible.builtin.include_role: {name: backup, tasks_from: install}}\n"
        "    - ansible.builtin.copy:\n"
        "        content: \"{{ {'local': __backup_local, 'work': __backup_scratch.path} | to_json }}\"\n"
        f"        dest: {tmp_path}/paths-{run}.json\n"
    )
    for name in ("ctl-tmp", "bin"):
        (tmp_path / name).mkdir(exist_ok=True)
    extra = {
        "backup_target_host": "backuphost",
        "backup_root": "/var/backups/semantik-test",
        "backup_redis_password": "x",
        "backup_tool": str(tmp_path / "bin/semantik-backup"),
        "backup_work_dir": str(tmp_path / "work"),
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)]
        + ["-e", json.dumps(extra)],
        cwd=TOOL_PATH.parents[3],
        env={**os.environ, "TMPDIR": str(tmp_path / "ctl-tmp"), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return json.loads((tmp_path / f"paths-{run}.json").read_text())


@AS_ROOT
@pytest.mark.integration  # runs the role's staging tasks with ansible-playbook
def test_staging_directories_have_private_unpredictable_names(tmp_path: Path):
    first, second = (run_role_staging(tmp_path, run) for run in (1, 2))

    for kind, parent in (("local", tmp_path / "ctl-tmp"), ("work", tmp_path / "work")):
        # The controller's: <random>/<stamp>.partial; a host's scratch directory: <stamp>.<random>.
        made = [Path(paths[kind]) for paths in (first, second)]
        staging = [path.parent if kind == "local" else path for path in made]
        assert staging[0] != staging[1], kind
        for path in staging:
            assert path.parent == parent and path.is_dir(), kind
            assert oct(stat.S_IMODE(path.stat().st_mode)) == "0o700", kind
            # Not the old fixed names: TMPDIR/<stamp>.partial, backup_work_dir/<stamp>.
            assert not tool.NAME_PATTERN.match(path.name.removesuffix(".partial")), path
    assert oct(stat.S_IMODE((tmp_path / "work").stat().st_mode)) == "0o700"


def test_restore_redis_refuses_to_write_through_a_link_naming_it(tmp_path: Path):
    rdb = tmp_path / "backup.rdb"
    rdb.write_bytes(b"REDIS0011 restored")
    data = tmp_path / "redis"
    data.mkdir()
    (data / "dump.rdb").write_bytes(b"REDIS0011 current")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_text("root's file")

    # The AOF directory, a link to another directory (the restore would empty and fill it).
    (data / "appendonlydir").symlink_to(elsewhere)
    with pytest.raises(tool.BackupError, match=f"{data}/appendonlydir is a symbolic link"):
        tool.restore_redis(rdb, data, aof=True)
    assert (data / "dump.rdb").read_bytes() == b"REDIS0011 current"  # nothing replaced
    assert sorted(os.listdir(data)) == ["appendonlydir", "dump.rdb"]
    assert os.listdir(elsewhere) == ["keep"]

    # dump.rdb, a link to a file root would overwrite.
    (data / "appendonlydir").unlink()
    (data / "dump.rdb").unlink()
    (data / "dump.rdb").symlink_to(elsewhere / "keep")
    assert tool.main(["restore-redis", str(rdb), "--redis-dir", str(data), "--aof"]) == 1
    assert (elsewhere / "keep").read_text() == "root's file"
    assert sorted(os.listdir(data)) == ["dump.rdb"]

    # The directory itself reached through a link, and a link swapped in after the check.
    link = tmp_path / "redis-link"
    link.symlink_to(data)
    with pytest.raises(tool.BackupError, match=f"{link} is a symbolic link"):
        tool.restore_redis(rdb, link, aof=False)
    with pytest.raises(tool.BackupError, match=f"{link} is a symbolic link or not a directory"):
        tool.open_dir(link)


@AS_ROOT
def test_restored_redis_files_belong_to_the_owner_of_redis_directory(tmp_path: Path):
    rdb = tmp_path / "backup.rdb"
    rdb.write_bytes(b"REDIS0011 restored")
    data = tmp_path / "redis"
    (data / "appendonlydir").mkdir(parents=True)
    (data / "appendonlydir/appendonly.aof.3.incr.aof").write_bytes(b"old")
    os.chown(data, NOBODY, NOBODY)

    tool.restore_redis(rdb, data, aof=True)

    placed = [data / "dump.rdb", data / "appendonlydir", *(data / "appendonlydir").iterdir()]
    assert sorted(path.name for path in placed[2:]) == [
        "appendonly.aof.1.base.rdb",
        "appendonly.aof.1.incr.aof",
        "appendonly.aof.manifest",
    ]
    assert {(path.lstat().st_uid, path.lstat().st_gid) for path in placed} == {(NOBODY, NOBODY)}
    assert (data / "dump.rdb").read_bytes() == rdb.read_bytes()
    assert sorted(os.listdir(data)) == ["appendonlydir", "dump.rdb"]  # no temporary file left


def test_snapshots_are_never_placed_through_a_link(tmp_path: Path, capsys):
    backup = tool.seal(fake_partial(tmp_path / "backups", NAME), keep=7, environment="dev")
    store = tmp_path / "store"
    store.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    (store / "snapshots").symlink_to(elsewhere)
    assert tool.main(["place-snapshots", str(backup), "--snapshots-dir", str(store / "snapshots")]) == 1
    assert f"{store}/snapshots is a symbolic link" in capsys.readouterr().err
    assert os.listdir(elsewhere) == []

    (store / "snapshots").unlink()
    (store / "snapshots").mkdir()
    (store / "snapshots/c1").symlink_to(elsewhere)
    with pytest.raises(tool.BackupError, match=f"{store}/snapshots/c1 is a symbolic link"):
        tool.place_snapshots(backup, store / "snapshots")
    assert os.listdir(elsewhere) == []


@AS_ROOT
def test_snapshots_are_placed_as_the_owner_of_the_snapshot_directory(tmp_path: Path):
    backup = tool.seal(fake_partial(tmp_path / "backups", NAME), keep=7, environment="dev")
    snapshots = tmp_path / "store/snapshots"
    snapshots.mkdir(parents=True)
    os.chown(snapshots, NOBODY, NOBODY)

    placed = tool.place_snapshots(backup, snapshots)

    assert sorted(path.name for path in placed) == ["c1-x.snapshot", "c1-x.snapshot.checksum"]
    for path in [snapshots / "c1", *placed]:
        assert (path.lstat().st_uid, path.lstat().st_gid) == (NOBODY, NOBODY), path
    assert (snapshots / "c1/c1-x.snapshot").read_bytes() == (backup / "vectors/c1/c1-x.snapshot").read_bytes()

    # A wiped store lost its snapshot directory: made again, owned like the store's directory.
    shutil.rmtree(snapshots)
    os.chown(snapshots.parent, NOBODY + 1, NOBODY + 1)
    tool.place_snapshots(backup, snapshots)
    assert {(path.lstat().st_uid, path.lstat().st_gid) for path in [snapshots, *snapshots.rglob("*")]} == {
        (NOBODY + 1, NOBODY + 1)
    }


def test_a_copy_changed_in_transfer_is_caught_where_it_lands(tmp_path: Path, capsys):
    # Sealed on the controller, then copied to a backup host; one byte changes on the way.
    sealed = tool.seal(fake_partial(tmp_path / "controller", NAME), keep=1, environment="dev")
    landed = tmp_path / "backup-host" / f"{NAME}.partial"
    shutil.copytree(sealed, landed)
    flip(landed / "redis/dump.rdb")

    assert tool.main(["accept", str(landed), "--keep=7"]) == 1
    assert "redis/dump.rdb: sha256 differs from the manifest" in capsys.readouterr().err
    assert landed.is_dir() and not (landed.parent / NAME).exists()  # never named, never restored

    shutil.rmtree(landed)
    shutil.copytree(sealed, landed)
    assert tool.main(["accept", str(landed), "--keep=7"]) == 0
    assert tool.find(landed.parent, "latest").name == NAME and not_private(landed.parent) == {}

    # A restore step receives its part and the manifest on its host, and checks them there.
    received = tmp_path / "scratch" / NAME
    (received / "redis").mkdir(parents=True)
    for relative in ("manifest.json", "redis/dump.rdb"):
        shutil.copyfile(sealed / relative, received / relative)
    assert tool.main(["verify", str(received.parent), NAME, "--part=redis"]) == 0
    flip(received / "redis/dump.rdb")
    assert tool.main(["verify", str(received.parent), NAME, "--part=redis"]) == 1
    assert "redis/dump.rdb: sha256 differs from the manifest" in capsys.readouterr().err
    # A part the manifest does not have is no part at all.
    assert tool.verify(received, ["redix"]) == ["redix: no such part in the manifest"]


def test_a_backup_is_recorded_for_prometheus_readable_by_the_exporter(tmp_path: Path, capsys) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    textfiles = tmp_path / "node-exporter"
    textfiles.mkdir()
    before = time.time()
    assert tool.main(["record", "20261129T010000Z", str(textfiles)]) == 0  # under the tool's umask 077
    written = textfiles / "semantik_backup.prom"
    assert capsys.readouterr().out.strip() == str(written)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    (family,) = text_string_to_metric_families(written.read_text())
    (sample,) = family.samples
    assert (sample.name, sample.labels) == (
        "semantik_backup_last_success_timestamp_seconds",
        {"backup": "20261129T010000Z"},
    )
    assert before - 1 <= sample.value <= time.time() + 1
    assert [path.name for path in textfiles.iterdir()] == ["semantik_backup.prom"]  # no partial left
