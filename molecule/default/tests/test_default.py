"""The dev stack on a real host: services, hardening, the public path, refusals, ports, check mode.

mol-semantik runs every tier; mol-probe, in no Semantik group, looks at it from the network.
"""

import json
import re
import ssl
import sys
import urllib.request
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from verify_support import INVENTORY_FILE, ROOT, address, ansible_playbook  # noqa: E402

TARGET = "mol-semantik"
testinfra_hosts = [TARGET]
ADDRESS = address(TARGET)
UNITS = ["webui", "vecpipe", "worker", "beat", "flower"]
EXPOSURE_LIMIT = {"webui": 3.0, "vecpipe": 5.0, "worker": 3.0, "beat": 3.0, "flower": 3.0}


@pytest.mark.parametrize("unit", UNITS)
def test_service_is_enabled_and_running_as_semantik(host, unit):
    service = host.service(f"semantik-{unit}")
    assert service.is_enabled
    assert service.is_running
    props = host.run(f"systemctl show -p User,EnvironmentFiles,ExecStart semantik-{unit}").stdout
    assert "User=semantik" in props
    assert "/etc/semantik/semantik.env" in props
    assert f"/opt/semantik/venv/bin/semantik ; argv[]=/opt/semantik/venv/bin/semantik {unit}" in props


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_hardened(host, unit):
    with host.sudo():
        out = host.check_output(f"systemd-analyze security --no-pager semantik-{unit}.service")
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out)[1])
    assert exposure <= EXPOSURE_LIMIT[unit], out
    with host.sudo():
        props = host.check_output(
            f"systemctl show -p CPUQuotaPerSecUSec,MemoryMax,DevicePolicy semantik-{unit}"
        )
    assert "MemoryMax=infinity" not in props and "CPUQuotaPerSecUSec=infinity" not in props


def test_environment_file_is_private_and_checked(host):
    with host.sudo():
        env = host.file("/etc/semantik/semantik.env")
        assert (env.user, env.group, env.mode) == ("root", "semantik", 0o640)
        check = host.run(
            "env -i sh -c 'set -a; . /etc/semantik/semantik.env; "
            "exec /opt/semantik/venv/bin/semantik check-config webui vecpipe worker beat flower'"
        )
    assert check.rc == 0, check.stderr


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
    closed = {port: answers(port) for port in (8000, 8080, 5555, 5432, 6379, 6333)}
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


def test_check_mode_changes_nothing_and_prints_no_secret(host):
    done = ansible_playbook(str(ROOT / "site.yml"), "--check", "--diff")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    recap = re.search(rf"{TARGET}\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", out)
    assert recap and recap[1] == "0", out[-3000:]
    with host.sudo():
        env = host.file("/etc/semantik/semantik.env").content_string
    secrets = [
        value.strip("'")
        for line in env.splitlines()
        for name, _, value in [line.partition("=")]
        if name in {"JWT_SECRET_KEY", "INTERNAL_API_KEY", "FLOWER_BASIC_AUTH", "DATABASE_URL", "REDIS_URL"}
    ]
    assert len(secrets) == 5
    for secret in secrets:
        assert secret not in out
    passwords = [re.search(r"://[^:]+:([^@]+)@", s)[1] for s in secrets if "://" in s]
    assert len(passwords) == 2 and not any(p in out for p in passwords)


def test_a_bad_environment_value_is_refused_by_check_config_before_any_restart(host):
    started_at = "systemctl show -p ActiveEnterTimestamp semantik-webui semantik-worker"
    with host.sudo():
        before = host.file("/etc/semantik/semantik.env").content_string
        started = host.check_output(started_at)
    bad = '{"semantik_extra_env": {"DB_POOL_SIZE": "many", "DB_MAX_OVERFLOW": "10"}}'

    done = ansible_playbook(str(ROOT / "site.yml"), "--tags", "semantik_configure", "-e", bad)

    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "DB_POOL_SIZE: Input should be a valid integer" in out, out[-3000:]
    with host.sudo():
        assert host.file("/etc/semantik/semantik.env").content_string == before
        assert host.check_output(started_at) == started


def test_a_unit_edited_by_hand_is_put_back_and_restarted(host):
    unit = "/etc/systemd/system/semantik-beat.service"
    with host.sudo():
        original = host.file(unit).content_string
        host.check_output(f"echo '# edited by hand' >> {unit} && chmod 600 {unit}")

    done = ansible_playbook(str(ROOT / "site.yml"), "--tags", "semantik_configure,semantik_run")

    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "changed: [mol-semantik] => (item=beat)" in done.stdout
    with host.sudo():
        assert host.file(unit).content_string == original
        assert host.file(unit).mode == 0o644
    assert host.service("semantik-beat").is_running
