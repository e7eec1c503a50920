"""Lab hosts behave like real servers: systemd running, the role applied, peers reachable."""

import os

from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
testinfra_hosts = INVENTORY.get_hosts("all")


def test_systemd_is_running(host):
    assert host.run("systemctl is-system-running").stdout.strip() == "running"


def test_role_wrote_marker(host):
    marker = host.file("/etc/lab-marker")
    assert marker.is_file
    assert marker.user == "root"
    assert marker.mode == 0o644
    assert marker.content_string == "converged on a lab host\n"


def test_reaches_peers_by_name_and_address(host):
    peers = [name for name in testinfra_hosts if name != host.backend.get_hostname()]
    assert peers
    for peer in peers:
        address = INVENTORY.get_variables(peer)["ansible_host"]
        assert host.run(f"getent hosts {peer}").stdout.split()[0] == address
        for target in (peer, address):
            assert host.run(f"timeout 3 bash -c '</dev/tcp/{target}/22'").rc == 0, target
