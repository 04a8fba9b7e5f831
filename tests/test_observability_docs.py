"""The Grafana dashboard and Prometheus alert rules in docs/: valid files
that only use metrics the server registers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from workpool_server.metrics import Metrics

DOCS = Path(__file__).resolve().parent.parent / "docs"
METRIC_NAME = re.compile(r"\b(?:workpool|grpc_server)_[a-z0-9_]+\b")
# Series names that each metric type exposes, after the family name.
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def _exposed_names() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        for suffix in SUFFIXES[family.type]:
            names.add(family.name + suffix)
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((DOCS / "grafana-dashboard.json").read_text())


@pytest.fixture(scope="module")
def alert_rules() -> list[dict]:
    document = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_exprs(dashboard: dict) -> list[str]:
    return [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]


def test_dashboard_uses_datasource_variable(dashboard):
    variables = {item["name"]: item for item in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_covers_operator_views(dashboard):
    exprs = "\n".join(_dashboard_exprs(dashboard))
    for name in (
        "workpool_pending",
        "workpool_running",
        "workpool_pool_max_parallelism",
        "workpool_completed_total",
        "workpool_retries_total",
        "workpool_oldest_ready_age_seconds",
        "workpool_start_lag_seconds_bucket",
        "workpool_workers_connected",
        "workpool_desired_workers",
    ):
        assert name in exprs
    assert "histogram_quantile(0.99" in exprs


def test_dashboard_panel_ids_unique(dashboard):
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_metrics_exist(dashboard):
    exposed = _exposed_names()
    used = {
        name for expr in _dashboard_exprs(dashboard)
        for name in METRIC_NAME.findall(expr)
    }  # fmt: skip
    assert used
    assert used - exposed == set()


def test_alerts_have_required_fields(alert_rules):
    assert len(alert_rules) >= 4
    for rule in alert_rules:
        name = rule.get("alert")
        assert name, rule
        assert rule.get("expr"), name
        assert rule.get("for"), name
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, name
        assert rule.get("annotations", {}).get("summary"), name


def test_alerts_cover_expected_conditions(alert_rules):
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules}
    assert "workpool_oldest_ready_age_seconds" in exprs["WorkpoolOldestReadyItemOld"]
    assert 'result="failure"' in exprs["WorkpoolFailureRateHigh"]
    assert "workpool_workers_connected" in exprs["WorkpoolNoWorkersWithBacklog"]
    assert "grpc_server_handled_total" in exprs["WorkpoolGrpcErrorRateHigh"]


def test_alert_metrics_exist(alert_rules):
    exposed = _exposed_names()
    for rule in alert_rules:
        used = set(METRIC_NAME.findall(rule["expr"]))
        assert used, rule["alert"]
        assert used - exposed == set(), rule["alert"]


def test_metrics_doc_lists_every_metric():
    text = (DOCS / "metrics.md").read_text()
    for name in _exposed_names():
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert f"`{family}`" in text or f"`{name}`" in text, name
