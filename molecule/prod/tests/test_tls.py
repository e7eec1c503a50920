"""Encrypted between tiers, on the deployed hosts: each TLS server (PostgreSQL, Redis, vecpipe, each
webui, flower) refuses a plaintext client and a client trusting another CA, and accepts a client
trusting the deployment's CA. Each is tried from a host of its clients on another host (the firewall
admits no one else); the app working end to end over these hops is test_prod.py's ingest and search.
"""

import json
from pathlib import Path

import pytest
from verify_support import INVENTORY, address, lab_host

PROBE = Path(__file__).with_name("tls_probe.py").read_text()
GROUPS = INVENTORY.get_variables("prod-probe")["groups"]
VENV_PYTHON = "/opt/semantik/venv/bin/python"  # psycopg2 for PostgreSQL's own TLS negotiation
APP_CA = "/etc/ssl/semantik/ca.crt"
NGINX_CA = "/etc/nginx/semantik-upstream-ca.crt"
# tier: (protocol, port, the client group it is tried from, that host's python, its CA file)
TIERS = {
    "postgres": ("postgres", 5432, "webui", VENV_PYTHON, APP_CA),
    "redis": ("redis", 6379, "worker", VENV_PYTHON, APP_CA),
    "vecpipe": ("http", 8000, "worker", VENV_PYTHON, APP_CA),
    "webui": ("http", 8080, "lb", "python3", NGINX_CA),
    "flower": ("http", 5555, "lb", "python3", NGINX_CA),
}


def probe(client: str, python: str, ca: str, targets: list[str]) -> dict[str, dict[str, str]]:
    host = lab_host(client)
    with host.sudo():
        host.check_output(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
            " -subj /CN=another-ca -keyout /root/another-ca.key -out /root/another-ca.crt 2>/dev/null"
        )
        host.check_output(f"cat > /root/tls_probe.py <<'PROBE_EOF'\n{PROBE}\nPROBE_EOF")
        shown = host.check_output(
            f"{python} /root/tls_probe.py {ca} /root/another-ca.crt {' '.join(targets)}"
        )
    return json.loads(shown)


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_the_tier_speaks_only_verified_tls(tier: str) -> None:
    kind, port, client_group, python, ca = TIERS[tier]
    servers = GROUPS[tier]
    client = next(h for h in GROUPS[client_group] if h not in servers)
    seen = probe(client, python, ca, [f"{kind}:{address(server)}:{port}" for server in servers])
    print(f"\n{tier} from {client}: {json.dumps(seen, indent=1)}")
    for server in servers:
        answer = seen[f"{address(server)}:{port}"]
        assert answer["plaintext"].startswith("refused"), (server, answer)
        assert answer["wrong_ca"] == "refused: certificate", (server, answer)
        assert answer["our_ca"] == "verified", (server, answer)
