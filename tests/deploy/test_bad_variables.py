"""A bad variable stops a platform role before any change, with a message that names it.

Each case is a host of its own (the controller itself, local) that applies one role with the case's
variables as its host variables, in check mode and without facts: the argument spec and preflight
fail first, so nothing is touched even if they did not. All the cases are one ansible-playbook run
(a failed host leaves the play, the others go on): Ansible starts once, not once per case.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # each test runs ansible-playbook

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "p-" + "Zq7" * 8
CHECKSUM = "sha256:" + "0" * 64

CASES = [
    ("qdrant", {"qdrant_api_key": PASSWORD}, "qdrant_checksum must be 'sha256:<64 hex digits>'"),
    ("qdrant", {"qdrant_checksum": CHECKSUM}, "qdrant_api_key"),
    ("qdrant", {"qdrant_checksum": CHECKSUM, "qdrant_api_key": PASSWORD, "qdrant_version": "latest"},
     "qdrant_version must be a release"),
    ("postgresql", {}, "postgresql_password"),
    ("postgresql", {"postgresql_password": PASSWORD, "postgresql_shared_buffers": "lots"},
     "postgresql_shared_buffers must be a size"),
    ("postgresql", {"postgresql_password": PASSWORD, "postgresql_allowed_networks": ["10.0.1.0"]},
     "postgresql_allowed_networks must hold CIDR"),
    ("postgresql", {"postgresql_password": PASSWORD, "postgresql_max_connections": "many"},
     "postgresql_max_connections"),
    ("postgresql", {"postgresql_password": PASSWORD, "postgresql_tls_enabled": True},
     "postgresql_tls_enabled needs postgresql_tls_cert_src"),
    ("redis", {}, "redis_password"),
    ("redis", {"redis_password": PASSWORD, "redis_tls_enabled": True, "redis_tls_cert_src": "/c"},
     "redis_tls_enabled needs redis_tls_cert_src, redis_tls_key_src and redis_tls_ca_src"),
    ("redis", {"redis_password": PASSWORD, "redis_appendfsync": "sometimes"}, "redis_appendfsync"),
    ("redis", {"redis_password": PASSWORD, "redis_users": [{"name": "default", "password": PASSWORD}]},
     "redis_users: 'default' is not a usable name"),
    ("nvidia_driver", {"nvidia_driver_gpu_present": "maybe"}, "nvidia_driver_gpu_present"),
    ("nvidia_driver", {"nvidia_driver_kernel_module": "nouveau"}, "nvidia_driver_kernel_module"),
    ("cuda", {"cuda_gpu_present": "perhaps"}, "cuda_gpu_present"),
    ("nginx", {}, "nginx_flower_password must be set"),
    ("nginx", {"nginx_tls_mode": "provided", "nginx_flower_upstream": ""}, "nginx_tls_certificate_src"),
    ("nginx", {"nginx_flower_password": PASSWORD, "nginx_webui_upstreams": ["webui"]},
     "nginx_webui_upstreams"),
    ("nginx", {"nginx_flower_password": PASSWORD, "nginx_auth_rate": "10 per second"},
     "nginx_auth_rate must be like 10r/s"),
    ("nginx", {"nginx_flower_password": PASSWORD, "nginx_upstream_tls": True}, "nginx_upstream_tls_ca_src"),
    ("pki", {"pki_host_addresses": ["db1.example"]}, "pki_host_addresses must be IP addresses"),
    ("common", {"common_firewall_enabled": True, "common_firewall_allowed_tcp_ports": [443]},
     "common_firewall_allowed_tcp_ports must contain the SSH port"),
    ("common", {"common_data_dir": "var/lib/semantik"}, "common_data_dir must be an absolute path"),
    ("common", {"common_hosts_entries": [{"name": "db1", "address": "db.example"}]}, "common_hosts_entries"),
    ("exporters", {"exporters_redis": True}, "exporters_redis_password too where"),
    ("exporters", {"exporters_redis_password": PASSWORD, "exporters_redis_addr": "10.0.1.61:6379"},
     "exporters_redis_addr a redis://"),
    ("monitoring", {"monitoring_targets": [{"job": "node", "host": "db1", "target": "db1"}]},
     "monitoring_targets must be"),
    ("monitoring", {"monitoring_retention": "forever"}, "monitoring_retention like 15d"),
    ("backup", {}, "backup_redis_password must be set"),
    ("backup", {"backup_redis_password": PASSWORD, "backup_keep": 0}, "backup_keep must be at least 1"),
    ("backup", {"backup_redis_password": PASSWORD, "backup_root": "rel"}, "backup_root must be an absolute"),
    ("backup", {"backup_redis_password": PASSWORD, "backup_name": "yesterday"},
     "backup_name must be YYYYmmddTHHMMSSZ or latest, not 'yesterday'"),
    ("backup", {"backup_redis_password": PASSWORD, "backup_target_host": "nas9"},
     "backup_target_host must be localhost or a host of the inventory"),
]  # fmt: skip


HOSTS = [f"case{n:02d}" for n in range(len(CASES))]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the run printed about each case's host, by host."""
    tmp = tmp_path_factory.mktemp("bad-variables")
    cases = zip(HOSTS, CASES, strict=True)
    hosts = {host: {"case_role": role, **values} for host, (role, values, _) in cases}
    (tmp / "inventory.json").write_text(json.dumps({"all": {"hosts": hosts}}))
    play = [{"name": "Apply each case's role", "hosts": "all", "connection": "local", "gather_facts": False,
             "tasks": [{"ansible.builtin.include_role": {"name": "{{ case_role }}"}}]}]  # fmt: skip
    (tmp / "play.yml").write_text(json.dumps(play))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp / "inventory.json"), "--check",
         str(tmp / "play.yml"), "-e", f"ansible_python_interpreter={sys.executable}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0"},
    )  # fmt: skip
    assert done.returncode != 0, done.stdout[-3000:]
    assert PASSWORD not in done.stdout
    # A host's lines: each of its results with what was printed just before it (2.19 prints a
    # failure's [ERROR] message, without the host's name, right before its `fatal:` line), its recap.
    shown: dict[str, list[str]] = {host: [] for host in HOSTS}
    since: list[str] = []
    for line in done.stdout.splitlines():
        if result := re.match(r"^(?:ok|changed|skipping|fatal|failed): \[(\w+)\]", line):
            shown[result[1]] += [*since, line]
            since = []
        elif line.startswith(("TASK [", "PLAY ")):
            since = []
        elif (recap := line.split(" ", 1)[0]) in shown:
            shown[recap].append(line)
        else:
            since.append(line)
    return {host: "\n".join(lines) for host, lines in shown.items()}


@pytest.mark.parametrize(("host", "message"), [(h, c[2]) for h, c in zip(HOSTS, CASES, strict=True)],
                         ids=[f"{c[0]}-{c[2][:40]}" for c in CASES])  # fmt: skip
def test_bad_variable_fails_before_any_change(runs: dict[str, str], host: str, message: str) -> None:
    shown = runs[host]
    assert message in shown, shown[-3000:]
    assert re.search(r": ok=\d+\s+changed=0\s+unreachable=0\s+failed=1\b", shown), shown[-3000:]
