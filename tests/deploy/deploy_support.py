"""Helpers for the deployment tests: a throwaway copy of an inventory with fresh vault secrets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


# What `make wizard` and `make demo` write into an inventory (all git-ignored): a clone has none of it.
NOT_IN_A_CLONE = shutil.ignore_patterns(".vault_pass", "vault.yml", "lab.yml")


def inventory_copy(env: str, dest: Path) -> Path:
    """inventories/<env> copied under dest (no password file, no lab host address), with a new vault."""
    target = dest / "inventories" / env
    shutil.copytree(ROOT / "inventories" / env, target, ignore=NOT_IN_A_CLONE)
    done = subprocess.run(
        [sys.executable, str(ROOT / "ansible/wizard.py"), env, "--inventory-dir", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return target


def ansible_playbook(
    inventory: Path, *args: str, env: str = "dev", timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_VAULT_IDENTITY_LIST": f"{env}@{inventory / '.vault_pass'}",
    }
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def secrets_of(inventory: Path) -> dict[str, str]:
    """The vault's secrets of an inventory with its .vault_pass.

    Through the CLI: importing ansible here would patch sys.intern under torch in this process.
    """
    shown = subprocess.run(
        [
            str(BIN / "ansible-vault"),
            "view",
            "--vault-id",
            f"dev@{inventory / '.vault_pass'}",
            str(inventory / "group_vars/all/vault.yml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return yaml.safe_load(shown.stdout)
