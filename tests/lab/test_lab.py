"""The lab: real Debian hosts come up reachable over SSH and go without a trace.

Brings up hosts of its own (t-lab1, t-lab2) with the same playbooks as `make lab-up`, so it runs
beside other lab users; needs root, like the lab.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.lab import lab_list, lab_playbook, ssh

pytestmark = pytest.mark.lab

NAMES = ["t-lab1", "t-lab2"]


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
        lab_playbook("up.yml", NAMES)
        yield {h["name"]: h["address"] for h in lab_list()["hosts"] if h["name"] in NAMES}
    finally:
        lab_playbook("down.yml", NAMES)


def test_hosts_get_addresses_in_the_lab_subnet(lab: dict[str, str]) -> None:
    assert sorted(lab) == NAMES
    assert all(address.startswith("10.213.47.") for address in lab.values())
    assert len(set(lab.values())) == len(NAMES)


def test_ssh_as_admin_with_sudo_and_as_root(lab: dict[str, str]) -> None:
    for address in lab.values():
        assert ssh(address, "id -un", user="admin").stdout.strip() == "admin"
        assert ssh(address, "sudo -n id -u", user="admin").stdout.strip() == "0"
        assert ssh(address, "id -un", user="root").stdout.strip() == "root"


def test_systemd_is_running(lab: dict[str, str]) -> None:
    for name, address in lab.items():
        assert ssh(address, "hostname", user="admin").stdout.strip() == name
        assert ssh(address, "systemctl is-system-running", user="admin").stdout.strip() == "running"


def test_apt_installs_a_package(lab: dict[str, str]) -> None:
    address = lab["t-lab1"]
    assert ssh(address, "command -v tree", user="admin").returncode != 0
    install = ssh(address, "sudo apt-get update -q && sudo apt-get install -y -q tree", user="admin")
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert ssh(address, "tree -L 1 /etc/ssh", user="admin").stdout.startswith("/etc/ssh")


def test_hosts_reach_each_other_by_name_and_address(lab: dict[str, str]) -> None:
    for name, address in lab.items():
        for peer, peer_address in lab.items():
            if peer == name:
                continue
            assert ssh(address, f"getent hosts {peer}", user="admin").stdout.split()[0] == peer_address
            for target in (peer, peer_address):
                assert (
                    ssh(address, f"timeout 3 bash -c '</dev/tcp/{target}/22'", user="admin").returncode == 0
                ), target


def test_up_again_keeps_the_hosts(lab: dict[str, str]) -> None:
    before = {name: nspawn_pids(name) for name in NAMES}
    assert lab_playbook("up.yml", NAMES)["changed"] == 0
    assert {name: nspawn_pids(name) for name in NAMES} == before


def test_up_recreates_a_dead_host(lab: dict[str, str]) -> None:
    (dead,) = nspawn_pids("t-lab2")
    os.kill(dead, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while nspawn_pids("t-lab2") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lab_playbook("up.yml", NAMES)["changed"] == 1
    assert nspawn_pids("t-lab2") not in ([], [dead])
    assert ssh(lab["t-lab2"], "systemctl is-system-running", user="admin").stdout.strip() == "running"


def test_down_leaves_nothing_behind(lab: dict[str, str]) -> None:
    veths = [f"semlab-{address.rsplit('.', 1)[1]}" for address in lab.values()]
    netns = command("ip", "netns", "list")
    assert all(name in netns for name in NAMES)  # so that the checks below can fail
    assert all(veth in command("ip", "-o", "link") for veth in veths)

    assert lab_playbook("down.yml", NAMES)["changed"] == 1
    assert not [name for name in NAMES if name in command("ip", "netns", "list")]
    assert not [veth for veth in veths if veth in command("ip", "-o", "link")]
    assert not [name for name in NAMES if nspawn_pids(name)]
    assert not [path for path in lab_mounts() if any(f"/hosts/{name}/" in path + "/" for name in NAMES)]
    if not lab_list()["hosts"]:  # the network is shared with any other lab user
        assert "semantik_lab" not in command("nft", "list", "tables")
        assert "semlab0" not in command("ip", "-o", "link")
        assert lab_mounts() == []
    assert lab_playbook("down.yml", NAMES)["changed"] == 0
