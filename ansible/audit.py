#!/usr/bin/env python3
"""`make audit`: pip-audit over every package the hosts install — the locks (locks/cpu.txt,
locks/cuda.txt) and each wheelhouse built under wheelhouse/ — against PyPI's vulnerability data.

Fails on a known vulnerability that has a fixed version (one without a fix is listed, not failed:
nothing can be upgraded to), and fails as well when a package could not be audited: pip-audit itself
then prints "No known vulnerabilities found" and exits 0, having checked nothing (a mirror that serves
no per-version JSON, no route to PyPI). A local version label (torch's +cpu) is audited as its release.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;+\\]+)", re.MULTILINE)


def pinned_sets(root: Path) -> list[Path]:
    return sorted((root / "locks").glob("*.txt")) + sorted((root / "wheelhouse").glob("*/requirements.txt"))


def pins(text: str) -> dict[str, str]:
    return dict(PIN.findall(text))


def run_pip_audit(packages: dict[str, str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listed:
        listed.write("".join(f"{name}=={version}\n" for name, version in sorted(packages.items())))
        listed.flush()
        done = subprocess.run(
            [str(BIN / "pip-audit"), "--disable-pip", "--no-deps", "--progress-spinner", "off"]
            + ["--format", "json", "--requirement", listed.name],
            capture_output=True,
            text=True,
        )
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.exit(f"audit: pip-audit failed (rc {done.returncode}): {done.stderr.strip()[-2000:]}")


def findings(report: dict) -> tuple[list[str], list[str], list[str]]:
    """(fixable vulnerabilities, vulnerabilities without a fix, packages not audited), as lines."""
    fixable, unfixed, skipped = [], [], []
    for dependency in report["dependencies"]:
        if dependency.get("skip_reason"):
            skipped.append(f"{dependency['name']}: {dependency['skip_reason']}")
            continue
        for vulnerability in dependency.get("vulns", []):
            line = f"{dependency['name']} {dependency['version']}: {vulnerability['id']}"
            if vulnerability.get("fix_versions"):
                fixable.append(f"{line}, fixed in {', '.join(vulnerability['fix_versions'])}")
            else:
                unfixed.append(f"{line}, no fixed version yet")
    return fixable, unfixed, skipped


def main() -> int:
    failed = False
    for path in pinned_sets(ROOT):
        packages = pins(path.read_text())
        fixable, unfixed, skipped = findings(run_pip_audit(packages))
        print(f"{path.relative_to(ROOT)}: {len(packages)} packages")
        for heading, lines in (("vulnerable, with a fix", fixable), ("vulnerable, no fix", unfixed)):
            if lines:
                print(f"  {heading}:", *lines, sep="\n    ")
        if skipped:
            print(
                f"  not audited ({len(skipped)}):",
                *skipped[:5],
                *(["..."] if len(skipped) > 5 else []),
                sep="\n    ",
            )
        print(f"  {len(fixable)} fixable, {len(unfixed)} without a fix, {len(skipped)} not audited")
        failed |= bool(fixable or skipped)
    print("audit FAILED" if failed else "audit passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
