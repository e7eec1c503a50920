"""Helpers for the deployment tests: a throwaway copy of an inventory with fresh vault secrets."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
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


class Scenario:
    """`molecule test -s <name>` in a process of its own, which may run beside other tests. Its whole
    output goes to build/molecule-<name>.log (git-ignored): the figures the scenario prints, what failed
    and why. A scenario reads the variables (and so the vault) of its environment: on a fresh clone (no
    password file) the wizard runs first, as `make wizard ENV=<env>` would, into git-ignored files."""

    ENVIRONMENTS = {"default": "dev", "prod": "prod"}
    TIMEOUT = 3600

    def __init__(self, name: str) -> None:
        self.name = name
        self.log = ROOT / "build" / f"molecule-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.deadline = 0.0

    @staticmethod
    def environ() -> dict[str, str]:
        return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}

    def start(self) -> Scenario:
        environment = self.ENVIRONMENTS[self.name]
        if not (ROOT / f"inventories/{environment}/.vault_pass").exists():
            subprocess.run([sys.executable, str(ROOT / "ansible/wizard.py"), environment], check=True)
        self.log.parent.mkdir(exist_ok=True)
        with open(self.log, "wb") as log:
            # A session of its own: stop() ends molecule and its children, not the tests that wait.
            self.process = subprocess.Popen(
                [str(BIN / "molecule"), "test", "-s", self.name],
                cwd=ROOT,
                env=self.environ(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.deadline = time.monotonic() + self.TIMEOUT
        return self

    def wait(self) -> tuple[int, str]:
        """Its exit status and output, once it ends (stopped, and 124, past TIMEOUT from its start)."""
        assert self.process is not None, "not started"
        try:
            rc = self.process.wait(timeout=max(1.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            rc = 124
        return rc, self.log.read_text(errors="replace")

    def stop(self) -> None:
        """End it if it still runs (a session cut short, a timeout), and remove its hosts."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        subprocess.run(
            [str(BIN / "molecule"), "destroy", "-s", self.name],
            cwd=ROOT,
            env=self.environ(),
            capture_output=True,
            timeout=600,
        )


# The scenarios started beside the rest of the suite (conftest.py), by name.
BESIDE: dict[str, Scenario] = {}
