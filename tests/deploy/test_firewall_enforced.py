"""common's firewall, enforced on real hosts: every port of a server is tried from every other host
and from the controller, and the reachability matrix equals the intended one exactly, also after
nftables restarts; a second run of the role changes nothing.

Three lab hosts of its own: fw-srv (the firewall), fw-client and fw-probe. Lab hosts have
CAP_NET_ADMIN in their own network namespace, so the rules are loaded there and nowhere else.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.lab import ROOT, Run, lab_down, lab_up, playbook, ssh, write_inventory

pytestmark = pytest.mark.lab

SERVER, CLIENT, PROBE = "fw-srv", "fw-client", "fw-probe"
CONTROLLER = "controller"
FIXTURE = ROOT / "tests" / "deploy" / "firewall.yml"
TAGS = "common_preflight,common_firewall"
# 22 is sshd; the others are throwaway listeners. 8080 is allowed from nobody.
PORTS = [22, 5432, 6379, 8080]
LISTENERS = [5432, 6379, 8080]
TIMEOUT = 2.0
# Tries each port of a host at once (shared with molecule/prod): a dropped SYN times out
# ("filtered"), a refused one would mean no listener.
REACH = (ROOT / "ansible" / "lab" / "reach.py").read_text()


@dataclass
class Lab:
    hosts: dict[str, str]
    inventory: Path
    rules: Path

    def apply(self) -> Run:
        return playbook(FIXTURE, self.inventory, "--tags", TAGS, "-e", f"@{self.rules}", timeout=300)


def reachable_from_controller(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=TIMEOUT).close()
        return True
    except OSError:
        return False


def matrix(lab: Lab) -> dict[str, dict[int, bool]]:
    """source -> port -> whether a TCP connection to the server succeeds."""
    target = lab.hosts[SERVER]
    ports = ",".join(map(str, PORTS))

    def from_host(name: str) -> dict[int, bool]:
        done = ssh(lab.hosts[name], f"python3 -c '{REACH}' {TIMEOUT} {target}:{ports}")
        assert done.returncode == 0, done.stderr
        return {int(port): seen == "open" for port, seen in json.loads(done.stdout)[target].items()}

    with ThreadPoolExecutor(3) as pool:
        rows = dict(zip([CLIENT, PROBE], pool.map(from_host, [CLIENT, PROBE]), strict=True))
        rows[CONTROLLER] = dict(
            zip(PORTS, pool.map(lambda p: reachable_from_controller(target, p), PORTS), strict=True)
        )
    return rows


def render(title: str, rows: dict[str, dict[int, bool]]) -> str:
    width = max(map(len, rows)) + 2
    lines = [f"{title} (to {SERVER})", "from".ljust(width) + "".join(f"{p:>7}" for p in PORTS)]
    for source, row in rows.items():
        lines.append(source.ljust(width) + "".join(f"{'open' if row[p] else '-':>7}" for p in PORTS))
    return "\n".join(lines)


def intended() -> dict[str, dict[int, bool]]:
    allowed = {CLIENT: {22, 5432}, PROBE: {22, 6379}, CONTROLLER: {22}}
    return {source: {port: port in ports for port in PORTS} for source, ports in allowed.items()}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    tmp = tmp_path_factory.mktemp("firewall")
    names = [SERVER, CLIENT, PROBE]
    try:
        hosts = lab_up(names)
        rules = {
            "common_firewall_allowed_tcp_ports": [22],
            "common_firewall_allowed_from": [
                {"port": 5432, "sources": [hosts[CLIENT]]},
                {"port": 6379, "sources": [f"{hosts[PROBE]}/32"]},
            ],
        }
        (tmp / "rules.json").write_text(json.dumps(rules))
        inventory = write_inventory(tmp / "inventory.json", {SERVER: hosts[SERVER]}, ["firewall"])
        yield Lab(hosts, inventory, tmp / "rules.json")
    finally:
        lab_down(names)


@pytest.fixture(scope="module")
def listening(lab: Lab) -> Lab:
    """Throwaway listeners on the server, stopped by systemd after five minutes at the latest."""
    address = lab.hosts[SERVER]
    for port in LISTENERS:
        unit = f"--unit=fw-listen-{port} --collect --property=RuntimeMaxSec=300"
        started = ssh(address, f"systemd-run {unit} python3 -m http.server {port} --bind 0.0.0.0 -d /srv")
        assert started.returncode == 0, started.stderr
    wait = (
        "import socket, time\n"
        "deadline = time.monotonic() + 20\n"
        f"for port in {LISTENERS}:\n"
        "    while True:\n"
        "        try:\n"
        "            socket.create_connection(('127.0.0.1', port), timeout=1).close()\n"
        "            break\n"
        "        except OSError:\n"
        "            assert time.monotonic() < deadline, port\n"
        "            time.sleep(0.2)\n"
    )
    waited = ssh(address, f'python3 -c "{wait}"')
    assert waited.returncode == 0, "the listeners did not come up: " + waited.stderr
    return lab


@pytest.fixture(scope="module")
def enforced(listening: Lab) -> dict[str, Run]:
    before = matrix(listening)
    print("\n" + render("Before the firewall", before))
    # Every port open at first: what the firewall closes below, it closes, not a missing listener.
    assert all(all(row.values()) for row in before.values()), before
    runs = {"first": listening.apply(), "second": listening.apply()}
    for name, run in runs.items():
        print(f"{name}: {run.recap_line(SERVER)}")
    return runs


def test_role_applies_and_is_idempotent(enforced: dict[str, Run]) -> None:
    first, second = enforced["first"], enforced["second"]
    assert first.rc == 0, first.output[-5000:]
    assert first.recap(SERVER)["changed"] > 0
    assert second.rc == 0, second.output[-5000:]
    assert second.recap(SERVER)["changed"] == 0, second.changed_tasks()


def test_matrix_equals_the_intended_one(listening: Lab, enforced: dict[str, Run]) -> None:
    rows = matrix(listening)
    print("\n" + render("With the firewall", rows))
    assert rows == intended()


def test_rules_survive_an_nftables_restart(listening: Lab, enforced: dict[str, Run]) -> None:
    restarted = ssh(listening.hosts[SERVER], "systemctl restart nftables && systemctl is-active nftables")
    assert restarted.stdout.strip() == "active", restarted.stdout + restarted.stderr
    rows = matrix(listening)
    print("\n" + render("After systemctl restart nftables", rows))
    assert rows == intended()


def test_rules_stay_in_the_hosts_namespace(listening: Lab, enforced: dict[str, Run]) -> None:
    server = listening.hosts[SERVER]
    assert "table inet semantik_filter" in ssh(server, "nft list tables").stdout
    controller = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    assert "semantik_filter" not in controller.stdout
    # The host sees its own links only: not the bridge, nor the controller's end of its veth.
    links = ssh(server, "ip -o link show").stdout
    assert "semlab" not in links and "eth0" in links, links
    assert ssh(server, "ip link set semlab0 down").returncode != 0
