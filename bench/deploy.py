"""Figures for the deployment, on the dev inventory's lab host (semantik-dev):

- fresh converge: the host is recreated, then `site.yml` runs once (the wheelhouse warm), with Mitogen's
  strategy as `make deploy ENV=dev` runs it;
- no-op re-run: `site.yml` again, target ≤ 20 s, with its changed count (0), under each strategy
  (Mitogen's, make deploy's default, and Ansible's linear);
- the floor: one trivial task (bench/floor.yml) run the same way on the same host, and the ratio
  no-op ÷ floor: Ansible's own cost is the unit, so the figure survives a slow or busy machine;
- check mode: `site.yml --check --diff` on the converged host, with its changed count (0);
- the venv's size on the host, and `systemd-analyze security` exposure of each unit
  (targets: ≤ 3.0 for webui, worker, beat, flower; ≤ 5.0 for vecpipe);
- with --molecule, `molecule test` wall time; with --demo, `make demo` wall time and its phases.
Every timed figure comes with the machine's 1-minute load average when it ended.

Run as root from the repository: .venv/bin/python bench/deploy.py [--keep] [--molecule] [--demo]
Needs `make wizard ENV=dev` first. Prints one JSON object (and a table on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "semantik-dev"
UNITS = ["webui", "vecpipe", "worker", "beat", "flower"]
TARGET_EXPOSURE = {"webui": 3.0, "vecpipe": 5.0, "worker": 3.0, "beat": 3.0, "flower": 3.0}
ENV = {
    **os.environ,
    "PATH": f"{BIN}:{os.environ['PATH']}",
    "ANSIBLE_LOCALHOST_WARNING": "0",
}
# The sources as they are when the bench starts: edits made meanwhile must not look like changes.
SNAPSHOT = Path(tempfile.mkdtemp(prefix="semantik-bench-"))
FROZEN = ["-e", f"python_app_wheelhouse_project={SNAPSHOT}"]
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def run(*cmd: str, check: bool = True, env: dict[str, str] = ENV) -> tuple[float, str]:
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if check and done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-2000:])
        raise SystemExit(f"bench: {' '.join(cmd[:4])} failed ({done.returncode})")
    return seconds, done.stdout


def playbook(*args: str, strategy: str = "linear") -> tuple[float, dict[str, int]]:
    seconds, out = run(
        str(BIN / "ansible-playbook"), *args, *FROZEN, env={**ENV, "ANSIBLE_STRATEGY": strategy}
    )
    recap = {m[1]: int(m[3]) for m in RECAP.finditer(out)}
    return seconds, recap


def timed(seconds: float, **more: object) -> dict[str, object]:
    return {"s": round(seconds, 1), "load": os.getloadavg()[0], **more}


def ssh(command: str) -> str:
    address = next(
        line.split(":", 1)[1].strip()
        for line in (ROOT / "inventories/dev/host_vars" / HOST / "lab.yml").read_text().splitlines()
        if line.startswith("ansible_host:")
    )
    _, out = run(
        "ssh",
        "-i",
        "/var/lib/semantik-lab/id_ed25519",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        f"admin@{address}",
        command,
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the lab host afterwards")
    parser.add_argument("--molecule", action="store_true", help="also time `molecule test`")
    parser.add_argument("--demo", action="store_true", help="also time `make demo` (on a fresh host)")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    names = ("app", "alembic", "locks", "pyproject.toml", "alembic.ini", "README.md")
    sources = [str(ROOT / name) for name in names]
    run("rsync", "-a", "--exclude=__pycache__", "--exclude=*.egg-info", *sources, f"{SNAPSHOT}/")
    figures["wheelhouse_warm"] = timed(playbook("-i", "inventories/dev", "playbooks/wheelhouse.yml")[0])
    run(str(BIN / "ansible-playbook"), "ansible/lab/down.yml", "-e", json.dumps({"lab_hosts": [HOST]}))
    run(str(BIN / "ansible-playbook"), "ansible/dev-lab.yml")
    figures["fresh_converge"] = timed(
        playbook("-i", "inventories/dev", "site.yml", strategy="mitogen_linear")[0]
    )
    for strategy in ("mitogen_linear", "linear"):
        floor = min(
            playbook("-i", "inventories/dev", "bench/floor.yml", strategy=strategy)[0] for _ in range(3)
        )
        seconds, recap = playbook("-i", "inventories/dev", "site.yml", strategy=strategy)
        figures[f"noop_{strategy}"] = timed(
            seconds, changed=recap.get(HOST), floor_s=round(floor, 2), per_floor=round(seconds / floor, 1)
        )
    seconds, recap = playbook(
        "-i", "inventories/dev", "site.yml", "--check", "--diff", strategy="mitogen_linear"
    )
    figures["check_mode"] = timed(seconds, changed=recap.get(HOST))
    figures["venv_size"] = ssh("sudo du -sh --dereference-args /opt/semantik/venv/ | cut -f1").strip()
    exposure = {}
    for unit in UNITS:
        line = ssh(f"sudo systemd-analyze security --no-pager semantik-{unit}.service | tail -1")
        found = re.search(r"exposure level for \S+: ([\d.]+)", line)
        exposure[unit] = float(found[1]) if found else None
    figures["exposure"] = exposure
    figures["exposure_within_targets"] = all(
        v is not None and v <= TARGET_EXPOSURE[u] for u, v in exposure.items()
    )
    if args.molecule:
        figures["molecule_test"] = timed(run(str(BIN / "molecule"), "test")[0])
    if args.demo:
        run(str(BIN / "ansible-playbook"), "ansible/lab/down.yml", "-e", json.dumps({"lab_hosts": [HOST]}))
        seconds, out = run("make", "demo")
        phases = {m[1].strip(): int(m[2]) for m in re.finditer(r"^  (.+?)\s+(\d+) s$", out, re.M)}
        figures["make_demo"] = timed(seconds, phases=phases)
    if not args.keep:
        run(str(BIN / "ansible-playbook"), "ansible/lab/down.yml", "-e", json.dumps({"lab_hosts": [HOST]}))
        (ROOT / "inventories/dev/host_vars" / HOST / "lab.yml").unlink(missing_ok=True)
    shutil.rmtree(SNAPSHOT, ignore_errors=True)
    for name, value in figures.items():
        print(f"{name:28} {value}", file=sys.stderr)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
