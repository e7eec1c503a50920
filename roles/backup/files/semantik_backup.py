#!/usr/bin/env python3
"""semantik-backup: the steps of a Semantik backup or restore that run on one host.

backup.yml and restore.yml run each step on the host of its tier; the scheduled backup (a systemd
timer on a host that holds every stateful tier) runs them all there with `all`. Stdlib only: it runs
with the host's python3, beside the application's venv. Secrets come from the environment
(REDISCLI_AUTH, INTERNAL_API_KEY, PG*), never from the command line. With TLS between the tiers the
same environment names the CA certificate Redis (REDIS_TLS_CA_FILE) and vecpipe (TLS_CA_FILE, from
vecpipe's own environment file) are verified with.

A backup is a directory ROOT/NAME:
  postgres/<database>.dump     custom-format dump, checked with pg_restore --list
  vectors/<collection>/<file>  one snapshot per collection taken through vecpipe (+ .checksum)
  redis/dump.rdb               the RDB of a completed BGSAVE, checked with redis-check-rdb
  config/<host>/<path>         the rendered configuration, secrets replaced by <redacted>
  manifest.json                written last: each file's size and sha256, the application version,
                               the Alembic revision, row counts, collections and vector counts
While written it is ROOT/NAME.partial; a backup without its manifest is never restored.

Backups hold every secret of the environment: the tool runs with umask 077 and makes each directory
it writes 0700 and each file 0600 explicitly (ROOT too). Where a restore writes into a service's
directory as root it goes through no symbolic link and gives the files that directory's owner.
"""

from __future__ import annotations

import argparse
import errno
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import ssl
import stat
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
SNAPSHOT_SUFFIXES = ("", ".checksum")
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


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
        private_open(stdout) if stdout else open(os.devnull, "wb") as sink,
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


# --- Private files (a backup holds every secret of the environment) ------------------------------


def private_dir(path: Path) -> Path:
    """`path` and every missing parent made 0700, whatever the umask; `path` itself chmod-ed 0700."""
    for directory in [*reversed(path.parents), path]:
        if not directory.exists():
            directory.mkdir(mode=0o700, exist_ok=True)
            directory.chmod(0o700)
    path.chmod(0o700)
    return path


def private_open(path: Path):
    """A file for writing, 0600 whatever the umask, never opened through a symbolic link."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")


def make_private(top: Path) -> None:
    """Every directory under `top` (and it) 0700, every file 0600: parts fetched by Ansible or
    moved from a service's directory come with their own modes. Anything else (a symbolic link
    would make the manifest and the fetch read the file it points to) is refused."""
    for directory, dirnames, filenames in os.walk(top):
        os.chmod(directory, 0o700, follow_symlinks=False)
        for name in dirnames + filenames:
            path = Path(directory, name)
            mode = path.lstat().st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise BackupError(f"{path}: not a regular file or directory; refused in a backup")
            if stat.S_ISREG(mode):
                os.chmod(path, 0o600, follow_symlinks=False)


def write_json(path: Path, data: object) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with private_open(temporary) as handle:
        handle.write((json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
        handle.flush()
        os.fsync(handle.fileno())
    temporary.rename(path)


# The standard library's streaming digest, as vecpipe's store/archive.py and the wheelhouse use it:
# this script runs with the host's python3, outside the venv.
def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# --- Placing files into a service's directory (restores run as root) -----------------------------
# The service's user owns its directory and could swap a name in it for a symbolic link to any file
# root would then overwrite (or a directory root would fill): no link is followed, and what is
# placed gets the directory's owner (taken from it: each service has its own user).


def refuse_links(*paths: Path) -> None:
    """Refuse, before anything is replaced, a path of which any existing component is a link."""
    for path in paths:
        for component in [*reversed(path.parents), path]:
            if component.is_symlink():
                raise BackupError(f"{component} is a symbolic link; refusing to write through it as root")


def open_dir(path: Path, create: bool = False) -> int:
    """A descriptor of directory `path` reached from / with O_NOFOLLOW on every component (a link
    swapped in after refuse_links is refused too). With `create`, a missing component is made,
    owned like its parent."""
    fd = os.open("/", DIRECTORY)
    walked = Path("/")
    try:
        for part in path.parts[1:]:
            walked /= part
            try:
                child = os.open(part, DIRECTORY, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, 0o700, dir_fd=fd)
                child = os.open(part, DIRECTORY, dir_fd=fd)
                parent = os.fstat(fd)
                os.fchown(child, parent.st_uid, parent.st_gid)
                os.fchmod(child, 0o750)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise BackupError(
                        f"{walked} is a symbolic link or not a directory; refusing to write through it"
                    ) from error
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def place(dir_fd: int, name: str, content: Path | bytes, owner: os.stat_result) -> None:
    """`content` (a file's or bytes) as `name` in the directory `dir_fd`, owned by `owner`'s user
    and group: written to a new file (O_EXCL, a random name), then renamed over `name`, so a link
    there is replaced, never followed."""
    temporary = f".{name}.{secrets.token_hex(8)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as sink:
            os.fchown(sink.fileno(), owner.st_uid, owner.st_gid)
            os.fchmod(sink.fileno(), 0o640)
            if isinstance(content, bytes):
                sink.write(content)
            else:
                with content.open("rb") as source:
                    shutil.copyfileobj(source, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temporary, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise


def enter(dir_fd: int, name: str, owner: os.stat_result) -> int:
    """A descriptor of the subdirectory `name` (made if missing, never through a link), `owner`'s."""
    try:
        os.mkdir(name, 0o700, dir_fd=dir_fd)
    except FileExistsError:
        pass
    fd = os.open(name, DIRECTORY, dir_fd=dir_fd)
    os.fchown(fd, owner.st_uid, owner.st_gid)
    os.fchmod(fd, 0o750)
    return fd


# --- PostgreSQL ---------------------------------------------------------------------------------

ROW_COUNTS = """SELECT format('SELECT %L, count(*) FROM %I.%I', table_name, table_schema, table_name)
FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
ORDER BY table_name \\gexec"""


def backup_postgres(out: Path, database: str, user: str) -> None:
    target = private_dir(out / "postgres")
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


def wipe_postgres(database: str, owner: str, user: str) -> None:
    """The database dropped, its connections ended, and made again empty, owned by `owner`."""
    run(["dropdb", "--if-exists", "--force", database], user=user)
    run(["createdb", f"--owner={owner}", database], user=user)


def restore_postgres(dump: Path, database: str, owner: str, user: str) -> None:
    """Replace the database with the dump's contents, every object owned by `owner`."""
    wipe_postgres(database, owner, user)
    run(
        ["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", f"--role={owner}"]
        + [f"--dbname={database}"],
        user=user,
        stdin=dump,
    )


# --- Redis --------------------------------------------------------------------------------------


def redis_cli(host: str, port: int, *command: str) -> str:
    """redis-cli with the password in REDISCLI_AUTH (never on the command line), over TLS verified with
    REDIS_TLS_CA_FILE when that is set (Redis then has no plaintext port)."""
    ca_file = os.environ.get("REDIS_TLS_CA_FILE")
    tls = ["--tls", "--cacert", ca_file] if ca_file else []
    return run(["redis-cli", "-h", host, "-p", str(port), "--no-auth-warning", *tls, *command]).strip()


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
    with rdb.open("rb") as source, private_open(target) as sink:
        shutil.copyfileobj(source, sink)
    if shutil.which("redis-check-rdb"):
        run(["redis-check-rdb", str(target)])


def restore_redis(rdb: Path, data_dir: Path, aof: bool) -> None:
    """With Redis stopped: the RDB in place, and with AOF on, an AOF whose base is that RDB; owned
    like `data_dir`, and refused if any path written through is a symbolic link.

    With appendonly on, Redis loads the AOF and ignores dump.rdb; Redis 7's multi-part AOF takes an
    RDB-format base file, so the restored data becomes the base and the increment starts empty.
    """
    refuse_links(data_dir / "dump.rdb", data_dir / "appendonlydir")
    data_fd = open_dir(data_dir)
    try:
        owner = os.fstat(data_fd)
        place(data_fd, "dump.rdb", rdb, owner)
        remove_aof(data_fd)
        if aof:
            aof_fd = enter(data_fd, "appendonlydir", owner)
            try:
                base, incr = "appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"
                place(aof_fd, base, rdb, owner)
                place(aof_fd, incr, b"", owner)
                manifest = f"file {base} seq 1 type b\nfile {incr} seq 1 type i\n"
                place(aof_fd, "appendonly.aof.manifest", manifest.encode(), owner)
            finally:
                os.close(aof_fd)
    finally:
        os.close(data_fd)


def remove_aof(data_fd: int) -> None:
    try:  # the fd-based rmtree does not follow links inside
        shutil.rmtree("appendonlydir", dir_fd=data_fd)
    except FileNotFoundError:
        pass


def wipe_redis(data_dir: Path) -> None:
    """With Redis stopped (FLUSHALL is renamed away for everyone): no RDB and no AOF left, so that it
    starts empty; refused if either is reached through a symbolic link."""
    refuse_links(data_dir / "dump.rdb", data_dir / "appendonlydir")
    data_fd = open_dir(data_dir)
    try:
        try:
            os.unlink("dump.rdb", dir_fd=data_fd)
        except FileNotFoundError:
            pass
        remove_aof(data_fd)
    finally:
        os.close(data_fd)


# --- Vectors (through vecpipe) -------------------------------------------------------------------


def vecpipe(url: str, method: str, path: str, timeout: float = 600) -> dict:
    request = urllib.request.Request(
        url.rstrip("/") + path, method=method, headers={"X-Internal-Api-Key": os.environ["INTERNAL_API_KEY"]}
    )
    # https:// vecpipe is verified with the deployment's CA (TLS_CA_FILE), else the system's.
    context = ssl.create_default_context(cafile=os.environ.get("TLS_CA_FILE") or None)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
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
            for suffix in SNAPSHOT_SUFFIXES:
                source = snapshots_dir / name / (snapshot["name"] + suffix)
                target = private_dir(out / "vectors" / name) / source.name
                shutil.move(source, target)
                # Moved from the store's directory: a link would make the fetch read what it names.
                if not stat.S_ISREG(target.lstat().st_mode):
                    raise BackupError(f"{source}: not a regular file; refused in a backup")
                target.chmod(0o600)
    info = {"collections": collections}
    if venv is not None:
        info["application_version"] = run(
            [str(venv / "bin/python"), "-c", "import importlib.metadata as m; print(m.version('semantik'))"]
        ).strip()
    write_json(out / "vectors" / INFO, info)


def place_snapshots(backup: Path, snapshots_dir: Path) -> list[Path]:
    """The backup's snapshot files into the store's snapshot directory, owned like it (a wiped store
    may have lost it: made again, owned like its parent); refused through any symbolic link."""
    wanted = json.loads((backup / "vectors" / INFO).read_text())["collections"]
    files = [(entry["name"], entry["snapshot"] + suffix) for entry in wanted for suffix in SNAPSHOT_SUFFIXES]
    refuse_links(*(snapshots_dir / collection / name for collection, name in files))
    placed = []
    snapshots_fd = open_dir(snapshots_dir, create=True)
    try:
        owner = os.fstat(snapshots_fd)
        for collection, name in files:
            collection_fd = enter(snapshots_fd, collection, owner)
            try:
                place(collection_fd, name, backup / "vectors" / collection / name, owner)
                placed.append(snapshots_dir / collection / name)
            finally:
                os.close(collection_fd)
    finally:
        os.close(snapshots_fd)
    return placed


def wipe_vectors(url: str) -> list[str]:
    """Every collection of the store removed through vecpipe; their names."""
    names = vecpipe(url, "GET", "/collections")["collections"]
    for name in names:
        vecpipe(url, "DELETE", f"/collections/{name}")
    if left := vecpipe(url, "GET", "/collections")["collections"]:
        raise BackupError(f"collections still in the store: {', '.join(left)}")
    return names


def restore_vectors(backup: Path, url: str, snapshots_dir: Path | None) -> None:
    """Make the store hold exactly the backup's collections, then check each one's count.

    With `snapshots_dir`, the snapshot files are first placed from the backup into the store's
    snapshot directory (else the caller has put them there), and removed again afterwards.
    """
    wanted = json.loads((backup / "vectors" / INFO).read_text())["collections"]
    placed = place_snapshots(backup, snapshots_dir) if snapshots_dir is not None else []
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
            directory = open_dir(path.parent)
            try:
                os.unlink(path.name, dir_fd=directory)
            except FileNotFoundError:
                pass
            finally:
                os.close(directory)


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
            with private_open(out / "config" / host / path.relative_to("/")) as sink:
                sink.write(redact(path.read_text(errors="replace")).encode())


# --- Seal, verify, retention ---------------------------------------------------------------------


def backups(root: Path) -> list[Path]:
    """The sealed backups under root, oldest first."""
    found = [path for path in root.iterdir() if NAME_PATTERN.match(path.name) and (path / MANIFEST).is_file()]
    return sorted(found, key=lambda path: path.name)


def check_partial(partial: Path) -> None:
    if partial.suffix != PARTIAL or not NAME_PATTERN.match(partial.stem):
        raise BackupError(f"{partial}: not a backup being written (ROOT/<YYYYmmddTHHMMSSZ>{PARTIAL})")


def seal(partial: Path, keep: int, environment: str) -> Path:
    """Write the manifest, give the backup its final name, then apply retention."""
    check_partial(partial)
    infos = {path.parent.name: json.loads(path.read_text()) for path in partial.glob(f"*/{INFO}")}
    missing = {"postgres", "vectors", "redis"} - {path.name for path in partial.iterdir() if path.is_dir()}
    if missing:
        raise BackupError(f"{partial}: no {', '.join(sorted(missing))} part; not sealed")
    make_private(partial)
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
    return finish(partial, keep)


def accept(partial: Path, keep: int) -> Path:
    """A backup sealed on the controller and copied here as ROOT/NAME.partial: checked against its
    manifest where the copy landed (a corrupted transfer stops here), then named like seal does."""
    check_partial(partial)
    make_private(partial)
    if problems := verify(partial):
        raise BackupError(f"{partial} refused:\n  " + "\n  ".join(problems))
    return finish(partial, keep)


def finish(partial: Path, keep: int) -> Path:
    """The sealed backup's final name, the backup and its root private, then retention."""
    final = partial.with_suffix("")
    partial.rename(final)
    final.chmod(0o700)
    final.parent.chmod(0o700)
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


def verify(backup: Path, parts: list[str] | None = None) -> list[str]:
    """Every problem that makes the backup unfit to restore, each naming its file; with `parts`,
    only the files under those directories (a host receives only its part and the manifest)."""

    def wanted(relative: str) -> bool:
        return not parts or relative.split("/", 1)[0] in parts

    if not (backup / MANIFEST).is_file():
        return [f"{backup.name}: no {MANIFEST} (an incomplete backup)"]
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
        listed = {entry["path"]: entry for entry in manifest["files"] if wanted(entry["path"])}
    except (ValueError, KeyError, TypeError) as error:
        return [f"{MANIFEST}: unreadable ({error})"]
    problems = [
        f"{part}: no such part in the manifest"
        for part in parts or []
        if not any(path.split("/", 1)[0] == part for path in listed)
    ]
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
        if path.is_file() and relative != MANIFEST and relative not in listed and wanted(relative):
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


def record(name: str, textfile_dir: Path) -> Path:
    """Tell Prometheus (node exporter's textfile collector) that backup NAME was sealed now: the
    backup alert fires when this gets older than a day. Written whole, then renamed, so the exporter
    never reads half a file; readable by the exporter's account."""
    target = textfile_dir / "semantik_backup.prom"
    partial = textfile_dir / ".semantik_backup.prom.tmp"
    partial.write_text(
        "# HELP semantik_backup_last_success_timestamp_seconds When the newest backup was sealed.\n"
        "# TYPE semantik_backup_last_success_timestamp_seconds gauge\n"
        f'semantik_backup_last_success_timestamp_seconds{{backup="{name}"}} {time.time():.0f}\n'
    )
    partial.chmod(0o644)
    partial.replace(target)
    return target


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
    sub = step("accept", "check ROOT/NAME.partial, sealed elsewhere, against its manifest; name it ROOT/NAME")
    sub.add_argument("partial", type=Path)
    sub.add_argument("--keep", type=int, default=7)
    sub = step("record", "write the backup's time for Prometheus into TEXTFILE_DIR/semantik_backup.prom")
    sub.add_argument("name")
    sub.add_argument("textfile_dir", type=Path)
    sub = step("verify", "check a backup against its manifest; exit 1 naming each bad file")
    sub.add_argument("root", type=Path)
    sub.add_argument("name", nargs="?", default="latest")
    sub.add_argument("--part", action="append", help="only this part (postgres, redis, vectors, config)")
    sub = step("all", "the whole backup on a host that holds every stateful tier (the timer)")
    sub.add_argument("root", type=Path)
    sub.add_argument("--keep", type=int, default=7)
    sub.add_argument("--environment", default="")
    sub.add_argument("--venv", type=Path)
    sub.add_argument("--config", nargs="*", default=[], help="configuration files or glob patterns")
    sub.add_argument("--textfile-dir", type=Path, help="record the backup there when it exists (see record)")
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
    sub = step("restore-vectors", "make the store hold exactly the backup's collections")
    sub.add_argument("backup", type=Path)
    vector_options(sub)
    sub = step("wipe-postgres", "drop the database and make it again, empty")
    sub.add_argument("--owner", required=True)
    postgres_options(sub)
    sub = step("wipe-redis", "with Redis stopped, remove its RDB and AOF")
    sub.add_argument("--redis-dir", type=Path, default=Path("/var/lib/redis"))
    sub = step("wipe-vectors", "remove every collection through vecpipe (INTERNAL_API_KEY)")
    vector_options(sub)
    sub = step("place-snapshots", "put a backup's snapshots into a Qdrant server's snapshot directory")
    sub.add_argument("backup", type=Path)
    sub.add_argument("--snapshots-dir", type=Path, required=True)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    umask = os.umask(0o077)  # nothing this tool writes is for other users
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
        elif args.step == "accept":
            print(accept(args.partial, args.keep))
        elif args.step == "record":
            print(record(args.name, args.textfile_dir))
        elif args.step == "verify":
            backup = find(args.root, args.name)
            if problems := verify(backup, args.part):
                print(f"backup {backup.name} refused:", *problems, sep="\n  ", file=sys.stderr)
                return 1
            print(f"backup {backup.name}: every file matches its manifest")
        elif args.step == "all":
            if args.snapshots_dir is None:
                raise BackupError("all: --snapshots-dir is needed (the vector store must be on this host)")
            partial = args.root / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + PARTIAL)
            private_dir(args.root)
            partial.mkdir(mode=0o700)
            partial.chmod(0o700)
            backup_postgres(partial, args.database, args.run_as)
            backup_redis(partial, args.redis_dir / "dump.rdb", args.redis_host, args.redis_port)
            backup_vectors(partial, args.vecpipe_url, args.snapshots_dir, args.venv)
            backup_config(partial, os.uname().nodename, args.config)
            sealed = seal(partial, args.keep, args.environment)
            if args.textfile_dir and args.textfile_dir.is_dir():
                record(sealed.name, args.textfile_dir)
            print(sealed)
        elif args.step == "restore-postgres":
            restore_postgres(args.dump, args.database, args.owner, args.run_as)
        elif args.step == "restore-redis":
            restore_redis(args.rdb, args.redis_dir, args.aof)
        elif args.step == "restore-vectors":
            restore_vectors(args.backup, args.vecpipe_url, args.snapshots_dir)
        elif args.step == "wipe-postgres":
            wipe_postgres(args.database, args.owner, args.run_as)
        elif args.step == "wipe-redis":
            wipe_redis(args.redis_dir)
        elif args.step == "wipe-vectors":
            print("removed:", *wipe_vectors(args.vecpipe_url) or ["no collection"])
        elif args.step == "place-snapshots":
            place_snapshots(args.backup, args.snapshots_dir)
    except (BackupError, OSError, KeyError, ValueError) as error:
        print(f"semantik-backup {args.step}: {error}", file=sys.stderr)
        return 1
    finally:
        os.umask(umask)  # as it was: main() also runs inside other programs (the tests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
