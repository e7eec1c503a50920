"""Figures for the lab: image build, creating and destroying 3 hosts, memory of an idle host.

Run as root; it rebuilds the cached image, so no lab host may be up, unless --keep-image:
    .venv/bin/python bench/lab.py [--keep-image]
Times are wall clock of the playbooks, as `make lab-up` / `lab-down` and Molecule see them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

LAB = Path(__file__).resolve().parents[1] / "ansible" / "lab"
sys.path.insert(0, str(LAB))
import lab  # noqa: E402 - ansible/lab/lab.py, the lab's helper

NAMES = ["bench1", "bench2", "bench3"]
IDLE_SECONDS = 15


def timed_playbook(name: str, hosts: list[str]) -> float:
    ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
    start = time.monotonic()
    extra = json.dumps({"lab_hosts": hosts})
    quiet = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    cmd = [ansible_playbook, str(LAB / name), "-e", extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=quiet)
    return time.monotonic() - start


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--keep-image", action="store_true", help="skip the image build figure")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/lab.py: run as root, like the lab")
    if not args.keep_image:
        if lab.known_hosts():
            sys.exit("bench/lab.py: lab hosts run on the image; `make lab-down` first, or --keep-image")
        shutil.rmtree(lab.plan(LAB / "tasks/image.yml")["image"], ignore_errors=True)
        print(f"image build (up.yml, empty cache)      {timed_playbook('up.yml', []):6.1f} s", flush=True)
    print(f"create 3 hosts from the cached image   {timed_playbook('up.yml', NAMES):6.1f} s", flush=True)
    print(f"up.yml again, all kept (overhead)      {timed_playbook('up.yml', NAMES):6.1f} s", flush=True)
    time.sleep(IDLE_SECONDS)
    pss = [host_pss_mib(name) for name in NAMES]
    each = ", ".join(f"{p:.1f}" for p in pss)
    print(f"memory per idle host (PSS)             {sum(pss) / len(pss):6.1f} MiB ({each})", flush=True)
    print(f"destroy 3 hosts (down.yml)             {timed_playbook('down.yml', NAMES):6.1f} s", flush=True)


if __name__ == "__main__":
    main()
