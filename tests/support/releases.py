"""The previous release's source, for tests that run it against the current schema (expand-only
migrations: the release before keeps working while hosts roll over) and for building its wheel.

Its commit is named in one place, pyproject.toml's ``[tool.semantik] previous-release``.

    python tests/support/releases.py DEST    # extracts it into DEST and prints DEST
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a release needs to run, migrate and build its wheel.
RELEASE_PATHS = ("app", "alembic", "alembic.ini", "pyproject.toml", "README.md")


def previous_release_sha(root: Path = ROOT) -> str:
    with open(root / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["semantik"]["previous-release"]


def _git(root: Path, *args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, **options)


def _have(root: Path, sha: str) -> bool:
    return _git(root, "cat-file", "-e", f"{sha}^{{commit}}").returncode == 0


def previous_release(dest: Path, root: Path = ROOT) -> Path:
    """Extract the previous release's app/, alembic/, alembic.ini, pyproject.toml and README.md into
    ``dest`` (created if need be) and return it. A shallow clone without that commit fetches it from
    origin once; if it still is not there, RuntimeError names the commit."""
    sha = previous_release_sha(root)
    if not _have(root, sha):
        _git(root, "fetch", "--quiet", "origin", sha)
        if not _have(root, sha):
            raise RuntimeError(
                f"the previous release's commit {sha} (pyproject.toml [tool.semantik] previous-release) "
                f"is not in the repository at {root}, and `git fetch origin {sha}` did not bring it"
            )
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    archive = _git(root, "archive", "--format=tar", sha, *RELEASE_PATHS)
    if archive.returncode != 0:
        raise RuntimeError(f"git archive {sha} failed: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: {Path(__file__).name} DEST", file=sys.stderr)
        return 2
    try:
        print(previous_release(Path(argv[0])))
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
