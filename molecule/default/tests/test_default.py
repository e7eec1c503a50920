"""The dev stack on a real host: services, hardening, least privilege, the public path, refusals,
ports, what an attacker on the network gets, check mode.

mol-semantik runs every tier; mol-probe, in no Semantik group, looks at it from the network.
"""

import hashlib
import http.cookiejar
import json
import re
import secrets
import ssl
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from verify_support import (  # noqa: E402
    INVENTORY,
    INVENTORY_FILE,
    ROOT,
    address,
    admin_credentials,
    ansible_playbook,
    changed_tasks,
    demo,
    redis_cli,
)

TARGET = "mol-semantik"
testinfra_hosts = [TARGET]
ADDRESS = address(TARGET)
URL = f"https://{ADDRESS}"
MODEL = INVENTORY.get_variables(TARGET)["semantik_default_embedding_model"]
UNITS = ["webui", "vecpipe", "worker", "beat", "flower"]
# Each service's Prometheus metrics port (roles/semantik semantik_metrics_ports): loopback in dev.
METRICS = {"webui": 9461, "vecpipe": 9462, "worker": 9463, "beat": 9464}
# Exporters (node, PostgreSQL, Redis, nginx), Prometheus, Alertmanager (and its cluster port), blackbox.
MONITORING = (9100, 9187, 9121, 9113, 9090, 9093, 9094, 9115)
# Today's figures (systemd-analyze security): one service's account must not cost any of them.
EXPOSURE_LIMIT = {"webui": 1.1, "vecpipe": 1.3, "worker": 1.1, "beat": 1.1, "flower": 1.1}
# Each service's environment holds its own secrets and no other (roles/semantik/vars/main.yml).
SECRETS_OF = {
    "webui": {"DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY", "INTERNAL_API_KEY"},
    "vecpipe": {"INTERNAL_API_KEY"},
    "worker": {"DATABASE_URL", "REDIS_URL", "INTERNAL_API_KEY"},
    "beat": {"DATABASE_URL", "REDIS_URL"},
    "flower": {"REDIS_URL", "FLOWER_BASIC_AUTH"},
    "migrate": {"DATABASE_URL"},
}
SECRET_NAMES = {"QDRANT_API_KEY"}.union(*SECRETS_OF.values())
# What an error body must never show: a traceback, a source line, an exception class, a driver.
LEAK = re.compile(r"Traceback|File \"|\b[A-Z][A-Za-z]*(Error|Exception)\b|sqlalchemy|psycopg|site-packages")


def env_files(host) -> dict[str, dict[str, str]]:
    """Every /etc/semantik/*.env, parsed: {service: {NAME: value}}."""
    found = {}
    with host.sudo():
        for path in host.check_output("ls /etc/semantik/*.env").split():
            text = host.file(path).content_string
            found[Path(path).stem] = {
                name: value.strip("'")
                for line in text.splitlines()
                if line and not line.startswith("#")
                for name, _, value in [line.partition("=")]
            }
    return found


def main_pid(host, unit: str) -> int:
    return int(host.check_output(f"systemctl show -p MainPID --value semantik-{unit}"))


def on_probe(script: str):
    """`script` run by python3 on mol-probe, an address outside every Semantik group, against nginx
    over TLS: `call(method, path, body=None, raw=None, token=None)` -> (status, headers, text). The
    script's last output line is JSON, returned."""
    probe = testinfra.get_host("ansible://mol-probe", ansible_inventory=INVENTORY_FILE)
    preamble = f"""
import json, ssl, time, urllib.error, urllib.request
BASE = {URL!r}
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
def call(method, path, body=None, raw=None, token=None):
    data = raw.encode() if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, context=CTX, timeout=60) as response:
            status, headers, text = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, error.headers, error.read().decode()
    return status, {{name.lower(): value for name, value in headers.items()}}, text
"""
    done = probe.run("python3 -c %s", preamble + script)
    assert done.rc == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("unit", UNITS)
def test_service_is_enabled_and_running_as_its_own_user(host, unit):
    service = host.service(f"semantik-{unit}")
    assert service.is_enabled
    assert service.is_running
    props = host.run(f"systemctl show -p User,Group,EnvironmentFiles,ExecStart semantik-{unit}").stdout
    assert f"User=semantik-{unit}\n" in props and "Group=semantik\n" in props
    assert f"/etc/semantik/{unit}.env " in props
    assert f"/opt/semantik/venv/bin/semantik ; argv[]=/opt/semantik/venv/bin/semantik {unit}" in props
    assert host.check_output(f"ps -o user= -p {main_pid(host, unit)}") == f"semantik-{unit}"


@pytest.mark.parametrize("unit", sorted(METRICS))
def test_each_service_serves_its_metrics_on_loopback(host, unit):
    url = f"http://127.0.0.1:{METRICS[unit]}/metrics"
    text = host.check_output(
        f"python3 -c 'import urllib.request as u; print(u.urlopen(\"{url}\").read().decode())'"
    )
    assert f"# TYPE semantik_{unit}_" in text, text[:2000]


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_hardened(host, unit):
    with host.sudo():
        out = host.check_output(f"systemd-analyze security --no-pager semantik-{unit}.service")
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out)[1])
    print(f"semantik-{unit}: exposure {exposure}")
    assert exposure <= EXPOSURE_LIMIT[unit], out
    with host.sudo():
        shown = "CPUQuotaPerSecUSec,MemoryMax,CPUWeight,DevicePolicy,InaccessiblePaths"
        props = host.check_output(f"systemctl show -p {shown} semantik-{unit}")
    assert "MemoryMax=infinity" not in props and "CPUQuotaPerSecUSec=infinity" not in props
    # The worker's parsing yields to the model it feeds and to searches.
    assert f"CPUWeight={50 if unit == 'worker' else 100}" in props.splitlines(), props
    hidden = ["/etc/semantik", "/etc/postgresql", "/var/lib/postgresql", "/etc/redis", "/var/lib/redis"]
    hidden += ["/etc/nginx", "/etc/ssl/private", "/var/backups/semantik"]
    hidden += [] if unit == "vecpipe" else ["/var/lib/semantik/qdrant"]
    for path in hidden:
        assert f"-{path}" in props, (path, props)


def test_environment_files_are_roots_alone_each_with_its_own_secrets(host):
    with host.sudo():
        directory = host.file("/etc/semantik")
        assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)
        assert not host.file("/etc/semantik/semantik.env").exists
        for name in [*UNITS, "migrate"]:
            env = host.file(f"/etc/semantik/{name}.env")
            assert (env.user, env.group, env.mode) == ("root", "root", 0o600), name
        for unit in UNITS:
            check = host.run(
                f"env -i sh -c 'set -a; . /etc/semantik/{unit}.env; "
                f"exec /opt/semantik/venv/bin/semantik check-config {unit}'"
            )
            assert check.rc == 0, (unit, check.stderr)
    files = env_files(host)
    assert set(files) == {*UNITS, "migrate"}
    for name, values in files.items():
        assert set(values) & SECRET_NAMES == SECRETS_OF[name], name


def test_the_worker_cannot_read_another_services_secrets(host):
    """As semantik-worker (the process that parses untrusted files): on the host, and inside the
    worker's own namespaces as its unit runs it."""
    webui, worker = main_pid(host, "webui"), main_pid(host, "worker")
    as_worker = "setpriv --reuid=semantik-worker --regid=semantik --init-groups --"
    with host.sudo():
        uid = host.check_output("id -u semantik-worker")
        gid = host.check_output("getent group semantik | cut -d: -f3")
        inside = f"nsenter --target {worker} --mount --user --setuid {uid} --setgid {gid} --"
        for path in ["/etc/semantik/webui.env", "/etc/semantik/migrate.env", f"/proc/{webui}/environ"]:
            done = host.run(f"{as_worker} cat {path}")
            assert done.rc != 0 and not done.stdout, (path, done.stdout[:80])
            print(f"as semantik-worker: cat {path}: {done.stderr.strip()}")
        for path in ["/etc/semantik/webui.env", "/var/lib/semantik/qdrant", "/etc/postgresql", "/etc/redis"]:
            done = host.run(f"{inside} ls -l {path}")
            assert done.rc != 0 and not done.stdout, (path, done.stdout[:80])
            print(f"inside the worker's namespaces: ls {path}: {done.stderr.strip()}")
        # ProtectProc=invisible: the worker's /proc shows its own processes only.
        assert host.run(f"{inside} test -e /proc/{webui}").rc != 0
        assert host.run(f"{inside} test -e /proc/{worker}").rc == 0


def test_each_service_writes_only_its_own_state(host):
    with host.sudo():
        data = host.file("/var/lib/semantik")
        assert (data.user, data.group, data.mode) == ("root", "semantik", 0o750)
        for service, path in [("vecpipe", "qdrant"), ("beat", "beat")]:
            state = host.file(f"/var/lib/semantik/{path}")
            owner = f"semantik-{service}"
            assert (state.user, state.group, state.mode) == (owner, "semantik", 0o700), path
        # beat keeps its schedule there (celerybeat-schedule, with its dbm suffix if any).
        assert host.check_output("ls /var/lib/semantik/beat").startswith("celerybeat-schedule")
        # The data directory itself is read-only for every service (ProtectSystem=strict).
        inside = f"nsenter --target {main_pid(host, 'worker')} --mount --user --setuid "
        inside += host.check_output("id -u semantik-worker") + " --"
        assert host.run(f"{inside} touch /var/lib/semantik/planted").rc != 0
        # ... and no service tripped over what it may no longer touch (gunicorn's control socket
        # lives in webui's runtime directory).
        refused = host.run(
            "journalctl --no-pager -o cat "
            + " ".join(f"-u semantik-{unit}" for unit in UNITS)
            + " | grep -E 'Permission denied|Read-only file system|PermissionError'"
        ).stdout
        assert not refused, refused
        assert host.file("/run/semantik-webui/gunicorn.ctl").exists


def test_a_store_of_the_former_single_account_is_taken_over_at_start(host):
    """Existing hosts: the store written by the former `semantik` account (here: a uid no account
    has) belongs to semantik-vecpipe again once vecpipe starts (StateDirectory=)."""
    with host.sudo():
        host.check_output("chown -R 4242:semantik /var/lib/semantik/qdrant")
        host.check_output("systemctl restart semantik-vecpipe")
        host.check_output(
            "for i in $(seq 90); do python3 -c 'import urllib.request as u; "
            'u.urlopen("http://127.0.0.1:8000/health")\' 2>/dev/null && exit 0; sleep 1; done; exit 1'
        )
        assert host.check_output("find /var/lib/semantik/qdrant ! -user semantik-vecpipe | wc -l") == "0"


def test_venv_is_a_link_to_the_locked_venv(host):
    link = host.file("/opt/semantik/venv")
    assert link.is_symlink
    assert host.file(f"{link.linked_to}/.complete").is_file
    assert host.run(
        "/opt/semantik/venv/bin/python -c 'import torch; print(torch.__version__)'"
    ).stdout.strip() == ("2.13.0+cpu")


def test_readiness_through_nginx_over_tls():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(
        f"https://{ADDRESS}/api/health/readyz", context=context, timeout=20
    ) as response:
        assert response.status == 200
        body = json.loads(response.read())
    assert body["ready"] is True
    assert response.headers["Strict-Transport-Security"]


def test_postgresql_refuses_unauthenticated_access(host):
    for url in ("postgresql://semantik@127.0.0.1/semantik", "postgresql://postgres@127.0.0.1/postgres"):
        done = host.run(f"psql -w '{url}' -c 'select 1'")
        assert done.rc != 0
        # A password is demanded (scram), or no rule admits that user at all.
        assert "no password supplied" in done.stderr or "no pg_hba.conf entry" in done.stderr, done.stderr


def test_redis_refuses_unauthenticated_access(host):
    done = host.run("redis-cli -h 127.0.0.1 ping")
    assert "NOAUTH" in done.stdout + done.stderr
    assert "PONG" not in done.stdout


def test_probe_reaches_only_ssh_and_https():
    probe = testinfra.get_host("ansible://mol-probe", ansible_inventory=INVENTORY_FILE)

    def answers(port: int) -> bool:
        return probe.run(f"timeout 3 bash -c '</dev/tcp/{ADDRESS}/{port}'").rc == 0

    assert answers(22) and answers(443)
    closed = {
        port: answers(port) for port in (8000, 8080, 5555, 5432, 6379, 6333, *METRICS.values(), *MONITORING)
    }
    assert not any(closed.values()), closed


def test_sample_documents_are_searchable_through_the_public_url(tmp_path):
    report_file = tmp_path / "report.json"
    done = ansible_playbook(str(ROOT / "ansible/demo.yml"), "-e", f"demo_report={report_file}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads(report_file.read_text())
    assert report["collection"]["status"] == "ready"
    assert report["collection"]["document_count"] >= 8
    for search in report["searches"]:
        assert search["passed"], search


def test_the_services_journal_holds_json_lines_that_make_logs_shows_as_text(host):
    with host.sudo():
        raw = host.check_output("journalctl --no-pager -o cat -n 50 _SYSTEMD_UNIT=semantik-webui.service")
    entries = [json.loads(line) for line in raw.splitlines()]  # the service's own lines: JSON, each
    assert any(entry.get("correlation_id") for entry in entries), entries[-3:]
    done = ansible_playbook(
        str(ROOT / "playbooks/logs.yml"), "-e", "logs_service=webui", "-e", "logs_lines=50"
    )
    shown = done.stdout
    assert done.returncode == 0, shown[-3000:]
    assert re.search(r"semantik-webui\[\d+\]: INFO uvicorn\.access \[\w+\] ", shown), shown[-3000:]
    assert '"time\\":' not in shown and '"time":' not in shown, shown[-3000:]  # no raw JSON line left


def prometheus(host, path: str) -> dict:
    """Prometheus's HTTP API on the host (it listens on loopback only)."""
    script = f"import urllib.request as u; print(u.urlopen('http://127.0.0.1:9090{path}').read().decode())"
    return json.loads(host.check_output(f'python3 -c "{script}"'))["data"]


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(3)
    return found


def test_prometheus_scrapes_every_service_and_exporter_and_each_is_up(host):
    def targets():
        active = prometheus(host, "/api/v1/targets")["activeTargets"]
        return {t["labels"]["job"]: t["health"] for t in active}

    # Earlier tests restart services (vecpipe's model takes seconds to load): a target may be down for
    # a scrape or two; each must be up within a few scrape intervals.
    try:
        jobs = wait_until(
            lambda: (t := targets()) and set(t.values()) == {"up"} and t, 180, "every target up"
        )
    finally:
        print(f"targets: {targets()}")
    wanted = {"prometheus", "node", "postgres", "redis", "nginx", "readiness"}
    assert set(jobs) == wanted | {f"semantik-{unit}" for unit in METRICS}, jobs
    readiness = prometheus(host, "/api/v1/query?query=probe_success")["result"]
    assert {r["metric"]["service"]: r["value"][1] for r in readiness} == {"webui": "1", "vecpipe": "1"}


def test_a_stopped_service_fires_its_alert_within_its_for_time(host):
    def firing():
        alerts = prometheus(host, "/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["state"] == "firing" and a["labels"].get("job") == "semantik-beat"]

    assert not firing()
    with host.sudo():
        host.check_output("systemctl stop semantik-beat")
    stopped = time.monotonic()
    try:
        # for: 1m, plus a scrape and an evaluation (15 s each) to notice, and slack for a busy lab.
        (alert,) = wait_until(firing, 150, "SemantikTargetDown for beat")
        print(f"SemantikTargetDown fired {time.monotonic() - stopped:.0f} s after beat stopped")
        assert (alert["labels"]["alertname"], alert["labels"]["severity"]) == (
            "SemantikTargetDown",
            "critical",
        )
    finally:
        with host.sudo():
            host.check_output("systemctl start semantik-beat")
    wait_until(lambda: not firing(), 120, "the alert to resolve")


def test_make_status_shows_the_gpu_the_queue_the_backup_and_the_alerts():
    done = ansible_playbook(str(ROOT / "playbooks/status.yml"))
    shown = done.stdout
    assert done.returncode == 0, shown[-3000:]
    assert "GPU: no NVIDIA device" in shown
    assert re.search(r"queue: \d+ tasks waiting", shown), shown[-3000:]
    # molecule/default/tests/test_backup.py ran backup.yml before this file's tests.
    assert re.search(r"newest backup: \d+\.\d h old", shown), shown[-3000:]
    assert "alerts firing: none" in shown, shown[-3000:]


def test_the_web_page_through_nginx_over_tls():
    """The page at / through nginx: the sign-in page (HTML, the strict policy), its stylesheet cached
    for a year; then, signed in as the administrator, the demo's documents found on the search page."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    jar = http.cookiejar.CookieJar()
    web = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(jar)
    )
    with web.open(f"{URL}/", timeout=20) as response:
        assert (response.status, response.geturl()) == (200, f"{URL}/login?next=%2F")
        assert response.headers["Content-Type"].startswith("text/html")
        policy = ", ".join(response.headers.get_all("Content-Security-Policy"))
        page = response.read().decode()
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
    assert 'name="username"' in page and 'name="password"' in page
    stylesheet = re.search(r'href="(/static/[0-9a-f]{12}/app\.css)"', page)[1]
    for _ in range(2):  # the second from nginx's cache
        with web.open(URL + stylesheet, timeout=20) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/css")
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    username, password = admin_credentials()
    query = urllib.parse.urlencode({"q": "How do honeybees tell each other where the flowers are?"})
    form = {
        "csrf": re.search(r'name="csrf" value="([0-9a-f]{64})"', page)[1],
        "username": username,
        "password": password,
        "next": f"/search?{query}",
    }
    with web.open(f"{URL}/login", data=urllib.parse.urlencode(form).encode(), timeout=60) as response:
        assert response.geturl() == f"{URL}/search?{query}"
        results = response.read().decode()
    assert [cookie.secure for cookie in jar if cookie.name == "semantik_session"] == [True]
    first = re.search(r'<li class="result">\s*<h2><a [^>]*>([^<]+)</a>', results)
    assert first and first[1] == "beekeeping.rst", results[-3000:]
    assert "<mark>" in results


def test_check_mode_changes_nothing_and_prints_no_secret(host):
    done = ansible_playbook(str(ROOT / "site.yml"), "--check", "--diff")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    recap = re.search(rf"{TARGET}\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", out)
    assert recap and recap[1] == "0", changed_tasks(done.stdout)
    values = {
        value for env in env_files(host).values() for name, value in env.items() if name in SECRET_NAMES
    }
    assert len(values) == 5
    passwords = [re.search(r"://[^:]+:([^@]+)@", s)[1] for s in values if "://" in s]
    assert len(passwords) == 2
    for secret in [*values, *passwords, admin_credentials()[1]]:
        assert secret not in out


def test_a_bad_environment_value_is_refused_by_check_config_before_any_restart(host):
    started_at = "systemctl show -p ActiveEnterTimestamp semantik-webui semantik-worker"
    before = env_files(host)
    with host.sudo():
        started = host.check_output(started_at)
    bad = '{"semantik_extra_env": {"DB_POOL_SIZE": "many", "DB_MAX_OVERFLOW": "10"}}'

    done = ansible_playbook(str(ROOT / "site.yml"), "--tags", "semantik_configure", "-e", bad)

    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "DB_POOL_SIZE: Input should be a valid integer" in out, out[-3000:]
    assert env_files(host) == before
    with host.sudo():
        assert host.check_output(started_at) == started


def test_a_unit_edited_by_hand_is_put_back_and_restarted_alone(host):
    unit = "/etc/systemd/system/semantik-beat.service"
    others = "systemctl show -p ActiveEnterTimestamp " + " ".join(
        f"semantik-{unit}" for unit in UNITS if unit != "beat"
    )
    with host.sudo():
        original = host.file(unit).content_string
        started = host.check_output(others)
        host.check_output(f"echo '# edited by hand' >> {unit} && chmod 600 {unit}")

    done = ansible_playbook(str(ROOT / "site.yml"), "--tags", "semantik_configure,semantik_run")

    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "changed: [mol-semantik] => (item=beat)" in done.stdout
    with host.sudo():
        assert host.file(unit).content_string == original
        assert host.file(unit).mode == 0o644
        assert host.check_output(others) == started, "only beat restarts"
    assert host.service("semantik-beat").is_running


# What an attacker on the network gets: from mol-probe, through nginx over TLS. The burst of wrong
# passwords comes last: it locks the administrator out for the login window.


def test_registration_is_closed():
    status, _, text = on_probe(
        'print(json.dumps(call("POST", "/api/auth/register", '
        '{"username": "mallory", "email": "mallory@example.org", "password": "a-long-enough-password"})))'
    )
    assert status == 403, text


@pytest.fixture(scope="module")
def user():
    """A user who is not an administrator, created by the administrator through the API (from the
    controller: the administrator's password never reaches the probe); deactivated afterwards."""
    admin = demo.Client(URL, None)
    demo.login(admin, *admin_credentials())
    name = f"user_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    created = admin.call(
        "POST", "/api/v2/users", {"username": name, "email": f"{name}@example.org", "password": password}
    )
    assert not created.get("is_superuser")
    yield {"id": created["id"], "name": name, "password": password}
    # With the token of the setup: by now the burst of wrong passwords has locked the account.
    assert admin.call("PATCH", f"/api/v2/users/{created['id']}", {"is_active": False})["is_active"] is False


def logged_in(user) -> str:
    """Probe script lines that log `user` in: `token` holds the access token."""
    return f"""
credentials = {{"username": {user["name"]!r}, "password": {user["password"]!r}}}
status, _, text = call("POST", "/api/auth/login", credentials)
assert status == 200, (status, text)
token = json.loads(text)["access_token"]
"""


def test_a_user_who_is_not_an_administrator_cannot_add_a_directory_source(user):
    seen = on_probe(
        logged_in(user)
        + f"""
seen = {{
    "list users": call("GET", "/api/v2/users", token=token)[0],
    "make itself an administrator": call(
        "PATCH", "/api/v2/users/{user["id"]}", {{"is_superuser": True}}, token=token
    )[0],
}}
collection = {{"name": {user["name"]!r}, "embedding_model": {MODEL!r}, "quantization": "float32"}}
status, _, text = call("POST", "/api/v2/collections", collection, token=token)
assert status in (200, 201, 202), (status, text)
collection = json.loads(text)
operation = collection.get("initial_operation_id")
for _ in range(120):
    if not operation:
        break
    state = json.loads(call("GET", "/api/v2/operations/" + operation, token=token)[2])["status"]
    if state in ("completed", "failed", "cancelled"):
        break
    time.sleep(1)
source = {{"source_type": "directory", "source_path": "/srv/semantik/documents"}}
status, _, text = call("POST", "/api/v2/collections/" + collection["id"] + "/sources", source, token=token)
seen["add a directory source"] = status
seen["reason"] = text
print(json.dumps(seen))
"""
    )
    print(seen)
    assert seen["add a directory source"] == 403, seen
    assert seen["list users"] == 403 and seen["make itself an administrator"] == 403, seen
    assert not LEAK.search(seen["reason"]), seen["reason"]


def test_malformed_requests_get_no_stack_trace(user):
    """Without a token, with a garbage one, and logged in as a user (`token`)."""
    answers = on_probe(
        logged_in(user)
        + """
big = "9" * 40
cases = {
    "bad JSON": ("POST", "/api/auth/login", None, "{not json", None),
    "a JSON string": ("POST", "/api/auth/login", None, '"admin"', None),
    "wrong types": ("POST", "/api/auth/login", {"username": 5, "password": ["x"]}, None, None),
    "huge refresh token": ("POST", "/api/auth/refresh", {"refresh_token": "x" * 100000}, None, None),
    "garbage token": ("GET", "/api/v2/collections", None, None, "garbage.not.a-token"),
    "unknown route": ("GET", "/api/v2/no-such-thing", None, None, None),
    "unknown method": ("DELETE", "/api/auth/login", None, None, None),
    "huge collection id": ("GET", "/api/v2/collections/" + big, None, None, token),
    "huge operation id": ("GET", "/api/v2/operations/" + big, None, None, token),
    "huge user id": ("PATCH", "/api/v2/users/" + big, {"is_active": False}, None, token),
    "huge page": ("GET", "/api/v2/collections?page=" + big + "&per_page=" + big, None, None, token),
    "bad JSON, logged in": ("POST", "/api/v2/collections", None, '{"name": ', token),
    "wrong types, logged in": ("POST", "/api/v2/collections", {"name": 5, "chunk_size": "huge"}, None, token),
    "nonsense search": (
        "POST", "/api/v2/search/single", {"collection_id": [], "query": {}, "k": -1}, None, token
    ),
    "unknown collection search": (
        "POST", "/api/v2/search/single", {"collection_id": big, "query": "x", "k": 3}, None, token
    ),
}
out = {}
for label, (method, path, body, raw, auth) in cases.items():
    status, _, text = call(method, path, body, raw, auth)
    out[label] = [status, text[:2000]]
print(json.dumps(out))
"""
    )
    for label, (status, text) in answers.items():
        print(f"{label}: {status} {text[:120]}")
        assert not LEAK.search(text), (label, status, text)
        assert 400 <= status < 500, (label, status, text)


@pytest.fixture
def unlocked_afterwards(host):
    """The administrator's account unlocked after the test (the lock lasts LOGIN_WINDOW_SECONDS, and
    later tests sign in): its failed-login count removed from Redis."""
    yield
    account = hashlib.sha256(admin_credentials()[0].lower().encode()).hexdigest()
    redis_cli(host, "DEL", f"semantik:auth:attempts:account:{account}")


def test_a_burst_of_wrong_passwords_for_the_administrator_is_refused_with_429(unlocked_afterwards):
    username = admin_credentials()[0]
    result = on_probe(f"""
tries = []
for n in range(60):
    guess = {{"username": {username!r}, "password": "wrong-%d" % n}}
    status, headers, _ = call("POST", "/api/auth/login", guess)
    tries.append([status, headers.get("retry-after"), "x-correlation-id" in headers])
    if status == 429:
        break
print(json.dumps(tries))
""")
    before = result[:-1]
    status, retry_after, from_app = result[-1]
    print(
        f"{len(before)} wrong-password logins for {username} before the first 429 "
        f"(answered by {'webui' if from_app else 'nginx'}, Retry-After: {retry_after})"
    )
    assert status == 429, result
    assert all(s == 401 for s, _, _ in before), result


def test_nginx_limits_the_rate_of_auth_requests_per_address():
    """Above the rate and burst of /api/auth/ (nginx_auth_rate, nginx_auth_burst), nginx answers 429
    itself, before webui (its answers carry no X-Correlation-ID)."""
    answers = on_probe("""
import http.client
host = BASE.split("//", 1)[1]
connection = http.client.HTTPSConnection(host, context=CTX, timeout=30)
answers = []
for _ in range(100):
    connection.request("GET", "/api/auth/me")
    response = connection.getresponse()
    response.read()
    answers.append([response.status, response.getheader("X-Correlation-ID") is not None])
    if response.will_close:
        connection.close()
        connection = http.client.HTTPSConnection(host, context=CTX, timeout=30)
print(json.dumps(answers))
""")
    by_nginx = [i for i, (status, from_app) in enumerate(answers) if status == 429 and not from_app]
    print(f"/api/auth/me: {by_nginx[0] if by_nginx else len(answers)} answers before nginx's first 429")
    assert by_nginx, answers
    assert all(status == 401 for status, from_app in answers[: by_nginx[0]]), answers
