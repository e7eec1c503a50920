"""Helpers of the tests on lab hosts of their own (the lab's, the platform roles'): the hosts, an
inventory, playbook runs, ssh.

The hosts come from ansible/lab (up.yml/down.yml, like `make lab-up`), under names no one else
uses, and are always removed afterwards. Playbooks run with the project's ansible.cfg (repo root).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "ansible" / "lab"
BIN = Path(sys.executable).parent
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]  # fmt: skip
# Hosts of one layout converge as the dev one does (README, "Speed"): with Mitogen's strategy, about a
# quarter faster here (test_platform 163 s against 215 s); ANSIBLE_STRATEGY=linear runs them with Ansible's.
STRATEGY = os.environ.get("ANSIBLE_STRATEGY", "mitogen_linear")
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Run:
    rc: int
    output: str

    def recap(self, host: str) -> dict[str, int]:
        for name, ok, changed, unreachable, failed in RECAP.findall(self.output):
            if name == host:
                counts = (ok, changed, unreachable, failed)
                return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, counts), strict=True))
        raise AssertionError(f"no recap line for {host}:\n{self.output[-3000:]}")

    def recap_line(self, host: str) -> str:
        lines = self.output.splitlines()
        return next(line for line in lines if line.startswith(f"{host} ") and "ok=" in line)

    def changed_tasks(self) -> list[str]:
        """Names of the tasks and handlers that reported a change."""
        names, current = [], ""
        for line in self.output.splitlines():
            header = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \*+$", line)
            if header:
                current = header.group(1)
            elif line.startswith("changed:") and current not in names:
                names.append(current)
        return names


def lab_playbook(name: str, hosts: list[str]) -> dict[str, int]:
    """Run a lab playbook (up.yml, down.yml) for these hosts; its stats (ok, changed, failures)."""
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), str(LAB / name), "-e", json.dumps({"lab_hosts": hosts})],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout)["stats"]["localhost"]


def lab_list() -> dict:
    """`lab.py list`: every lab host (anyone's), the key, the shared inventory."""
    listing = subprocess.run(
        [sys.executable, str(LAB / "lab.py"), "list"], capture_output=True, text=True, check=True
    )
    return json.loads(listing.stdout)


def lab_up(names: list[str]) -> dict[str, str]:
    """Bring these hosts up; name -> address."""
    lab_playbook("up.yml", names)
    return {h["name"]: h["address"] for h in lab_list()["hosts"] if h["name"] in names}


def lab_down(names: list[str]) -> None:
    lab_playbook("down.yml", names)


def key() -> str:
    return "/var/lib/semantik-lab/id_ed25519"


def write_inventory(path: Path, hosts: dict[str, str], groups: list[str]) -> Path:
    """An inventory of our own: the lab's shared file is rewritten whenever anyone's host comes up."""
    inventory = {
        "all": {
            "vars": {
                "ansible_user": "admin",
                "ansible_ssh_private_key_file": key(),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                "ansible_host_key_checking": False,
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "children": {
                group: {"hosts": {name: {"ansible_host": address} for name, address in hosts.items()}}
                for group in groups
            },
        }
    }
    path.write_text(json.dumps(inventory, indent=2))
    return path


def playbook(playbook: str | Path, inventory: Path, *args: str, timeout: int = 900) -> Run:
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_STRATEGY": STRATEGY},
    )  # fmt: skip
    return Run(done.returncode, done.stdout + done.stderr)


def ssh(address: str, cmd: str, user: str = "root") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", *SSH_OPTS, "-i", key(), f"{user}@{address}", cmd],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
