"""Figures for the multi-host prod layout, on molecule/prod's nine lab hosts:

- fresh converge: the hosts are created anew, then `site.yml` runs once (the wheelhouse warm; the
  release it deploys is the previous one, as molecule/prod converges it before rolling out this one);
- idempotent re-run: `site.yml` again, with every host's changed count (0) and its ratio to the fresh one;
- check mode: `site.yml --check --diff`, its changed count (0) and whether any vault secret is in its output;
- the machine's memory while the lab runs: the used memory before the hosts start (the baseline) and
  its peak while they converge and serve, sampled every second; the difference is the lab's.

Run as root from the repository: .venv/bin/python bench/prod_lab.py [--keep]
Needs `make wizard ENV=prod` first. Prints one JSON object (and a table on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Plain output: molecule frames each line and colours the recap, which the pattern must still find.
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1"}
RECAP = re.compile(r"([\w.-]+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def run(*cmd: str) -> tuple[float, str]:
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-2000:])
        raise SystemExit(f"bench: {' '.join(cmd[:5])} failed ({done.returncode})")
    return seconds, done.stdout + done.stderr


def molecule(step: str, *extra: str) -> tuple[float, str, dict[str, int]]:
    seconds, out = run(str(BIN / "molecule"), step, "-s", "prod", *(["--", *extra] if extra else []))
    recap = {m[1]: int(m[3]) for m in RECAP.finditer(out)}
    if step == "converge" and len(recap) < 8:
        raise SystemExit(f"bench: no play recap for every host in the converge's output ({sorted(recap)})")
    return seconds, out, recap


def used_bytes() -> int:
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) * 1024


class PeakMemory(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = used_bytes()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            self.peak = max(self.peak, used_bytes())


def vault_secrets() -> list[str]:
    shown = subprocess.run(
        [str(BIN / "ansible-vault"), "view", "--vault-id", "prod@ansible/vault-pass-client.py",
         "inventories/prod/group_vars/all/vault.yml"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [str(value) for value in yaml.safe_load(shown.stdout).values()]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", action="store_true", help="keep the lab hosts afterwards")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    molecule("destroy")
    baseline = used_bytes()
    sampler = PeakMemory()
    sampler.start()
    molecule("create")
    molecule("prepare")
    seconds, _, _ = molecule("converge")
    figures["fresh_converge_s"] = round(seconds, 1)
    rerun, _, recap = molecule("converge")
    figures["idempotent_rerun_s"] = round(rerun, 1)
    figures["rerun_to_fresh_ratio"] = round(rerun / seconds, 3)
    figures["idempotent_changed"] = sum(recap.values())
    figures["hosts"] = len(recap)
    check, out, recap = molecule("converge", "--check", "--diff")
    figures["check_mode_s"] = round(check, 1)
    figures["check_mode_changed"] = sum(recap.values())
    figures["check_mode_secret_shown"] = any(secret in out for secret in vault_secrets())
    sampler.stopped.set()
    sampler.join()
    figures["memory_baseline_gib"] = round(baseline / 2**30, 2)
    figures["memory_peak_gib"] = round(sampler.peak / 2**30, 2)
    figures["memory_lab_peak_gib"] = round((sampler.peak - baseline) / 2**30, 2)
    if not args.keep:
        molecule("destroy")
    for name, value in figures.items():
        print(f"{name:28} {value}", file=sys.stderr)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
