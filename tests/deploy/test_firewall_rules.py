"""common's nftables rules are accepted by nft itself (`nft --check`: parsed and checked by the
kernel, nothing loaded), for rules with IPv6 and UDP sources too. test_firewall_enforced.py loads
rules on lab hosts and tries them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # ansible-playbook renders the rules, nft checks them

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "roles" / "common" / "templates" / "etc" / "nftables.conf.j2"


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nft"), reason="nft --check needs root and nftables"
)
def test_rendered_rules_pass_nft_check(tmp_path: Path) -> None:
    variables = {
        "common_firewall_allowed_tcp_ports": [22, 443, 22],
        "common_firewall_allowed_from": [
            {"port": 5432, "sources": ["10.0.1.0/24", "10.0.2.5"]},
            {"port": 6379, "proto": "tcp", "sources": ["10.0.1.21", "fd00::21", "fd00:1::/64"]},
            {"port": 123, "proto": "udp", "sources": ["fd00::1"]},
        ],
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    rules = tmp_path / "nftables.conf"
    render = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{tmp_path / 'vars.json'}",
         "-m", "ansible.builtin.template", "-a", f"src={TEMPLATE} dest={rules} mode=0600"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert render.returncode == 0, render.stdout + render.stderr
    text = rules.read_text()
    assert "policy drop;" in text
    assert "tcp dport { 22, 443 } accept" in text
    assert "ip saddr { 10.0.1.0/24, 10.0.2.5 } tcp dport 5432 accept" in text
    assert "ip6 saddr { fd00::21, fd00:1::/64 } tcp dport 6379 accept" in text
    assert "ip6 saddr { fd00::1 } udp dport 123 accept" in text
    check = subprocess.run(["nft", "--check", "--file", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
