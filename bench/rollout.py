"""Figures of an operator's day on the nine lab hosts (molecule/prod's tests):
the upgrade and the rollback under traffic (requests sent and failed, p50/p99 latency before, during
and after each, and the ratio of during to before: the baseline measured in the same run), the loss
of a web UI host under traffic, the loss of a worker host mid-ingest (seconds until the other worker
took the operation over and until it completed), and site.yml bringing the hosts back.

Run as root from the repository: .venv/bin/python bench/rollout.py
Needs `make wizard ENV=prod` first. Runs `molecule test -s prod` (about 40 minutes), keeps its
whole output in bench/rollout.log; prints one JSON object (and a table on stderr).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1"}
LOG = ROOT / "bench/rollout.log"
FIGURES = re.compile(r"ROLLOUT-FIGURES (\w+) (\{.*\})")


def ratios(step: dict) -> dict[str, float]:
    """Latency during the change over latency before it."""
    before, during = step["before"], step["during"]
    return {
        name: round(during[name] / before[name], 2) if before[name] else 0.0 for name in ("p50_ms", "p99_ms")
    }


def main() -> int:
    done = subprocess.run(
        [str(BIN / "molecule"), "test", "-s", "prod"], cwd=ROOT, env=ENV, capture_output=True, text=True
    )
    out = done.stdout + done.stderr
    LOG.write_text(out)
    figures = {m[1]: json.loads(m[2]) for m in FIGURES.finditer(out)}
    if done.returncode != 0 or not figures:
        sys.stderr.write(out[-6000:])
        raise SystemExit(f"bench: molecule test -s prod failed ({done.returncode}); see {LOG}")
    for step in ("upgrade", "rollback", "webui_lost"):
        if step in figures:
            figures[step]["during_to_before"] = ratios(figures[step])
    for step, values in figures.items():
        print(f"{step}:", file=sys.stderr)
        for name, value in values.items():
            print(f"  {name:18} {value}", file=sys.stderr)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
