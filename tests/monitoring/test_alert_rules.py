"""The alert rules the monitoring host loads are valid Prometheus 2.42 rules, and each alert fires
when it should and not otherwise: promtool's unit tests (alerts.test.yml) run them on made-up series.

promtool comes from Debian's prometheus package, extracted into build/ by `make test` (Makefile,
$(PROMTOOL)) rather than installed, which would start a Prometheus server on the controller.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration  # each test runs promtool

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = ROOT / "build/prometheus/usr/bin/promtool"
RULES = ROOT / "roles/monitoring/files/semantik-alerts.yml"
UNIT_TESTS = ROOT / "tests/monitoring/alerts.test.yml"
ALERTS = {
    "SemantikTargetDown",
    "SemantikNotReady",
    "SemantikOperationsFailing",
    "SemantikQueueBackingUp",
    "SemantikDiskNearlyFull",
    "SemantikBackupTooOld",
    "SemantikCertificateExpiresSoon",
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL.relative_to(ROOT)} is missing: `make test` provides it ($(PROMTOOL))")
    result = subprocess.run(
        [str(PROMTOOL), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    print(result.stdout, result.stderr, sep="\n")
    return result


def rules() -> list[dict]:
    (group,) = yaml.safe_load(RULES.read_text())["groups"]
    assert group["name"] == "semantik"
    return group["rules"]


def test_the_rules_file_is_valid() -> None:
    result = promtool("check", "rules", str(RULES.relative_to(ROOT)))
    assert result.returncode == 0
    found = re.search(r"SUCCESS: (\d+) rules found", result.stdout)
    assert found, result.stdout
    assert int(found[1]) == len(ALERTS) == 7


def test_every_alert_fires_when_it_should_and_not_otherwise() -> None:
    result = promtool("test", "rules", str(UNIT_TESTS.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_waits_has_a_severity_and_says_what_and_why() -> None:
    assert {rule["alert"] for rule in rules()} == ALERTS
    for rule in rules():
        name = rule["alert"]
        assert rule.get("for"), f"{name}: no `for:`, a single bad scrape would page"
        assert rule.get("labels", {}).get("severity") in {"critical", "warning"}, name
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), name


def test_every_alert_has_unit_tests_that_fire_it_and_that_do_not() -> None:
    cases = [
        case
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    for name in ALERTS:
        expected = [case["exp_alerts"] for case in cases if case["alertname"] == name]
        assert any(expected), f"{name}: no case where it fires"
        assert not all(expected), f"{name}: no case where it does not"
