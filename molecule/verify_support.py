"""What the scenarios' testinfra tests share: running playbooks as the operator would, against
the scenario's inventory (with the vault of the environment whose group_vars it links), the demo
client (ansible/demo.py) for the public API, what answers on the network, the lab's memory."""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import testinfra
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY_FILE = os.environ["MOLECULE_INVENTORY_FILE"]
INVENTORY = AnsibleRunner(INVENTORY_FILE)
ROOT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[1]))
BIN = Path(sys.executable).parent
# The environment whose variables the scenario uses: the one its group_vars link points into
# (inventories/<env>/group_vars); dev for a scenario without that link.
_LINKED = Path(INVENTORY_FILE).parent / "group_vars"
ENVIRONMENT = _LINKED.resolve().parent.name if _LINKED.is_symlink() else "dev"
VAULT_ID = f"{ENVIRONMENT}@{ROOT}/ansible/vault-pass-client.py"
ANSIBLE_ENV = {
    **os.environ,
    "PATH": f"{BIN}:{os.environ['PATH']}",
    "ANSIBLE_VAULT_IDENTITY_LIST": VAULT_ID,
    "ANSIBLE_CONFIG": os.environ.get(
        "ANSIBLE_CONFIG", str(Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ".")) / "ansible.cfg")
    ),
    "ANSIBLE_FORCE_COLOR": "0",
}
ANSIBLE_ENV.pop("ANSIBLE_CALLBACKS_ENABLED", None)

_spec = importlib.util.spec_from_file_location("demo", ROOT / "ansible/demo.py")
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)


def admin_credentials() -> tuple[str, str]:
    """The first administrator the deployment created: its name (the role's default unless the
    inventory sets one) and its password, read from the scenario's vault as Ansible reads it."""
    shown = subprocess.run(
        [
            str(BIN / "ansible-vault"),
            "view",
            "--vault-id",
            VAULT_ID,
            str(ROOT / f"inventories/{ENVIRONMENT}/group_vars/all/vault.yml"),
        ],
        cwd=ROOT,
        env=ANSIBLE_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    password = yaml.safe_load(shown.stdout)["vault_semantik_admin_password"]
    webui = INVENTORY.get_hosts("webui")[0]
    return INVENTORY.get_variables(webui).get("semantik_admin_username", "admin"), password


def changed_tasks(stdout: str) -> dict[str, list[str]]:
    """The tasks that reported a change, by host (what to read when a run should have changed nothing)."""
    found: dict[str, list[str]] = {}
    task = ""
    for line in stdout.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif line.startswith("changed: ["):
            found.setdefault(line[len("changed: [") :].split("]")[0], []).append(task)
    return found


def address(host: str) -> str:
    return INVENTORY.get_variables(host)["ansible_host"]


def ansible_playbook(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A playbook of the project against the scenario's hosts, from the project's root (`env`: more
    environment, e.g. ANSIBLE_STDOUT_CALLBACK)."""
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", INVENTORY_FILE, *args],
        cwd=ROOT,
        env={**ANSIBLE_ENV, **(env or {})},
        stdin=subprocess.DEVNULL,  # a prompt (wipe.yml's) gets no answer, as in CI, not a wait
        capture_output=True,
        text=True,
        timeout=1800,  # a bound on a hung run: the upgrade alone takes 10 to 15 minutes
    )


def redis_cli(host, *command: str) -> str:
    """redis-cli on a testinfra `host` as the services reach Redis (the worker's REDIS_URL, its account)."""
    script = 'set -a; . /etc/semantik/worker.env; exec redis-cli --no-auth-warning -u "$REDIS_URL" '
    script += " ".join(command)
    with host.sudo():
        return host.check_output("sh -c %s", script)


def lab_host(name: str):
    """A testinfra host of the scenario, by its inventory name."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY_FILE)


REACH = (ROOT / "ansible/lab/reach.py").read_text()


def reach(source: str, targets: dict[str, list[int]], timeout: float = 2.0) -> dict[str, dict[int, str]]:
    """From the host `source`, every port of every target address at once (ansible/lab/reach.py):
    {address: {port: open | refused | filtered | error name}}."""
    spec = [f"{target}:{','.join(map(str, ports))}" for target, ports in targets.items()]
    done = lab_host(source).run(
        "python3 -c %s %s " + " ".join(["%s"] * len(spec)), REACH, str(timeout), *spec
    )
    assert done.rc == 0, (source, done.stderr)
    return {
        target: {int(port): seen for port, seen in states.items()}
        for target, states in json.loads(done.stdout).items()
    }


def lab_memory(names: list[str]) -> dict[str, dict[str, int]]:
    """Each lab host's memory in bytes, from its cgroup on the controller
    (/sys/fs/cgroup/*/semantik-lab/NAME): `peak` (memory.peak where the memory controller is there),
    `pss` (now, summed over its processes) and `hwm` (the sum of its processes' own peaks,
    VmHWM: an upper bound of the host's peak, pages shared between processes counted each time)."""
    found = {}
    for name in names:
        usage = {"pss": 0, "hwm": 0}
        for peak in glob.glob(f"/sys/fs/cgroup/*/semantik-lab/{name}/memory.peak"):
            usage["peak"] = int(Path(peak).read_text())
        pids = set()
        for procs in glob.glob(f"/sys/fs/cgroup/unified/semantik-lab/{name}/**/cgroup.procs", recursive=True):
            pids.update(Path(procs).read_text().split())
        for pid in pids:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:  # gone meanwhile, or a kernel thread
                continue
            for text, field, key in [(rollup, "Pss:", "pss"), (status, "VmHWM:", "hwm")]:
                for line in text.splitlines():
                    if line.startswith(field):
                        usage[key] += int(line.split()[1]) * 1024
        found[name] = usage
    return found
