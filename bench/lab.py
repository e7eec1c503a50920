"""Figures for the lab: image build, creating and destroying 3 hosts, memory of an idle host.

Run as root: .venv/bin/python bench/lab.py
The image is built afresh beside the cached one (which stays, with any hosts on it) and removed.
Times are wall clock of the playbooks, as `make lab-up` / `lab-down` and Molecule see them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAB = Path(__file__).resolve().parents[1] / "ansible" / "lab"
sys.path.insert(0, str(LAB))
import lab  # noqa: E402 - ansible/lab/lab.py, the lab's helper

NAMES = ["bench1", "bench2", "bench3"]
IDLE_SECONDS = 15
BUILD_PLAY = """
- name: Build a throwaway lab image
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Build it
      ansible.builtin.include_tasks: {recipe}
"""


def timed_playbook(playbook: Path, extra_vars: dict) -> float:
    ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
    quiet = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    cmd = [ansible_playbook, str(playbook), "-e", json.dumps(extra_vars)]
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=quiet)
    return time.monotonic() - start


def image_build_seconds() -> float:
    """Run the image recipe into a scratch image path, then remove that image."""
    recipe = LAB / "tasks" / "image.yml"
    plan = lab.plan(recipe)
    scratch = Path(f"{plan['image']}.bench{os.getpid()}")
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp, "build.yml")
        playbook.write_text(BUILD_PLAY.format(recipe=recipe))
        try:
            return timed_playbook(playbook, {"__lab_plan": {**plan, "image": str(scratch)}})
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def host_pss_mib(name: str) -> float:
    """Proportional set size of every process in the host's cgroup, nspawn included."""
    pids = {pid for procs in lab.cgroups(name)[-1].rglob("cgroup.procs") for pid in procs.read_text().split()}
    total_kib = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # exited meanwhile
        total_kib += int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))
    return total_kib / 1024


def report(what: str, value: float, unit: str = "s", detail: str = "") -> None:
    print(f"{what:<40}{value:6.1f} {unit} {detail}".rstrip(), flush=True)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench/lab.py: run as root, like the lab")
    up, down, hosts = LAB / "up.yml", LAB / "down.yml", {"lab_hosts": NAMES}
    report("image build (tasks/image.yml)", image_build_seconds())
    timed_playbook(up, {"lab_hosts": []})  # the cached image, should the recipe have changed
    report("create 3 hosts from the cached image", timed_playbook(up, hosts))
    report("up.yml again, all kept (overhead)", timed_playbook(up, hosts))
    time.sleep(IDLE_SECONDS)
    pss = [host_pss_mib(name) for name in NAMES]
    each = ", ".join(f"{p:.1f}" for p in pss)
    report("memory per idle host (PSS)", sum(pss) / len(pss), "MiB", f"({each})")
    report("destroy 3 hosts (down.yml)", timed_playbook(down, hosts))


if __name__ == "__main__":
    main()
