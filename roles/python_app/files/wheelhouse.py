#!/usr/bin/env python3
"""Build a wheelhouse on the controller: every wheel a host's venv needs, the project's own included.

    wheelhouse.py --out DIR --project ROOT --variant cpu|cuda [--extra REQ]... [--check]
    wheelhouse.py --project ROOT --variant cpu|cuda --write-lock     # `make lock`

The project's committed lock, ROOT/locks/<variant>.txt, pins every package, transitive ones included,
so a wheelhouse resolves the same whenever and wherever it is built; --write-lock rewrites it from
pyproject.toml (sources without one, older releases, resolve freely). DIR/requirements.txt is
resolved within it by `uv pip compile` (the --extra requirements and their own dependencies, which it
does not name, resolve freely) for the *target* interpreter (--python-version, default Debian 12's
3.11.2, and --glibc), not the controller's: markers such as ``python_full_version < '3.11.3'`` differ
between 3.11.2 and a newer controller. The wheels are then fetched by `pip download --no-deps` for that
platform, checked against requirements.txt's hashes.
DIR/install.txt is what the host installs: the lock plus the project wheel, each with its sha256;
DIR/local.txt names the wheels no index has (the project's, and those from --find-links);
DIR/bin/uv is the uv the hosts install with (--uv).

Cached twice: the project wheel by a hash of its sources (built reproducibly, SOURCE_DATE_EPOCH),
the third-party wheels by a hash of everything that decides the lock. A run with nothing to do
takes well under a second. `--check` reports what a run would do and writes nothing.

Prints one JSON object: {"changed": bool, "project": "reused|built", "lock": "reused|resolved",
"install": "DIR/install.txt", "sha256": "<of install.txt>", "local": [wheels found only in
--find-links directories, which a host installing from an index still needs copied]}.
Stdlib only; uv and pip are taken from the running interpreter's bin directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

VERSION = "1"  # bump to invalidate every cached lock
BIN = Path(sys.executable).parent
PROJECT_FILES = ("pyproject.toml", "alembic.ini", "README.md")
PROJECT_DIRS = ("app", "alembic")
SKIP_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache"}
EPOCH = "315532800"  # 1980-01-01, the earliest time a zip file can hold


class BuildError(Exception):
    pass


def run(*cmd: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def project_sources(root: Path) -> list[Path]:
    files = [root / name for name in PROJECT_FILES if (root / name).is_file()]
    for top in PROJECT_DIRS:
        for path in sorted((root / top).rglob("*")):
            rel = path.relative_to(root).parts
            if path.is_file() and not SKIP_PARTS & set(rel) and not any(p.endswith(".egg-info") for p in rel):
                if path.suffix not in (".pyc", ".pyo"):
                    files.append(path)
    return files


def source_hash(root: Path) -> str:
    digest = hashlib.sha256(VERSION.encode())
    for path in project_sources(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def project_wheel(root: Path, store: Path, check: bool) -> tuple[Path | None, bool]:
    """The project's wheel for the current sources: (path, built now). Built in a clean copy."""
    key = source_hash(root)[:24]
    cached = sorted((store / key).glob("*.whl")) if (store / key).is_dir() else []
    if cached:
        return cached[0], False
    if check:
        return None, True
    with tempfile.TemporaryDirectory(prefix="semantik-build-") as tmp:
        src = Path(tmp) / "src"
        for path in project_sources(root):
            dest = src / path.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
        run(
            str(BIN / "uv"),
            "build",
            "--wheel",
            "--quiet",
            "--out-dir",
            str(Path(tmp) / "dist"),
            str(src),
            env=env,
        )
        built = sorted((Path(tmp) / "dist").glob("*.whl"))
        if len(built) != 1:
            raise BuildError(f"uv build made {len(built)} wheels, expected one")
        (store / f"{key}.tmp").mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], store / f"{key}.tmp" / built[0].name)
        os.replace(store / f"{key}.tmp", store / key)
    for old in sorted(store.iterdir(), key=lambda p: p.stat().st_mtime)[:-3]:  # keep the last three
        shutil.rmtree(old, ignore_errors=True)
    return next((store / key).glob("*.whl")), True


def platforms(glibc: str) -> list[str]:
    """Every manylinux tag a host with this glibc accepts (pip does not expand --platform itself)."""
    major, minor = (int(x) for x in glibc.split("."))
    tags = [f"manylinux_{major}_{m}_x86_64" for m in range(minor, 4, -1)]
    return tags + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


def find_links(args: argparse.Namespace) -> list[str]:
    """The local wheel directories to use: none for cuda, whose torch==X a local X+cpu build would satisfy
    too (a local version label matches a plain pin), where the index has the CUDA build."""
    return [] if args.variant == "cuda" else args.find_links


def project_lock(root: Path, variant: str) -> Path:
    return root / "locks" / f"{variant}.txt"


def lock_inputs(args: argparse.Namespace, root: Path) -> tuple[list[str], list[str], str]:
    """(requirements, overrides, key) that decide the wheelhouse's requirements.txt."""
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    requirements = sorted(deps) + sorted(args.extra)
    overrides = []
    if args.variant == "cpu":
        torch = next((d for d in deps if re.match(r"^torch\s*==", d)), None)
        if torch is None:
            raise BuildError("pyproject.toml pins no torch==X; the cpu variant needs the version")
        overrides.append(re.sub(r"\s+", "", torch).split(";")[0] + "+cpu")
    spec = {
        "version": VERSION,
        "requirements": requirements,
        "overrides": overrides,
        "python": args.python_version,
        "glibc": args.glibc,
        "index": args.index_url,
        "find_links": find_links(args),
        "lock": lock.read_text() if (lock := project_lock(root, args.variant)).exists() else None,
    }
    return requirements, overrides, hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def locked_files(out: Path) -> list[str]:
    listed = out / "wheels.txt"
    return listed.read_text().split() if listed.exists() else []


def compile_lock(
    args: argparse.Namespace, work: Path, requirements: list[str], overrides: list[str], *options: str
) -> Path:
    """`uv pip compile` of the requirements for the target interpreter; the file it wrote."""
    (work / "requirements.in").write_text("\n".join(requirements) + "\n")
    (work / "overrides.txt").write_text("".join(f"{o}\n" for o in overrides))
    links = [a for d in find_links(args) for a in ("--find-links", d)]
    target = f"x86_64-manylinux_{args.glibc.replace('.', '_')}"
    run(
        str(BIN / "uv"),
        "pip",
        "compile",
        "--quiet",
        "--no-header",
        *options,
        "--python-version",
        args.python_version,
        "--python-platform",
        target,
        "--index-url",
        args.index_url,
        *links,
        "--override",
        "overrides.txt",
        "--output-file",
        "requirements.txt",
        "requirements.in",  # relative: the lock's "# via" lines name no temporary directory
        cwd=work,
    )
    return work / "requirements.txt"


def write_lock(args: argparse.Namespace) -> dict[str, object]:
    """ROOT/locks/<variant>.txt from pyproject.toml's dependencies alone. As pip-compile does, the
    versions the lock already pins are kept where pyproject.toml still allows them (a package
    released since moves nothing); --upgrade resolves afresh."""
    root = Path(args.project).resolve()
    requirements, overrides, _ = lock_inputs(argparse.Namespace(**{**vars(args), "extra": []}), root)
    lock = project_lock(root, args.variant)
    with tempfile.TemporaryDirectory(prefix="semantik-lock-") as tmp:
        if lock.exists() and not args.upgrade:
            shutil.copy(lock, Path(tmp) / "requirements.txt")  # uv prefers its output file's pins
        pins = compile_lock(args, Path(tmp), requirements, overrides).read_text()
    header = (
        f"# Every package the hosts' venv holds, torch variant {args.variant}, for Python"
        f" {args.python_version} on glibc {args.glibc}.\n# Written by `make lock` from pyproject.toml;"
        " the wheelhouse resolves within it\n# (roles/python_app/files/wheelhouse.py).\n"
    )
    lock.parent.mkdir(exist_ok=True)
    return {"changed": write_if_changed(lock, header + pins), "lock": str(lock)}


def resolve(args: argparse.Namespace, out: Path, requirements: list[str], overrides: list[str]) -> None:
    # Sources older than the lock (a release before it, as the upgrade scenario deploys) resolve freely.
    lock = project_lock(Path(args.project).resolve(), args.variant)
    within = ["--constraint", str(lock)] if lock.exists() else []
    with tempfile.TemporaryDirectory(prefix="semantik-lock-") as tmp:
        work = Path(tmp)
        try:
            compile_lock(args, work, requirements, overrides, "--generate-hashes", *within)
        except BuildError as error:
            raise BuildError(
                f"{error}\n(is {lock} older than pyproject.toml? `make lock` rewrites it)"
            ) from None
        # Wheels already in the old wheelhouse are reused (a local find-links), not fetched again.
        links = [a for d in find_links(args) for a in ("--find-links", d)]
        fetch = work / "wheels"
        reuse = ["--find-links", str(out)] if out.is_dir() else []
        tags = [a for tag in platforms(args.glibc) for a in ("--platform", tag)]
        pyver = "".join(args.python_version.split(".")[:2])
        run(
            str(BIN / "pip"),
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            *tags,
            "--python-version",
            pyver,
            "--implementation",
            "cp",
            "--abi",
            f"cp{pyver}",
            "--abi",
            "abi3",
            "--abi",
            "none",
            "--index-url",
            args.index_url,
            *links,
            *reuse,
            "--dest",
            str(fetch),
            "--requirement",
            str(work / "requirements.txt"),
        )
        wheels = sorted(p.name for p in fetch.glob("*.whl"))
        local = sorted({w for d in find_links(args) if Path(d).is_dir() for w in os.listdir(d)} & set(wheels))
        out.mkdir(parents=True, exist_ok=True)
        for name in wheels:
            if not (out / name).exists() or sha256(out / name) != sha256(fetch / name):
                shutil.move(str(fetch / name), str(out / f".{name}.tmp"))
                os.replace(out / f".{name}.tmp", out / name)
        keep = set(wheels)
        for stale in out.glob("*.whl"):
            if stale.name not in keep and not stale.name.startswith("semantik-"):
                stale.unlink()
        shutil.copy2(work / "requirements.txt", out / "requirements.txt")
        (out / "wheels.txt").write_text("\n".join(wheels) + "\n")
        (out / ".local-wheels.txt").write_text("".join(f"{w}\n" for w in local))


def copy_if_changed(source: Path, dest: Path) -> bool:
    if dest.exists() and sha256(dest) == sha256(source):
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest.with_suffix(".tmp"))
    os.replace(dest.with_suffix(".tmp"), dest)
    return True


def write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def build(args: argparse.Namespace) -> dict[str, object]:
    root, out = Path(args.project).resolve(), Path(args.out).resolve()
    wheel, built = project_wheel(root, out.parent / ".project", args.check)
    requirements, overrides, key = lock_inputs(args, root)
    key_file = out / ".lock-key"
    fresh = (
        key_file.exists()
        and key_file.read_text() == key
        and all((out / w).exists() for w in locked_files(out))
    )
    result: dict[str, object] = {
        "project": "built" if built else "reused",
        "lock": "reused" if fresh else "resolved",
    }
    if args.check:
        current = out / "install.txt"
        stale = built or not fresh or wheel is None or not current.exists()
        stale = stale or f"--hash=sha256:{sha256(wheel)}" not in current.read_text()  # type: ignore[arg-type]
        # The venv a converge would build is named after install.txt; unknown while it is stale.
        digest = None if stale else hashlib.sha256(current.read_bytes()).hexdigest()
        return {**result, "changed": stale, "install": str(current), "sha256": digest, "local": []}
    if not fresh:
        key_file.unlink(missing_ok=True)
        resolve(args, out, requirements, overrides)
        key_file.write_text(key)
    assert wheel is not None
    for old in out.glob("semantik-*.whl"):
        if old.name != wheel.name:
            old.unlink()
    copied = not (out / wheel.name).exists() or sha256(out / wheel.name) != sha256(wheel)
    if copied:
        shutil.copy2(wheel, out / wheel.name)
    # uv travels with the wheels (one rsync), for hosts to install them with.
    uv_copied = args.uv is not None and copy_if_changed(Path(args.uv), out / "bin" / "uv")
    name, version = wheel.name.split("-")[:2]
    install = (
        out / "requirements.txt"
    ).read_text() + f"{name}=={version} \\\n    --hash=sha256:{sha256(wheel)}\n"
    changed = write_if_changed(out / "install.txt", install)
    local = (out / ".local-wheels.txt").read_text().split() + [wheel.name]
    write_if_changed(out / "local.txt", "".join(f"{w}\n" for w in local))
    return {
        **result,
        "changed": changed or copied or uv_copied or not fresh,
        "install": str(out / "install.txt"),
        "sha256": hashlib.sha256(install.encode()).hexdigest(),
        "local": local,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", help="the wheelhouse directory (not with --write-lock)")
    parser.add_argument("--project", required=True, help="the project's source tree (pyproject.toml)")
    parser.add_argument("--variant", choices=("cpu", "cuda"), required=True, help="torch build")
    parser.add_argument("--extra", action="append", default=[], help="another requirement (repeatable)")
    parser.add_argument("--python-version", default="3.11.2", help="the hosts' Python (Debian 12: 3.11.2)")
    parser.add_argument("--glibc", default="2.36", help="the hosts' glibc (Debian 12: 2.36)")
    parser.add_argument("--index-url", default="https://pypi.org/simple")
    parser.add_argument("--find-links", action="append", default=[], help="a local wheel directory")
    parser.add_argument("--uv", help="a uv binary to put into the wheelhouse (bin/uv) for the hosts")
    parser.add_argument("--check", action="store_true", help="report what would change; write nothing")
    parser.add_argument("--write-lock", action="store_true", help="rewrite ROOT/locks/<variant>.txt")
    parser.add_argument(
        "--upgrade", action="store_true", help="with --write-lock: the newest versions, not the lock's"
    )
    args = parser.parse_args(argv)
    if not args.write_lock and not args.out:
        parser.error("--out is required (but with --write-lock)")
    try:
        print(json.dumps(write_lock(args) if args.write_lock else build(args)))
    except BuildError as error:
        print(f"wheelhouse: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
