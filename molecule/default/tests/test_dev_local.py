"""make dev-local against the lab host: this working tree's webui on the controller, reaching the host's
PostgreSQL, Redis and vecpipe through one SSH connection, finds what the deployed webui finds, and the
host opens no port for it."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from verify_support import (  # noqa: E402
    ANSIBLE_ENV,
    BIN,
    INVENTORY_FILE,
    ROOT,
    address,
    admin_credentials,
    ansible_playbook,
    demo,
)

TARGET = "mol-semantik"
testinfra_hosts = [TARGET]
LISTENING = "ss -Hltn | awk '{print $4}' | sort -u"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def top(client, collection_id: str) -> list[tuple[str, str]]:
    body = {"collection_id": collection_id, "query": "Why does ice slowly flow downhill?", "k": 5}
    return [
        (r["document_id"], r["chunk_id"])
        for r in client.call("POST", "/api/v2/search/single", body)["results"]
    ]


def test_dev_local_serves_this_tree_against_the_hosts_servers_through_ssh(host):
    assert ansible_playbook(str(ROOT / "ansible/demo.yml")).returncode == 0  # the demo's collection
    with host.sudo():
        listening = host.check_output(LISTENING)
    port = free_port()
    started = subprocess.Popen(
        [str(BIN / "python"), str(ROOT / "ansible/dev_local.py"), INVENTORY_FILE],
        env={**ANSIBLE_ENV, "PORT": str(port)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    local = f"http://127.0.0.1:{port}"
    try:
        deadline, ready = time.monotonic() + 180, None
        while ready is None:
            assert started.poll() is None and time.monotonic() < deadline, "dev-local did not become ready"
            try:
                with urllib.request.urlopen(f"{local}/api/health/readyz", timeout=10) as response:
                    ready = json.load(response)
            except OSError:
                time.sleep(1)
        mine, deployed = demo.Client(local, None), demo.Client(f"https://{address(TARGET)}", None)
        for client in (mine, deployed):
            demo.login(client, *admin_credentials())
        listed = mine.call("GET", "/api/v2/collections?per_page=100")["collections"]
        collection = next(c for c in listed if c["name"] == "demo")
        assert top(mine, collection["id"]) == top(deployed, collection["id"])
        with host.sudo():
            assert host.check_output(LISTENING) == listening  # nothing opened on the host
    finally:
        started.terminate()  # as a Ctrl-C: dev-local ends the tunnel and uvicorn
        output = started.communicate(timeout=60)[0]
    assert "dev-local: webui from" in output, output[-3000:]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # uvicorn's server ended with it
    print(f"dev-local: ready on {local}: {ready}")
