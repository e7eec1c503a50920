"""make audit's verdict (ansible/audit.py) on pip-audit's JSON report; the real run needs PyPI's
per-version vulnerability data, which this machine's index does not serve."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

spec = importlib.util.spec_from_file_location("audit", ROOT / "ansible/audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

REPORT = {
    "dependencies": [
        {
            "name": "jinja2",
            "version": "3.1.2",
            "vulns": [
                {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"]},
            ],
        },
        {"name": "ecdsa", "version": "0.19.0", "vulns": [{"id": "GHSA-wj6h-64fc-37mp", "fix_versions": []}]},
        {"name": "rich", "version": "15.0.0", "vulns": []},
        {
            "name": "alembic",
            "skip_reason": "Dependency not found on PyPI and could not be audited: alembic (1.20.1)",
        },
    ],
    "fixes": [],
}


def test_a_fixable_vulnerability_and_an_unaudited_package_are_named_and_fail(monkeypatch, tmp_path, capsys):
    fixable, unfixed, skipped = audit.findings(REPORT)
    assert fixable == ["jinja2 3.1.2: GHSA-h5c8-rqwp-cp95, fixed in 3.1.3"]
    assert unfixed == ["ecdsa 0.19.0: GHSA-wj6h-64fc-37mp, no fixed version yet"]
    assert skipped == [REPORT["dependencies"][3]["name"] + ": " + REPORT["dependencies"][3]["skip_reason"]]

    (tmp_path / "locks").mkdir()
    (tmp_path / "locks/cpu.txt").write_text(
        "torch==2.13.0+cpu\n    # via x\nrich==15.0.0 \\\n    --hash=sha256:ab\n"
    )
    monkeypatch.setattr(audit, "ROOT", tmp_path)
    seen = []
    clean = {"dependencies": [{"name": "rich", "version": "15.0.0", "vulns": []}]}
    monkeypatch.setattr(audit, "run_pip_audit", lambda packages: seen.append(packages) or clean)
    assert audit.main() == 0
    assert seen == [{"torch": "2.13.0", "rich": "15.0.0"}]  # the release of a local +cpu build
    for report in (REPORT, {"dependencies": [REPORT["dependencies"][3]]}):  # a fix due; nothing audited
        monkeypatch.setattr(audit, "run_pip_audit", lambda packages, report=report: report)
        assert audit.main() == 1
    assert capsys.readouterr().out.splitlines()[-1] == "audit FAILED"


def test_a_vulnerability_without_a_fix_is_listed_but_does_not_fail(monkeypatch, tmp_path):
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks/cpu.txt").write_text("ecdsa==0.19.0\n")
    monkeypatch.setattr(audit, "ROOT", tmp_path)
    monkeypatch.setattr(
        audit, "run_pip_audit", lambda packages: {"dependencies": [REPORT["dependencies"][1]]}
    )
    assert audit.main() == 0
