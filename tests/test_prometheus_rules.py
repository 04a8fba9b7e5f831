"""docs/prometheus-alerts.yml checked and unit-tested by Prometheus's own
promtool, against the synthetic series in tests/prometheus/alerts_test.yml."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "docs" / "prometheus-alerts.yml"
RULE_TESTS = REPO / "tests" / "prometheus" / "alerts_test.yml"
# Where scripts/install_promtool.sh puts the binary of Debian's package.
LOCAL_PROMTOOL = REPO / "tools" / "promtool" / "usr" / "bin" / "promtool"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is not None:
        return found
    if LOCAL_PROMTOOL.exists():
        return str(LOCAL_PROMTOOL)
    pytest.skip(
        "promtool not found on PATH or in tools/promtool: run "
        "scripts/install_promtool.sh (.ci/run does), which needs apt-get and "
        "access to Debian's package archive"
    )


def run_promtool(promtool: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool, *arguments], capture_output=True, text=True, timeout=60
    )


def test_alert_rules_pass_promtool_check(promtool):
    checked = run_promtool(promtool, "check", "rules", str(RULES))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout


def test_alert_rules_pass_unit_tests(promtool):
    tested = run_promtool(promtool, "test", "rules", str(RULE_TESTS))

    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_unit_tests_cover_every_alert():
    rules = RULES.read_text()
    tests = RULE_TESTS.read_text()
    alerts = [
        line.split(":", 1)[1].strip()
        for line in rules.splitlines()
        if line.strip().startswith("- alert:")
    ]

    assert len(alerts) == 4
    for alert in alerts:
        assert f"alertname: {alert}" in tests, alert
