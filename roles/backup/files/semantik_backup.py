#!/usr/bin/env python3
"""semantik-backup: the steps of a Semantik backup or restore that run on one host.

backup.yml and restore.yml run each step on the host of its tier; the scheduled backup (a systemd
timer on a host that holds every stateful tier) runs them all there with `all`. Stdlib only: it runs
with the host's python3, beside the application's venv. Secrets come from the environment
(REDISCLI_AUTH, INTERNAL_API_KEY, PG*), never from the command line.

A backup is a directory ROOT/NAME:
  postgres/<database>.dump     custom-format dump, checked with pg_restore --list
  vectors/<collection>/<file>  one snapshot per collection taken through vecpipe (+ .checksum)
  redis/dump.rdb               the RDB of a completed BGSAVE, checked with redis-check-rdb
  config/<host>/<path>         the rendered configuration, secrets replaced by <redacted>
  manifest.json                written last: each file's size and sha256, the application version,
                               the Alembic revision, row counts, collections and vector counts
While written it is ROOT/NAME.partial; a backup without its manifest is never restored.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

MANIFEST = "manifest.json"
PARTIAL = ".partial"
INFO = "info.json"
FORMAT = 1
REDACTED = "<redacted>"
NAME_PATTERN = re.compile(r"^\d{8}T\d{6}Z$")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|BASIC_AUTH|REDISCLI_AUTH)", re.I)


class BackupError(Exception):
    pass


def run(
    argv: list[str], *, user: str = "", stdin: str | Path | None = None, stdout: Path | None = None
) -> str:
    """Run a command (as `user` when given, through runuser); its stderr becomes the error.

    Files given as stdin/stdout are opened here, by this process: `user` needs no access to them.
    """
    command = (["runuser", "-u", user, "--"] if user else []) + argv
    with (
        stdin.open("rb") if isinstance(stdin, Path) else open(os.devnull, "rb") as source,
        stdout.open("wb") if stdout else open(os.devnull, "wb") as sink,
    ):
        done = subprocess.run(
            command,
            input=stdin.encode() if isinstance(stdin, str) else None,
            stdin=source if not isinstance(stdin, str) else None,
            stdout=sink if stdout else subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip()[-2000:]
        raise BackupError(f"{argv[0]} failed ({done.returncode}): {reason}")
    return "" if stdout else done.stdout.decode()


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    temporary.rename(path)


# As vecpipe's own (store/archive.py): this script runs with the host's python3, outside the venv.
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- PostgreSQL ---------------------------------------------------------------------------------

ROW_COUNTS = """SELECT format('SELECT %L, count(*) FROM %I.%I', table_name, table_schema, table_name)
FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
ORDER BY table_name \\gexec"""


def backup_postgres(out: Path, database: str, user: str) -> None:
    target = out / "postgres"
    target.mkdir(parents=True, exist_ok=True)
    dump = target / f"{database}.dump"
    run(["pg_dump", "--format=custom", f"--dbname={database}"], user=user, stdout=dump)
    listing = run(["pg_restore", "--list"], user=user, stdin=dump)
    if "TABLE DATA" not in listing:
        raise BackupError(f"{dump.name}: pg_restore --list shows no table data")
    psql = ["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--field-separator=\t"]
    psql.append(f"--dbname={database}")
    rows = dict(
        line.split("\t") for line in run([*psql, "--file=-"], user=user, stdin=ROW_COUNTS).splitlines()
    )
    revision = run([*psql, "--command=SELECT version_num FROM alembic_version"], user=user).strip()
    write_json(
        target / INFO,
        {"database": database, "alembic_revision": revision, "rows": {k: int(v) for k, v in rows.items()}},
    )


def restore_postgres(dump: Path, database: str, owner: str, user: str) -> None:
    """Replace the database with the dump's contents, every object owned by `owner`."""
    run(["dropdb", "--if-exists", "--force", database], user=user)
    run(["createdb", f"--owner={owner}", database], user=user)
    run(
        ["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", f"--role={owner}"]
        + [f"--dbname={database}"],
        user=user,
        stdin=dump,
    )


# --- Redis --------------------------------------------------------------------------------------


def redis_cli(host: str, port: int, *command: str) -> str:
    """redis-cli with the password in REDISCLI_AUTH (never on the command line)."""
    return run(["redis-cli", "-h", host, "-p", str(port), "--no-auth-warning", *command]).strip()


def persistence(host: str, port: int) -> dict[str, str]:
    lines = redis_cli(host, port, "INFO", "persistence").splitlines()
    return dict(line.strip().split(":", 1) for line in lines if ":" in line)


def backup_redis(out: Path, rdb: Path, host: str, port: int, timeout: float = 600) -> None:
    """BGSAVE, wait until that save (not an earlier one) has completed, then copy the RDB."""
    before = int(persistence(host, port)["rdb_last_save_time"])
    while int(time.time()) <= before:  # a save in this second would look like the old one
        time.sleep(0.1)
    deadline = time.monotonic() + timeout
    while "Background saving started" not in (reply := redis_cli(host, port, "BGSAVE")):
        if "in progress" not in reply or time.monotonic() > deadline:
            raise BackupError(f"redis BGSAVE: {reply}")
        time.sleep(0.5)
    while True:
        state = persistence(host, port)
        if state["rdb_bgsave_in_progress"] == "0" and int(state["rdb_last_save_time"]) > before:
            break
        if time.monotonic() > deadline:
            raise BackupError("redis BGSAVE did not finish in time")
        time.sleep(0.2)
    if state["rdb_last_bgsave_status"] != "ok":
        raise BackupError(f"redis BGSAVE failed: rdb_last_bgsave_status={state['rdb_last_bgsave_status']}")
    target = out / "redis" / "dump.rdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(rdb, target)
    if shutil.which("redis-check-rdb"):
        run(["redis-check-rdb", str(target)])


def restore_redis(rdb: Path, data_dir: Path, aof: bool, owner: str) -> None:
    """With Redis stopped: the RDB in place, and with AOF on, an AOF whose base is that RDB.

    With appendonly on, Redis loads the AOF and ignores dump.rdb; Redis 7's multi-part AOF takes an
    RDB-format base file, so the restored data becomes the base and the increment starts empty.
    """
    shutil.copyfile(rdb, data_dir / "dump.rdb")
    aof_dir = data_dir / "appendonlydir"
    shutil.rmtree(aof_dir, ignore_errors=True)
    if aof:
        aof_dir.mkdir()
        shutil.copyfile(rdb, aof_dir / "appendonly.aof.1.base.rdb")
        (aof_dir / "appendonly.aof.1.incr.aof").touch()
        (aof_dir / "appendonly.aof.manifest").write_text(
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        )
    for path in [data_dir / "dump.rdb", aof_dir, *aof_dir.glob("*")]:
        if owner and path.exists():
            shutil.chown(path, owner, owner)


# --- Vectors (through vecpipe) -------------------------------------------------------------------


def vecpipe(url: str, method: str, path: str, timeout: float = 600) -> dict:
    request = urllib.request.Request(
        url.rstrip("/") + path, method=method, headers={"X-Internal-Api-Key": os.environ["INTERNAL_API_KEY"]}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise BackupError(f"vecpipe {method} {path}: {error.code} {error.read()[:500]!r}") from error


def backup_vectors(out: Path, url: str, snapshots_dir: Path | None, venv: Path | None) -> None:
    """A snapshot of each collection; with `snapshots_dir` (the store is on this host) moved into
    the backup, else left in the store's snapshot directory for the caller to collect."""
    collections = []
    for name in vecpipe(url, "GET", "/collections")["collections"]:
        points = vecpipe(url, "GET", f"/collections/{name}/count")["count"]
        snapshot = vecpipe(url, "POST", f"/collections/{name}/snapshots")
        collections.append({"name": name, "points": points, "snapshot": snapshot["name"]})
        if snapshots_dir is not None:
            target = out / "vectors" / name
            target.mkdir(parents=True, exist_ok=True)
            for suffix in ("", ".checksum"):
                source = snapshots_dir / name / (snapshot["name"] + suffix)
                shutil.move(source, target / source.name)
    info = {"collections": collections}
    if venv is not None:
        info["application_version"] = run(
            [str(venv / "bin/python"), "-c", "import importlib.metadata as m; print(m.version('semantik'))"]
        ).strip()
    write_json(out / "vectors" / INFO, info)


def restore_vectors(backup: Path, url: str, snapshots_dir: Path | None) -> None:
    """Make the store hold exactly the backup's collections, then check each one's count.

    With `snapshots_dir`, the snapshot files are first copied from the backup into the store's
    snapshot directory (else the caller has put them there), and removed again afterwards.
    """
    wanted = json.loads((backup / "vectors" / INFO).read_text())["collections"]
    placed = []
    if snapshots_dir is not None:
        # Owned like the store (a wiped store may have lost its snapshot directory too).
        anchor = next(path for path in (snapshots_dir, *snapshots_dir.parents) if path.exists())
        owner = (anchor.owner(), anchor.group())
        for entry in wanted:
            target = snapshots_dir / entry["name"]
            target.mkdir(parents=True, exist_ok=True)
            for directory in (snapshots_dir, target):
                shutil.chown(directory, *owner)
            for suffix in ("", ".checksum"):
                source = backup / "vectors" / entry["name"] / (entry["snapshot"] + suffix)
                placed.append(Path(shutil.copy2(source, target / source.name)))
                shutil.chown(placed[-1], *owner)
    try:
        names = {entry["name"] for entry in wanted}
        for name in vecpipe(url, "GET", "/collections")["collections"]:
            if name not in names:
                vecpipe(url, "DELETE", f"/collections/{name}")
        for entry in wanted:
            vecpipe(url, "POST", f"/collections/{entry['name']}/snapshots/{entry['snapshot']}/restore")
            found = vecpipe(url, "GET", f"/collections/{entry['name']}/count")["count"]
            if found != entry["points"]:
                raise BackupError(
                    f"collection {entry['name']}: {found} points restored, the backup has {entry['points']}"
                )
    finally:
        for path in placed:
            path.unlink(missing_ok=True)


# --- Configuration ------------------------------------------------------------------------------


def redact(text: str) -> str:
    """Secret values out: NAME=value for secret names, passwords in URLs, Redis user passwords."""
    lines = []
    for line in text.splitlines():
        name, sep, _ = line.partition("=")
        if sep and SECRET_NAME.search(name) and not name.lstrip().startswith("#"):
            line = f"{name}={REDACTED}"
        line = re.sub(r"(://[^:/@\s]*:)[^@\s]+@", rf"\1{REDACTED}@", line)
        line = re.sub(r"(^\s*user\s.*?)\s[#>]\S+", rf"\1 #{REDACTED}", line)
        line = re.sub(r"^(\s*(requirepass|masterauth)\s+).*", rf"\1{REDACTED}", line)
        line = re.sub(
            r"^(\s*\w*(api_key|password|secret|token)\w*\s*:\s*)\S.*", rf"\1{REDACTED}", line, flags=re.I
        )
        lines.append(line)
    return "\n".join(lines) + "\n"


def backup_config(out: Path, host: str, patterns: list[str]) -> None:
    """Copy the files that match the (absolute, glob) patterns; a pattern may match nothing."""
    for path in sorted({Path(name) for pattern in patterns for name in glob.glob(pattern)}):
        if path.is_file():
            target = out / "config" / host / path.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(redact(path.read_text(errors="replace")))


# --- Seal, verify, retention ---------------------------------------------------------------------


def backups(root: Path) -> list[Path]:
    """The sealed backups under root, oldest first."""
    found = [path for path in root.iterdir() if NAME_PATTERN.match(path.name) and (path / MANIFEST).is_file()]
    return sorted(found, key=lambda path: path.name)


def seal(partial: Path, keep: int, environment: str) -> Path:
    """Write the manifest, give the backup its final name, then apply retention."""
    if partial.suffix != PARTIAL or not NAME_PATTERN.match(partial.stem):
        raise BackupError(f"{partial}: not a backup being written (ROOT/<YYYYmmddTHHMMSSZ>{PARTIAL})")
    infos = {path.parent.name: json.loads(path.read_text()) for path in partial.glob(f"*/{INFO}")}
    missing = {"postgres", "vectors", "redis"} - {path.name for path in partial.iterdir() if path.is_dir()}
    if missing:
        raise BackupError(f"{partial}: no {', '.join(sorted(missing))} part; not sealed")
    files = sorted(path for path in partial.rglob("*") if path.is_file())
    manifest = {
        "format": FORMAT,
        "name": partial.stem,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment,
        "application_version": infos.get("vectors", {}).get("application_version", "unknown"),
        "alembic_revision": infos["postgres"]["alembic_revision"],
        "database": {"name": infos["postgres"]["database"], "rows": infos["postgres"]["rows"]},
        "collections": infos["vectors"]["collections"],
        "vectors": sum(entry["points"] for entry in infos["vectors"]["collections"]),
        "files": [
            {"path": str(path.relative_to(partial)), "size": path.stat().st_size, "sha256": sha256_of(path)}
            for path in files
        ],
    }
    write_json(partial / MANIFEST, manifest)
    final = partial.with_suffix("")
    partial.rename(final)
    prune(final.parent, keep)
    return final


def prune(root: Path, keep: int) -> list[str]:
    """Keep the newest `keep` sealed backups; also drop failed runs' .partial directories."""
    removed = backups(root)[:-keep]
    stale = time.time() - 6 * 3600  # older than any backup still being written
    removed += [path for path in root.glob(f"*{PARTIAL}") if path.stat().st_mtime < stale]
    for path in removed:
        shutil.rmtree(path)
    return [path.name for path in removed]


def verify(backup: Path) -> list[str]:
    """Every problem that makes the backup unfit to restore, each naming its file."""
    if not (backup / MANIFEST).is_file():
        return [f"{backup.name}: no {MANIFEST} (an incomplete backup)"]
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
        listed = {entry["path"]: entry for entry in manifest["files"]}
    except (ValueError, KeyError, TypeError) as error:
        return [f"{MANIFEST}: unreadable ({error})"]
    problems = []
    for relative, entry in sorted(listed.items()):
        path = backup / relative
        if not path.is_file():
            problems.append(f"{relative}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{relative}: {path.stat().st_size} bytes, the manifest says {entry['size']}")
        elif sha256_of(path) != entry["sha256"]:
            problems.append(f"{relative}: sha256 differs from the manifest (the file is corrupted)")
    for path in sorted(backup.rglob("*")):
        relative = str(path.relative_to(backup))
        if path.is_file() and relative != MANIFEST and relative not in listed:
            problems.append(f"{relative}: not in the manifest")
    return problems


def find(root: Path, name: str) -> Path:
    """A named sealed backup, or the newest one for 'latest'."""
    if name == "latest":
        found = backups(root) if root.is_dir() else []
        if not found:
            raise BackupError(f"no sealed backup under {root}")
        return found[-1]
    if not NAME_PATTERN.match(name):
        raise BackupError(f"backup name {name!r}: expected YYYYmmddTHHMMSSZ or 'latest'")
    if not (root / name).is_dir():
        raise BackupError(f"no backup {name} under {root}")
    return root / name


# --- Command line --------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="semantik-backup", description=__doc__.split("\n\n")[0])
    steps = top.add_subparsers(dest="step", required=True)

    def step(name: str, help_text: str) -> argparse.ArgumentParser:
        return steps.add_parser(name, help=help_text)

    def postgres_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--database", required=True)
        sub.add_argument(
            "--run-as", default="postgres", help="OS user of the PostgreSQL tools ('': this one)"
        )

    def redis_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--redis-host", default="127.0.0.1")
        sub.add_argument("--redis-port", type=int, default=6379)
        sub.add_argument("--redis-dir", type=Path, default=Path("/var/lib/redis"))

    def vector_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--vecpipe-url", default="http://127.0.0.1:8000")
        sub.add_argument("--snapshots-dir", type=Path, help="the store's snapshot directory (on this host)")

    sub = step("postgres", "dump the database into OUT/postgres")
    sub.add_argument("out", type=Path)
    postgres_options(sub)
    sub = step("redis", "BGSAVE and copy the RDB into OUT/redis (REDISCLI_AUTH: the admin password)")
    sub.add_argument("out", type=Path)
    redis_options(sub)
    sub = step("vectors", "snapshot every collection through vecpipe (INTERNAL_API_KEY)")
    sub.add_argument("out", type=Path)
    vector_options(sub)
    sub.add_argument("--venv", type=Path, help="the application's venv, for its version")
    sub = step("config", "copy configuration files into OUT/config/HOST, secrets redacted")
    sub.add_argument("out", type=Path)
    sub.add_argument("--host", required=True)
    sub.add_argument("files", nargs="+", help="absolute paths or glob patterns")
    sub = step("seal", "write the manifest of ROOT/NAME.partial, rename it ROOT/NAME, keep the newest N")
    sub.add_argument("partial", type=Path)
    sub.add_argument("--keep", type=int, default=7)
    sub.add_argument("--environment", default="")
    sub = step("verify", "check a backup against its manifest; exit 1 naming each bad file")
    sub.add_argument("root", type=Path)
    sub.add_argument("name", nargs="?", default="latest")
    sub = step("all", "the whole backup on a host that holds every stateful tier (the timer)")
    sub.add_argument("root", type=Path)
    sub.add_argument("--keep", type=int, default=7)
    sub.add_argument("--environment", default="")
    sub.add_argument("--venv", type=Path)
    sub.add_argument("--config", nargs="*", default=[], help="configuration files or glob patterns")
    postgres_options(sub)
    redis_options(sub)
    vector_options(sub)
    sub = step("restore-postgres", "replace the database with a dump")
    sub.add_argument("dump", type=Path)
    sub.add_argument("--owner", required=True)
    postgres_options(sub)
    sub = step("restore-redis", "with Redis stopped, put an RDB in place (and the AOF made from it)")
    sub.add_argument("rdb", type=Path)
    sub.add_argument("--redis-dir", type=Path, default=Path("/var/lib/redis"))
    sub.add_argument("--aof", action="store_true", help="Redis runs with appendonly yes")
    sub.add_argument("--owner", default="redis")
    sub = step("restore-vectors", "make the store hold exactly the backup's collections")
    sub.add_argument("backup", type=Path)
    vector_options(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.step == "postgres":
            backup_postgres(args.out, args.database, args.run_as)
        elif args.step == "redis":
            backup_redis(args.out, args.redis_dir / "dump.rdb", args.redis_host, args.redis_port)
        elif args.step == "vectors":
            backup_vectors(args.out, args.vecpipe_url, args.snapshots_dir, args.venv)
        elif args.step == "config":
            backup_config(args.out, args.host, args.files)
        elif args.step == "seal":
            print(seal(args.partial, args.keep, args.environment))
        elif args.step == "verify":
            backup = find(args.root, args.name)
            if problems := verify(backup):
                print(f"backup {backup.name} refused:", *problems, sep="\n  ", file=sys.stderr)
                return 1
            print(f"backup {backup.name}: every file matches its manifest")
        elif args.step == "all":
            if args.snapshots_dir is None:
                raise BackupError("all: --snapshots-dir is needed (the vector store must be on this host)")
            partial = args.root / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + PARTIAL)
            partial.mkdir(parents=True, mode=0o700)
            backup_postgres(partial, args.database, args.run_as)
            backup_redis(partial, args.redis_dir / "dump.rdb", args.redis_host, args.redis_port)
            backup_vectors(partial, args.vecpipe_url, args.snapshots_dir, args.venv)
            backup_config(partial, os.uname().nodename, args.config)
            print(seal(partial, args.keep, args.environment))
        elif args.step == "restore-postgres":
            restore_postgres(args.dump, args.database, args.owner, args.run_as)
        elif args.step == "restore-redis":
            restore_redis(args.rdb, args.redis_dir, args.aof, args.owner)
        elif args.step == "restore-vectors":
            restore_vectors(args.backup, args.vecpipe_url, args.snapshots_dir)
    except (BackupError, OSError, KeyError, ValueError) as error:
        print(f"semantik-backup {args.step}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
