#!/usr/bin/env python3
"""`make dev-local [ENV=dev]` (dev_local.py [INVENTORY]): this working tree's webui on the controller,
reloading on every edit, against the PostgreSQL, Redis and vecpipe that an inventory's first webui host
uses (the dev lab host: `make lab-dev`, `make deploy`).

Nothing is opened to the network: one SSH connection to that host (as Ansible reaches it) forwards a
local port to each server, the way the webui host itself reaches it, and the webui here talks to those
ports. Its settings are that host's own /etc/semantik/webui.env, read over the same SSH (with sudo) and
kept in this process's memory, its URLs pointed at the forwarded ports; with TLS between tiers the
deployment's CA is copied into a temporary directory (every host certificate also names 127.0.0.1).
Directory sources are checked against this machine's files, not the host's. Ctrl-C ends both.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVERS = ("DATABASE_URL", "REDIS_URL", "VECPIPE_URL")  # what the webui connects to
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "redis": 6379, "rediss": 6379}
HOST_ONLY = ("WEBUI_TLS_CERT", "WEBUI_TLS_KEY", "WEBUI_FORWARDED_ALLOW_IPS", "DATA_DIR", "HOME", "HF_HOME")


def first_webui_host(inventory: str) -> dict[str, str]:
    listed = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", inventory, "--list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    inventory = json.loads(listed)
    name = inventory["webui"]["hosts"][0]
    return {"name": name, **inventory["_meta"]["hostvars"][name]}


def ssh_command(host: dict[str, str]) -> list[str]:
    command = ["ssh", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"]
    command += shlex.split(str(host.get("ansible_ssh_common_args", "")))
    key = host.get("ansible_ssh_private_key_file") or host.get("ansible_private_key_file")
    if key:
        command += ["-i", str(key)]
    if host.get("ansible_port"):
        command += ["-p", str(host["ansible_port"])]
    user = host.get("ansible_user")
    return command + [f"{user}@{host.get('ansible_host', host['name'])}" if user else host["name"]]


def read_remote(ssh: list[str], path: str) -> str:
    """A root-only file of the host (its env file, the deployment's CA), read over SSH with sudo."""
    done = subprocess.run([*ssh, "sudo", "-n", "cat", path], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"dev-local: could not read {path} over SSH ({ssh[-1]}): {done.stderr.strip()}")
    return done.stdout


def read_environment(ssh: list[str]) -> dict[str, str]:
    """The host's webui.env: NAME='value' lines (the role writes no quote inside a value)."""
    text = read_remote(ssh, "/etc/semantik/webui.env")
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {name: value.strip("'") for name, value in pairs}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    host = first_webui_host(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "inventories/dev"))
    ssh = ssh_command(host)
    env = read_environment(ssh)
    forwards, local = [], {name: value for name, value in env.items() if name not in HOST_ONLY}
    for name in SERVERS:
        url = urlsplit(env[name])
        port = free_port()
        forwards += ["-L", f"127.0.0.1:{port}:{url.hostname}:{url.port or DEFAULT_PORTS[url.scheme]}"]
        credentials = url.netloc.rpartition("@")[0]
        local[name] = urlunsplit(url._replace(netloc=f"{credentials}@127.0.0.1:{port}".lstrip("@")))
    with tempfile.TemporaryDirectory(prefix="semantik-dev-local-") as scratch:
        if env.get("TLS_CA_FILE"):
            ca = Path(scratch) / "ca.crt"
            ca.write_text(read_remote(ssh, env["TLS_CA_FILE"]))
            local["TLS_CA_FILE"] = str(ca)
        local |= {"DATA_DIR": scratch, "HOME": scratch, "PATH": os.environ["PATH"], "LOG_FORMAT": "text"}
        # A TERM (as Ctrl-C) ends both children cleanly: uvicorn's reloader stops its server first.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        tunnel = subprocess.Popen([*ssh, "-N", *forwards])
        port = os.environ.get("PORT", "8080")
        print(
            f"dev-local: webui from {ROOT / 'app'} on http://127.0.0.1:{port}/, against {host['name']}'s"
            f" servers through SSH (Ctrl-C to stop)",
            flush=True,
        )
        uvicorn = [str(BIN / "uvicorn"), "semantik.webui.main:create_app", "--factory", "--reload"]
        uvicorn += ["--reload-dir", str(ROOT / "app/semantik"), "--host", "127.0.0.1", "--port", port]
        webui = subprocess.Popen(uvicorn, env=local, cwd=ROOT)
        try:
            return webui.wait()
        except (KeyboardInterrupt, SystemExit):
            return 0
        finally:
            for child in (webui, tunnel):
                child.terminate()
                child.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
