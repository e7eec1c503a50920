"""The lab: real Debian hosts come up reachable over SSH and go without a trace.

Brings up hosts of its own (t-lab1, t-lab2) with the same playbooks as `make lab-up`, so it runs
beside other lab users; needs root, like the lab.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

LAB = Path(__file__).resolve().parents[2] / "ansible" / "lab"
NAMES = ["t-lab1", "t-lab2"]
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]  # fmt: skip


def playbook(name: str, hosts: list[str]) -> dict:
    """Run a lab playbook; return its stats for localhost (ok, changed, failures)."""
    ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
    done = subprocess.run(
        [ansible_playbook, str(LAB / name), "-e", json.dumps({"lab_hosts": hosts})],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout)["stats"]["localhost"]


def lab_list() -> dict:
    return json.loads(command(sys.executable, str(LAB / "lab.py"), "list"))


def nspawn_pids(name: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"systemd-nspawn") and f"--machine={name}".encode() in argv:
            pids.append(int(proc.name))
    return pids


def lab_mounts() -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo if line.split()[4].startswith("/var/lib/semantik-lab/")]


def command(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, str]]:
    """name -> address of this module's hosts; they are removed afterwards whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    try:
        playbook("up.yml", NAMES)
        yield {h["name"]: h["address"] for h in lab_list()["hosts"] if h["name"] in NAMES}
    finally:
        playbook("down.yml", NAMES)


def ssh(address: str, cmd: str, user: str = "admin") -> subprocess.CompletedProcess[str]:
    key = lab_list()["key"]
    return subprocess.run(
        ["ssh", *SSH_OPTS, "-i", key, f"{user}@{address}", cmd], capture_output=True, text=True, timeout=300
    )


def test_hosts_get_addresses_in_the_lab_subnet(lab: dict[str, str]) -> None:
    assert sorted(lab) == NAMES
    assert all(address.startswith("10.213.47.") for address in lab.values())
    assert len(set(lab.values())) == len(NAMES)


def test_ssh_as_admin_with_sudo_and_as_root(lab: dict[str, str]) -> None:
    for address in lab.values():
        assert ssh(address, "id -un").stdout.strip() == "admin"
        assert ssh(address, "sudo -n id -u").stdout.strip() == "0"
        assert ssh(address, "id -un", user="root").stdout.strip() == "root"


def test_systemd_is_running(lab: dict[str, str]) -> None:
    for name, address in lab.items():
        assert ssh(address, "hostname").stdout.strip() == name
        assert ssh(address, "systemctl is-system-running").stdout.strip() == "running"


def test_apt_installs_a_package(lab: dict[str, str]) -> None:
    address = lab["t-lab1"]
    assert ssh(address, "command -v tree").returncode != 0
    install = ssh(address, "sudo apt-get update -q && sudo apt-get install -y -q tree")
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert ssh(address, "tree -L 1 /etc/ssh").stdout.startswith("/etc/ssh")


def test_hosts_reach_each_other_by_name_and_address(lab: dict[str, str]) -> None:
    for name, address in lab.items():
        for peer, peer_address in lab.items():
            if peer == name:
                continue
            assert ssh(address, f"getent hosts {peer}").stdout.split()[0] == peer_address
            for target in (peer, peer_address):
                assert ssh(address, f"timeout 3 bash -c '</dev/tcp/{target}/22'").returncode == 0, target


def test_up_again_keeps_the_hosts(lab: dict[str, str]) -> None:
    before = {name: nspawn_pids(name) for name in NAMES}
    assert playbook("up.yml", NAMES)["changed"] == 0
    assert {name: nspawn_pids(name) for name in NAMES} == before


def test_up_recreates_a_dead_host(lab: dict[str, str]) -> None:
    (dead,) = nspawn_pids("t-lab2")
    os.kill(dead, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while nspawn_pids("t-lab2") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert playbook("up.yml", NAMES)["changed"] == 1
    assert nspawn_pids("t-lab2") not in ([], [dead])
    assert ssh(lab["t-lab2"], "systemctl is-system-running").stdout.strip() == "running"


def test_down_leaves_nothing_behind(lab: dict[str, str]) -> None:
    veths = [f"semlab-{address.rsplit('.', 1)[1]}" for address in lab.values()]
    netns = command("ip", "netns", "list")
    assert all(name in netns for name in NAMES)  # so that the checks below can fail
    assert all(veth in command("ip", "-o", "link") for veth in veths)

    assert playbook("down.yml", NAMES)["changed"] == 1
    assert not [name for name in NAMES if name in command("ip", "netns", "list")]
    assert not [veth for veth in veths if veth in command("ip", "-o", "link")]
    assert not [name for name in NAMES if nspawn_pids(name)]
    assert not [path for path in lab_mounts() if any(f"/hosts/{name}/" in path + "/" for name in NAMES)]
    if not lab_list()["hosts"]:  # the network is shared with any other lab user
        assert "semantik_lab" not in command("nft", "list", "tables")
        assert "semlab0" not in command("ip", "-o", "link")
        assert lab_mounts() == []
    assert playbook("down.yml", NAMES)["changed"] == 0
