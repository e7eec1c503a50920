"""roles/exporters/files/gpu_metrics.py, with an nvidia-smi of the test's own on PATH (no GPU here):
what a real one prints becomes Prometheus's text format, figures it lacks are left out, a failing one
says so, and a host without one gets no file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "roles/exporters/files/gpu_metrics.py"
# As `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw
# --format=csv,noheader,nounits` prints on a two-GPU host (the second gives no power figure).
TWO_GPUS = "0, NVIDIA H200, 37, 10240, 143771, 41, 118.52\n1, NVIDIA L4, 0, 1, 23034, 30, [N/A]\n"


def run(tmp_path: Path, nvidia_smi: str | None) -> Path:
    bin_dir, out = tmp_path / "bin", tmp_path / "textfile"
    bin_dir.mkdir(exist_ok=True)
    out.mkdir(exist_ok=True)
    if nvidia_smi is not None:
        fake = bin_dir / "nvidia-smi"
        fake.write_text(f"#!/bin/sh\n{nvidia_smi}\n")
        fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    subprocess.run([sys.executable, str(TOOL), str(out)], env=env, check=True, timeout=30)
    return out / "semantik_gpu.prom"


def samples(path: Path) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("gpu", "")): sample.value
        for family in text_string_to_metric_families(path.read_text())
        for sample in family.samples
    }


def test_two_gpus_become_metrics_in_their_units(tmp_path: Path) -> None:
    written = run(tmp_path, f"printf '{TWO_GPUS}'")
    assert stat.S_IMODE(written.stat().st_mode) == 0o644  # the exporter's account reads it
    found = samples(written)
    assert found[("semantik_gpu_up", "")] == 1
    assert found[("semantik_gpu_utilization_ratio", "0")] == 0.37
    assert found[("semantik_gpu_memory_used_bytes", "0")] == 10240 * 1024 * 1024
    assert found[("semantik_gpu_memory_total_bytes", "1")] == 23034 * 1024 * 1024
    assert found[("semantik_gpu_temperature_celsius", "1")] == 30
    assert found[("semantik_gpu_power_watts", "0")] == 118.52
    assert ("semantik_gpu_power_watts", "1") not in found  # [N/A]: left out, not a zero
    assert [p.name for p in written.parent.iterdir()] == ["semantik_gpu.prom"]


def test_a_failing_nvidia_smi_is_reported_as_down(tmp_path: Path) -> None:
    found = samples(run(tmp_path, "echo 'NVIDIA-SMI has failed' >&2; exit 9"))
    assert found == {("semantik_gpu_up", ""): 0}


def test_without_nvidia_smi_there_is_no_file(tmp_path: Path) -> None:
    written = run(tmp_path, f"printf '{TWO_GPUS}'")
    (tmp_path / "bin" / "nvidia-smi").unlink()
    assert not run(tmp_path, None).exists() and not written.exists()
