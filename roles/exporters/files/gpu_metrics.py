#!/usr/bin/python3
"""nvidia-smi's figures for Prometheus, through the node exporter's textfile directory (Debian
packages no GPU exporter): `gpu_metrics.py DIR` writes DIR/semantik_gpu.prom, run every 30 s by
semantik-gpu-metrics.timer on the gpu hosts. No nvidia-smi (no NVIDIA device): no file.

Stdlib only: it runs with the host's python3, outside the application's venv.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

MIB = 1024 * 1024
# nvidia-smi's field, the metric, its help, and the conversion to the metric's unit.
FIELDS = [
    ("utilization.gpu", "semantik_gpu_utilization_ratio", "GPU busy share (0-1)", lambda v: v / 100),
    ("memory.used", "semantik_gpu_memory_used_bytes", "GPU memory in use", lambda v: v * MIB),
    ("memory.total", "semantik_gpu_memory_total_bytes", "GPU memory", lambda v: v * MIB),
    ("temperature.gpu", "semantik_gpu_temperature_celsius", "GPU temperature", lambda v: v),
    ("power.draw", "semantik_gpu_power_watts", "GPU power draw", lambda v: v),
]
NAME = "semantik_gpu.prom"


def read(nvidia_smi: str) -> tuple[bool, list[dict[str, str]]]:
    query = ",".join(["index", "name", *(field for field, *_ in FIELDS)])
    try:
        done = subprocess.run(
            [nvidia_smi, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False, []
    if done.returncode != 0:
        return False, []
    names = ["index", "name", *(field for field, *_ in FIELDS)]
    rows = [
        dict(zip(names, (cell.strip() for cell in row), strict=False))
        for row in csv.reader(done.stdout.splitlines())
    ]
    return True, rows


def render(up: bool, rows: list[dict[str, str]]) -> str:
    lines = [
        "# HELP semantik_gpu_up Whether nvidia-smi answered (0: the driver or the device is in trouble).",
        "# TYPE semantik_gpu_up gauge",
        f"semantik_gpu_up {int(up)}",
    ]
    for field, metric, help_text, convert in FIELDS:
        lines += [f"# HELP {metric} {help_text}.", f"# TYPE {metric} gauge"]
        for row in rows:
            try:
                value = convert(float(row.get(field, "")))
            except ValueError:  # "[N/A]", "[Not Supported]": a figure this device does not give
                continue
            name = row.get("name", "").replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{metric}{{gpu="{row.get("index", "")}",name="{name}"}} {value!r}')
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    directory = Path(argv[1])
    target = directory / NAME
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        target.unlink(missing_ok=True)
        return 0
    text = render(*read(nvidia_smi))
    partial = directory / f".{NAME}.tmp"
    partial.write_text(text)
    os.chmod(partial, 0o644)
    partial.replace(target)  # whole, so the exporter never reads half a file
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
