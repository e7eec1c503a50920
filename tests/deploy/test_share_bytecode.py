"""An upgrade's venv takes the bytecode of the modules it shares with the venv in use
(roles/python_app/files/share_bytecode.py), and compileall then compiles only the changed ones."""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
from pathlib import Path

from deploy_support import ROOT

SCRIPT = ROOT / "roles/python_app/files/share_bytecode.py"
PYC = f"{sys.implementation.cache_tag}.pyc"


def share(old: Path, new: Path) -> int:
    done = subprocess.run([sys.executable, SCRIPT, old, new], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_only_the_bytecode_of_the_same_files_is_taken_and_the_rest_compiled(tmp_path: Path) -> None:
    old, new = tmp_path / "old/lib", tmp_path / "new/lib"
    for lib in (old, new):
        (lib / "pkg").mkdir(parents=True)
    # As uv installs them: the unchanged module is one file linked into both venvs; the changed one
    # and a same-looking copy are files of their own.
    (old / "pkg/same.py").write_text("SAME = 1\n")
    os.link(old / "pkg/same.py", new / "pkg/same.py")
    (old / "pkg/changed.py").write_text("VERSION = 1\n")
    (new / "pkg/changed.py").write_text("VERSION = 2\n")
    (old / "pkg/copied.py").write_text("COPY = 1\n")
    (new / "pkg/copied.py").write_text("COPY = 1\n")
    (old / "pkg/gone.py").write_text("GONE = 1\n")
    assert compileall.compile_dir(old, quiet=1)

    assert share(old, new) == 1
    assert sorted(p.name for p in (new / "pkg/__pycache__").iterdir()) == [f"same.{PYC}"]
    assert (new / f"pkg/__pycache__/same.{PYC}").samefile(old / f"pkg/__pycache__/same.{PYC}")

    assert compileall.compile_dir(new, quiet=1)
    compiled = {p.name: p for p in (new / "pkg/__pycache__").iterdir()}
    assert set(compiled) == {f"same.{PYC}", f"changed.{PYC}", f"copied.{PYC}"}
    # compileall kept the taken file (its source is the same) and compiled the others anew.
    assert compiled[f"same.{PYC}"].samefile(old / f"pkg/__pycache__/same.{PYC}")
    assert not compiled[f"changed.{PYC}"].samefile(old / f"pkg/__pycache__/changed.{PYC}")
    assert share(old, new) == 0  # a second run has nothing left to take


def test_a_first_install_has_nothing_to_take(tmp_path: Path) -> None:
    (tmp_path / "new/lib").mkdir(parents=True)
    assert share(tmp_path / "no-venv-yet/lib", tmp_path / "new/lib") == 0
