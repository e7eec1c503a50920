"""tests/support/releases.py: the previous release's source, by the commit pyproject.toml names."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from support import releases

ROOT = Path(__file__).resolve().parents[1]


def test_run_as_a_script_it_extracts_the_previous_release(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "support" / "releases.py"), str(tmp_path / "old")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "old")
    extracted = sorted(path.name for path in (tmp_path / "old").iterdir())
    assert extracted == ["README.md", "alembic", "alembic.ini", "app", "pyproject.toml"]
    with open(tmp_path / "old" / "pyproject.toml", "rb") as file:
        old = tomllib.load(file)["project"]["version"]
    with open(ROOT / "pyproject.toml", "rb") as file:
        assert old != tomllib.load(file)["project"]["version"]


def test_a_commit_not_in_the_repository_is_named(tmp_path: Path) -> None:
    missing = "0123456789abcdef0123456789abcdef01234567"
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text(f'[tool.semantik]\nprevious-release = "{missing}"\n')
    with pytest.raises(RuntimeError, match=f"commit {missing} .* did not bring it"):
        releases.previous_release(tmp_path / "old", root=tmp_path)
    assert not (tmp_path / "old").exists()
