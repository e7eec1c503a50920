"""The GPU roles decide on a real host: without an NVIDIA device they skip; told there is one they
select NVIDIA's repository and the pinned packages (shown in check mode, nothing downloaded).

One lab host of its own (t-plat-gpu), playbooks/gpu.yml as site.yml runs it (after the base play).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.lab import ROOT, Run, lab_down, lab_up, playbook, ssh, write_inventory

pytestmark = pytest.mark.lab

HOST = "t-plat-gpu"
GPU_PLAY = ROOT / "tests" / "deploy" / "gpu_play.yml"
REPO = "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/"
# The lab's kernel is the controller's, which has no Debian headers package: name Debian's.
FORCED = ["-e", "nvidia_driver_gpu_present=true", "-e", "cuda_gpu_present=true",
          "-e", "nvidia_driver_kernel_headers_package=linux-headers-amd64"]  # fmt: skip


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    try:
        hosts = lab_up([HOST])
        inventory = write_inventory(tmp_path_factory.mktemp("gpu") / "inventory.json", hosts, ["gpu"])
        yield hosts[HOST], inventory
    finally:
        lab_down([HOST])


@pytest.fixture(scope="module")
def auto_run(host: tuple[str, Path]) -> Run:
    return playbook(GPU_PLAY, host[1])


@pytest.fixture(scope="module")
def forced_check_run(host: tuple[str, Path], auto_run: Run) -> Run:
    return playbook(GPU_PLAY, host[1], "--check", "--diff", *FORCED)


def test_without_an_nvidia_device_both_roles_skip(host: tuple[str, Path], auto_run: Run) -> None:
    assert auto_run.rc == 0, auto_run.output[-4000:]
    out = auto_run.output
    assert f"No NVIDIA GPU on {HOST} (0 NVIDIA PCI device(s) (vendor 0x10de) found)" in out
    assert "the CUDA toolkit is not installed and /etc/profile.d/cuda.sh is removed" in out
    assert "Install the pinned driver packages" not in out
    assert "Install the CUDA toolkit cuda-toolkit" not in out
    address = host[0]
    for path in ("/etc/apt/preferences.d/semantik-nvidia-driver.pref", "/etc/profile.d/cuda.sh",
                 "/etc/modprobe.d/blacklist-nouveau.conf"):  # fmt: skip
        assert ssh(address, f"test ! -e {path}").returncode == 0, path


def test_skipping_again_changes_nothing(host: tuple[str, Path], auto_run: Run) -> None:
    again = playbook(GPU_PLAY, host[1])
    assert again.recap(HOST)["changed"] == 0, again.changed_tasks()


def test_told_of_a_gpu_check_mode_selects_the_repository_and_pinned_packages(forced_check_run: Run) -> None:
    run = forced_check_run
    assert run.rc == 0, run.output[-4000:]
    assert run.recap(HOST)["failed"] == 0
    out = run.output
    assert (
        f"NVIDIA GPU on {HOST} (nvidia_driver_gpu_present is true): repository {REPO}, "
        "driver branch 570 (open), packages nvidia-open=570.*"
    ) in out
    assert f"the repository keyring would be downloaded from {REPO}cuda-keyring_1.1-1_all.deb" in out
    assert "TASK [nvidia_driver : Install the pinned driver packages nvidia-open=570.*]" in out
    assert "+Pin: version 570.*" in out  # the branch pin, shown by --diff
    assert "+blacklist nouveau" in out
    assert "packages cuda-toolkit-12-8" in out
    assert "TASK [cuda : Install the CUDA toolkit cuda-toolkit-12-8]" in out
    assert '+export CUDA_HOME="/usr/local/cuda"' in out


def test_check_mode_left_the_host_untouched(host: tuple[str, Path], forced_check_run: Run) -> None:
    assert forced_check_run.rc == 0
    for path in ("/etc/apt/preferences.d/semantik-nvidia-driver.pref", "/etc/profile.d/cuda.sh"):
        assert ssh(host[0], f"test ! -e {path}").returncode == 0, path


def test_branch_flavour_and_cuda_release_follow_the_variables(host: tuple[str, Path]) -> None:
    run = playbook(GPU_PLAY, host[1], "--check", "--tags", "nvidia_driver_preflight,cuda_preflight", *FORCED,
                   "-e", "nvidia_driver_branch=550", "-e", "nvidia_driver_kernel_module=proprietary",
                   "-e", "cuda_version=12.6")  # fmt: skip
    assert run.rc == 0, run.output[-4000:]
    assert "driver branch 550 (proprietary), packages cuda-drivers=550.*" in run.output
    assert "packages cuda-toolkit-12-6" in run.output
