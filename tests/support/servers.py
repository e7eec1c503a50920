"""Real PostgreSQL and Redis servers for the tests: installed from Debian when missing, started on
loopback with throwaway data directories, stopped afterwards and their directories removed."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PG_USER = "semantik"
PACKAGES = {"postgres": "postgresql-15", "redis-server": "redis-server"}
# The browser tests drive Debian's Chromium through its WebDriver (tests/webui/pages/browser).
BROWSER_PACKAGES = {"chromium": "chromium", "chromedriver": "chromium-driver"}
# Debian's maintainer scripts would start the packaged servers; the tests start their own.
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def _present(binary: str) -> bool:
    return _pg_bin() is not None if binary == "postgres" else shutil.which(binary) is not None


def ensure_installed(packages: dict[str, str] = PACKAGES) -> None:
    """Install from Debian the package of each binary (``{binary: package}``) that is missing."""
    missing = [pkg for binary, pkg in packages.items() if not _present(binary)]
    if missing:
        apt_install(missing)


def apt_install(packages: list[str]) -> None:
    """Install Debian packages (as root), keeping their maintainer scripts from starting services."""
    if os.geteuid() != 0:
        raise RuntimeError(
            f"{' '.join(packages)} missing and not root: apt-get install -y {' '.join(packages)}"
        )
    placed = not POLICY_RC_D.exists()
    if placed:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        apt_get("update", "-qq", env=env)
        apt_get("install", "-y", "-qq", *packages, env=env)
    finally:
        if placed:
            POLICY_RC_D.unlink()


def apt_get(*args: str, env: dict[str, str], wait: float = 600) -> None:
    """apt-get, waiting while another apt run (the lab's, in the suite's other stream) holds its lock:
    apt-get update gives up at once, whatever DPkg::Lock::Timeout says."""
    deadline = time.monotonic() + wait
    while True:
        done = subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env)
        if done.returncode == 0:
            return
        if "Could not get lock" not in done.stderr or time.monotonic() > deadline:
            raise RuntimeError(f"apt-get {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        time.sleep(2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


@dataclass
class Postgres:
    root: Path
    port: int = field(default_factory=free_port)
    password: str = "pg-test-password-not-for-production"
    process: subprocess.Popen[bytes] | None = None
    # (certificate, key): ssl=on and TCP connections only over TLS (pg_hba hostssl), as in production.
    tls: tuple[Path, Path] | None = None

    def url(self, database: str = "semantik", query: str = "") -> str:
        url = f"postgresql://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{database}"
        return f"{url}?{query}" if query else url

    def _tls_options(self, data: Path) -> list[str]:
        if self.tls is None:
            return []
        cert, key = self.root / "server.crt", self.root / "server.key"
        shutil.copyfile(self.tls[0], cert)
        shutil.copyfile(self.tls[1], key)
        key.chmod(0o600)  # postgres refuses a key others can read
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for path in (cert, key):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        (data / "pg_hba.conf").write_text(
            "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        )
        return ["-c", "ssl=on", "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}"]

    def _as_postgres(self, *argv: str) -> list[str]:
        return argv if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]

    def start(self) -> Postgres:
        bindir, data = _pg_bin(), self.root / "data"
        assert bindir is not None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password)
        pwfile.chmod(0o644)
        subprocess.run(
            self._as_postgres(
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.process = subprocess.Popen(
            self._as_postgres(
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.root}",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
                *self._tls_options(data),
            ),
            stdout=open(self.root / "postgres.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)
        self.create_database("semantik")
        return self

    def create_database(self, name: str) -> str:
        import psycopg2

        for _ in range(50):  # the server accepts connections a moment after it binds
            try:
                conn = psycopg2.connect(self.url("postgres"))
                break
            except psycopg2.OperationalError:
                time.sleep(0.1)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@dataclass
class Redis:
    root: Path
    port: int = field(default_factory=free_port)
    password: str = "redis-test-password-not-for-production"
    process: subprocess.Popen[bytes] | None = None
    # (certificate, key, CA): `port` speaks TLS only and no plaintext port is open, as in production.
    tls: tuple[Path, Path, Path] | None = None
    # As deployed (roles/redis): the AOF is the data, and a dump.rdb beside it is ignored.
    appendonly: bool = False

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://:{self.password}@127.0.0.1:{self.port}/0"

    def _listen(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        cert, key, ca = (str(path) for path in self.tls)
        # The CA is only needed for client certificates, which the app does not use; Redis wants one.
        return [
            *("--port", "0", "--tls-port", str(self.port)),
            *("--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca),
            *("--tls-auth-clients", "no"),
        ]

    def start(self) -> Redis:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *self._listen(),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                self.password,
                "--dir",
                str(self.root),
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--daemonize",
                "no",
            ],
            stdout=open(self.root / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port)
        except TimeoutError as error:
            # E.g. a build without TLS stops at --tls-port: its log says so.
            log = (self.root / "redis.log").read_text()[-2000:]
            raise RuntimeError(f"redis-server did not start:\n{log}") from error
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


# Every scratch directory this process made (tempfile's, not pytest's: the servers' users must reach
# them), removed when its session ends (tests/conftest.py).
SCRATCH_DIRS: list[Path] = []


def scratch_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"semantik-{prefix}-"))
    path.chmod(0o755)
    SCRATCH_DIRS.append(path)
    return path


def remove_scratch_dirs() -> None:
    while SCRATCH_DIRS:
        shutil.rmtree(SCRATCH_DIRS.pop(), ignore_errors=True)


def start_process(
    argv: list[str], env: dict[str, str], log: Path, ready: Callable[[], bool], timeout: float = 120.0
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group (output appended to ``log``) and wait until ``ready()``."""
    process = subprocess.Popen(
        argv,
        env={**os.environ, **env},
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        if ready():
            return process
        time.sleep(0.2)
    stop_process(process)
    raise TimeoutError(f"{' '.join(argv)} not ready within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def start_service(
    argv: list[str],
    env: dict[str, str],
    port: int,
    log: Path,
    ready_path: str = "/health",
    timeout: float = 120.0,
    ca_file: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a `semantik <mode>` process and wait until ``ready_path`` answers (any status); over
    https, verified against ``ca_file``, when it is given."""
    import ssl

    import httpx

    scheme, verify = ("https", ssl.create_default_context(cafile=ca_file)) if ca_file else ("http", True)

    def answers() -> bool:
        try:
            httpx.get(f"{scheme}://127.0.0.1:{port}{ready_path}", timeout=1.0, verify=verify)
            return True
        except httpx.HTTPError:
            return False

    return start_process(argv, env, log, answers, timeout)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the whole process group; SIGKILL it if it has not ended after 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


stop_service = stop_process


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A service's Prometheus metrics: (sample name, sorted labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
