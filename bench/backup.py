"""Backup and restore figures for the sample data, on the dev inventory's lab host (semantik-dev).

    .venv/bin/python bench/backup.py [--runs 3]      # after `make demo` (the sample documents ingested)

Each run: backup.yml into a scratch backup_root on the controller, then restore.yml from it. Prints
the wall time of each playbook, the backup's size per part, and the manifest's counts, as one JSON
object (and a table on stderr). Asserts nothing; molecule/default (tests/test_backup.py) proves correctness.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_LOCALHOST_WARNING": "0"}


def playbook(name: str, root: Path) -> float:
    start = time.monotonic()
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "inventories/dev", name, "-e", f"backup_root={root}"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-2000:])
        raise SystemExit(f"bench: {name} failed ({done.returncode})")
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    backups, restores, manifest = [], [], {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="semantik-bench-backup-") as scratch:
            root = Path(scratch)
            backups.append(playbook("backup.yml", root))
            (backup,) = list(root.iterdir())
            manifest = json.loads((backup / "manifest.json").read_text())
            restores.append(playbook("restore.yml", root))
    parts: dict[str, int] = {}
    for entry in manifest["files"]:
        part = entry["path"].split("/", 1)[0]
        parts[part] = parts.get(part, 0) + entry["size"]
    figures = {
        "backup_s": [round(s, 1) for s in backups],
        "restore_s": [round(s, 1) for s in restores],
        "backup_median_s": round(statistics.median(backups), 1),
        "restore_median_s": round(statistics.median(restores), 1),
        "bytes_total": sum(parts.values()),
        "bytes_per_part": parts,
        "files": len(manifest["files"]),
        "rows": manifest["database"]["rows"],
        "collections": len(manifest["collections"]),
        "vectors": manifest["vectors"],
        "load_average": os.getloadavg()[0],
    }
    for key, value in figures.items():
        print(f"{key:>18}: {value}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
