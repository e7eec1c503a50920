"""A bad variable stops site.yml in its preflight play, naming the variable, before any change.

The dev inventory's host has no address here: any attempt to reach it would end UNREACHABLE. The
run failing with `unreachable=0` and `changed=0`, in the preflight play, shows that nothing was
touched. Each case is an operator's plausible mistake, given as an extra variable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from deploy_support import ansible_playbook, inventory_copy

pytestmark = pytest.mark.integration  # each test runs ansible-playbook

CASES = [
    ({"semantik_webui_workers": "many"}, "semantik_webui_workers"),
    ({"semantik_default_quantization": "int4"}, "semantik_default_quantization"),
    ({"semantik_environment": "staging"}, "semantik_environment"),
    ({"semantik_torch_variant": "rocm"}, "python_app_torch_variant"),
    ({"python_app_install_source": "cdrom"}, "python_app_install_source"),
    ({"semantik_webui_workers": 500}, "semantik_webui_workers"),
    ({"semantik_jwt_secret_key": ""}, "semantik_jwt_secret_key (JWT_SECRET_KEY, for webui)"),
    ({"semantik_database_url": ""}, "semantik_database_url (DATABASE_URL, for webui, worker, beat)"),
    ({"semantik_admin_password": ""}, "semantik_admin_password must be set"),
    ({"semantik_login_window_seconds": 0}, "semantik_login_window_seconds 1..86400"),
    ({"semantik_metrics_ports": {"webui": 9461, "worker": 9461}}, "semantik_metrics_ports"),
    ({"semantik_metrics_ports": {"webui": 8080}}, "semantik_metrics_ports"),
    ({"semantik_qdrant_path": "/srv/qdrant"}, "must be under /var/lib"),
    ({"postgresql_max_connections": "lots"}, "postgresql_max_connections"),
    ({"redis_appendfsync": "sometimes"}, "redis_appendfsync"),
]


@pytest.fixture(scope="module")
def dev_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return inventory_copy("dev", tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def site_runs(dev_inventory: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each case's own site.yml run, as many at a time as there are cores: each is mostly Ansible
    loading site.yml (on two cores the 15 runs took 40 s this way, 75 s one after the other)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        cases = [json.dumps(variables) for variables, _ in CASES]
        runs = {case: pool.submit(ansible_playbook, dev_inventory, "site.yml", "-e", case) for case in cases}
        return {case: run.result() for case, run in runs.items()}


@pytest.mark.parametrize(
    ("variables", "named"),
    CASES,
    ids=[next(iter(c[0])) + "=" + str(next(iter(c[0].values()))) for c in CASES],
)
def test_bad_variable_stops_site_before_any_change(site_runs: dict, variables: dict, named: str) -> None:
    done = site_runs[json.dumps(variables)]
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    assert named in out, out[-3000:]
    failed_task = re.findall(r"^TASK \[([^\]]*)\]", out[: out.index("fatal:")], re.M)[-1]
    assert failed_task.startswith(("Stop on a variable", "python_app : Check", "semantik : Check")), (
        failed_task
    )
    assert "PLAY [Check the inventory and every role's variables]" in out
    for play in ("Install the NVIDIA driver", "Set up PostgreSQL", "Migrate the database schema"):
        assert f"PLAY [{play}" not in out or "NO MORE HOSTS LEFT" in out
    recap = re.search(r"semantik-dev\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out)
    assert recap and recap.groups() == ("0", "0", "1"), out[-1500:]


def test_the_untouched_inventory_passes_preflight(dev_inventory: Path) -> None:
    done = ansible_playbook(dev_inventory, "playbooks/preflight.yml")
    assert done.returncode == 0, done.stdout[-3000:]


def test_prod_needs_exactly_one_beat_host(tmp_path: Path) -> None:
    inventory = inventory_copy("prod", tmp_path)
    hosts = inventory / "hosts.yml"
    hosts.write_text(
        hosts.read_text().replace(
            "    beat:\n      hosts:\n        work1:\n",
            "    beat:\n      hosts:\n        work1:\n        work2:\n",
        )
    )
    done = ansible_playbook(inventory, "playbooks/preflight.yml", env="prod")
    assert done.returncode != 0
    assert "exactly one host in beat" in done.stdout
    assert "'beat': 2" in done.stdout


def test_a_bad_schema_revision_stops_rollback_before_any_change(dev_inventory: Path) -> None:
    done = ansible_playbook(dev_inventory, "playbooks/rollback.yml", "-e", "rollback_schema_to=yesterday")
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "rollback_schema_to must be an Alembic revision (its hex digits), base, or -N" in out, out[-3000:]
    assert '"yesterday"' in out
    recap = re.search(r"semantik-dev\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out)
    assert recap and recap.groups() == ("0", "0", "1"), out[-1500:]
