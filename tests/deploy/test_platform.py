"""The platform roles on a real host: common, postgresql, redis and nginx converge, a second run
changes nothing, `--check --diff` changes nothing and shows no secret, and the services behave.

One lab host of its own (t-plat1) converged with tests/deploy/platform.yml.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import redis
from kombu import Connection

from support.lab import ROOT, Run, lab_down, lab_up, playbook, ssh, write_inventory

pytestmark = pytest.mark.lab

HOST = "t-plat1"
FIXTURE = ROOT / "tests" / "deploy" / "platform.yml"
SECRET_NAMES = ["postgresql_password", "redis_password", "redis_app_password", "nginx_flower_password"]
HOSTS_TASK = "common : Add the other tiers to /etc/hosts"


class Lab:
    def __init__(self, address: str, inventory: Path, secrets_file: Path, values: dict[str, str]) -> None:
        self.address, self.inventory, self.secrets_file, self.secrets = (
            address,
            inventory,
            secrets_file,
            values,
        )
        self.runs: dict[str, Run] = {}

    def converge(self, *args: str) -> Run:
        return playbook(FIXTURE, self.inventory, "-e", f"@{self.secrets_file}", *args)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    tmp = tmp_path_factory.mktemp("platform")
    values = {name: secrets.token_urlsafe(24) for name in SECRET_NAMES}
    secrets_file = tmp / "secrets.json"
    secrets_file.write_text(json.dumps(values))
    secrets_file.chmod(0o600)
    try:
        hosts = lab_up([HOST])
        yield Lab(hosts[HOST], write_inventory(tmp / "inventory.json", hosts, ["lab"]), secrets_file, values)
    finally:
        lab_down([HOST])


@pytest.fixture(scope="module")
def converged(lab: Lab) -> Lab:
    lab.runs["first"] = lab.converge()
    lab.runs["second"] = lab.converge("--diff")
    # The lab rewrites every host's /etc/hosts whenever any lab host comes or goes; a re-added
    # block is that, not the role. Once more, then it must be quiet.
    if lab.runs["second"].changed_tasks() == [HOSTS_TASK]:
        lab.runs["second (after the lab rewrote /etc/hosts)"] = lab.converge("--diff")
    lab.runs["check"] = lab.converge("--check", "--diff")
    for name, run in lab.runs.items():
        print(f"{name}: {run.recap_line(HOST)}")
    return lab


def test_first_run_converges(converged: Lab) -> None:
    first = converged.runs["first"]
    assert first.rc == 0, first.output[-5000:]
    assert first.recap(HOST)["failed"] == 0
    assert first.recap(HOST)["changed"] > 0


def test_second_run_changes_nothing(converged: Lab) -> None:
    last = list(converged.runs.values())[-2]
    assert last.rc == 0, last.output[-5000:]
    assert last.recap(HOST)["changed"] == 0, last.changed_tasks()


def test_check_mode_changes_nothing(converged: Lab) -> None:
    check = converged.runs["check"]
    assert check.rc == 0, check.output[-5000:]
    assert check.recap(HOST)["changed"] == 0, check.changed_tasks()


def test_no_secret_in_any_output(converged: Lab) -> None:
    for name, run in converged.runs.items():
        for secret_name, value in converged.secrets.items():
            assert value not in run.output, f"{secret_name} appears in the {name} run"


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-sk", "--max-time", "10", *args], capture_output=True, text=True).stdout


def test_nginx_redirects_proxies_and_guards_flower(converged: Lab) -> None:
    address = converged.address
    # A stand-in web UI on the port the proxy expects.
    ssh(address, "systemd-run --unit=t-webui --collect python3 -m http.server 8080 --bind 127.0.0.1 -d /srv")
    wait = "timeout 20 sh -c 'until curl -s -o /dev/null http://127.0.0.1:8080/; do sleep 0.2; done'"
    assert ssh(address, wait).returncode == 0
    assert curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", f"http://{address}/a?b=1") == (
        f"301 https://{address}/a?b=1"
    )
    headers = curl("-D", "-", "-o", "/dev/null", f"https://{address}/").lower()
    assert headers.startswith("http/2 200"), headers
    for header in ("strict-transport-security: max-age=31536000", "x-content-type-options: nosniff",
                   "x-frame-options: deny", "content-security-policy: frame-ancestors 'none'"):  # fmt: skip
        assert header in headers
    assert "server: nginx\n" in headers  # no version
    assert curl("-o", "/dev/null", "-w", "%{http_code}", f"https://{address}/flower/") == "401"
    password = converged.secrets["nginx_flower_password"]
    # Through the basic auth; flower itself is not running here.
    assert (
        curl(
            "-o", "/dev/null", "-w", "%{http_code}", "-u", f"flower:{password}", f"https://{address}/flower/"
        )
        == "502"
    )
    assert (
        curl("-o", "/dev/null", "-w", "%{http_code}", "-u", "flower:wrong", f"https://{address}/flower/")
        == "401"
    )
    site = ssh(address, "cat /etc/nginx/sites-enabled/semantik.conf").stdout
    assert ":8000" not in site and "vecpipe" not in site.split("#")[0]


def test_postgresql_admits_the_app_user_over_tcp_only_with_its_password(converged: Lab) -> None:
    address, password = converged.address, converged.secrets["postgresql_password"]
    with psycopg2.connect(host=address, dbname="semantik", user="semantik", password=password) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT current_user, current_setting('shared_buffers'),"
                " current_setting('password_encryption'), current_setting('tcp_keepalives_idle'),"
                " current_setting('tcp_user_timeout')"
            )
            # 25 % of postgresql_memory_mb 1024; a lost client dropped within 30 s (30000 ms), replying
            # or not. current_setting gives the last two in their base units, without them.
            assert cur.fetchone() == ("semantik", "256MB", "scram-sha-256", "15", "30000")
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host=address, dbname="semantik", user="semantik", password="wrong")
    with pytest.raises(psycopg2.OperationalError, match="no pg_hba.conf entry"):
        psycopg2.connect(host=address, dbname="postgres", user="postgres", password=password)


def test_redis_app_user_can_do_what_celery_needs_and_no_more(converged: Lab) -> None:
    address = converged.address
    app = redis.Redis(host=address, username="semantik", password=converged.secrets["redis_app_password"])
    assert app.ping()
    app.lpush("t-plat", "x")
    assert app.brpop(["t-plat"], timeout=1) == (b"t-plat", b"x")
    assert app.publish("t-plat", "x") == 0
    for command in ("FLUSHALL", "FLUSHDB", "KEYS *", "CONFIG GET *", "SHUTDOWN", "ACL LIST"):
        with pytest.raises(redis.ResponseError):
            app.execute_command(*command.split())
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=address).ping()
    admin = redis.Redis(host=address, password=converged.secrets["redis_password"])
    assert admin.config_get("appendonly") == {"appendonly": "yes"}
    assert admin.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert admin.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    # kombu, Celery's transport, round-trips a message as the app user.
    url = f"redis://semantik:{converged.secrets['redis_app_password']}@{address}:6379/0"
    with Connection(url) as conn:
        queue = conn.SimpleQueue("t-plat-kombu")
        queue.put({"n": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()


def postmaster_pid(address: str) -> str:
    return ssh(address, "head -1 /var/lib/postgresql/15/main/postmaster.pid").stdout.strip()


def show(lab: Lab, setting: str) -> str:
    return ssh(
        lab.address, f"su postgres -s /bin/sh -c 'cd / && psql -Atc \"SHOW {setting}\"'"
    ).stdout.strip()


def test_postgresql_reloads_or_restarts_as_the_setting_requires(converged: Lab) -> None:
    before = postmaster_pid(converged.address)
    reload = converged.converge("--tags", "postgresql_configure", "-e", "postgresql_work_mem=8MB")
    assert reload.rc == 0, reload.output[-4000:]
    assert "postgresql : Reload PostgreSQL" in reload.changed_tasks()
    assert "postgresql : Restart PostgreSQL" not in reload.changed_tasks()
    assert postmaster_pid(converged.address) == before
    assert show(converged, "work_mem") == "8MB"

    restart = converged.converge("--tags", "postgresql_configure", "-e", "postgresql_work_mem=8MB",
                                 "-e", "postgresql_max_connections=150")  # fmt: skip
    assert restart.rc == 0, restart.output[-4000:]
    assert "postgresql : Restart PostgreSQL" in restart.changed_tasks()
    assert postmaster_pid(converged.address) != before
    assert show(converged, "max_connections") == "150"


def test_sandboxed_units_are_rated_low_exposure(converged: Lab) -> None:
    for unit in ("nginx", "redis-server", "postgresql@15-main"):
        verdict = ssh(converged.address, f"systemd-analyze security {unit} | tail -1").stdout.strip()
        print(verdict)
        exposure = float(re.search(r"level for \S+: ([0-9.]+)", verdict).group(1))
        assert exposure <= 3.0, verdict
