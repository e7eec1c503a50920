"""What git sees of the working tree: the suite (and the demo) must leave it as they found it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Set by tests/conftest.py when the session starts.
AT_START: set[str] | None = None


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def dirty() -> set[str]:
    """Every modified, deleted or untracked path git does not ignore, as `git status` lists it."""
    done = git("status", "--porcelain", "--untracked-files=all")
    assert done.returncode == 0, done.stderr
    return set(done.stdout.splitlines())
