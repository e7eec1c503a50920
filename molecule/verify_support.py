"""What the scenarios' testinfra tests share: running playbooks as the operator would, against
the scenario's inventory, and the demo client (ansible/demo.py) for the public API."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY_FILE = os.environ["MOLECULE_INVENTORY_FILE"]
INVENTORY = AnsibleRunner(INVENTORY_FILE)
ROOT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[1]))
BIN = Path(sys.executable).parent
ANSIBLE_ENV = {
    **os.environ,
    "PATH": f"{BIN}:{os.environ['PATH']}",
    "ANSIBLE_VAULT_IDENTITY_LIST": f"dev@{ROOT}/ansible/vault-pass-client.py",
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
    inventory sets one) and its password, read from the dev vault as Ansible reads it."""
    shown = subprocess.run(
        [
            str(BIN / "ansible-vault"),
            "view",
            "--vault-id",
            f"dev@{ROOT}/ansible/vault-pass-client.py",
            str(ROOT / "inventories/dev/group_vars/all/vault.yml"),
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


def address(host: str) -> str:
    return INVENTORY.get_variables(host)["ansible_host"]


def ansible_playbook(*args: str) -> subprocess.CompletedProcess:
    """A playbook of the project against the scenario's hosts, from the project's root."""
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", INVENTORY_FILE, *args],
        cwd=ROOT,
        env=ANSIBLE_ENV,
        capture_output=True,
        text=True,
        timeout=900,
    )
