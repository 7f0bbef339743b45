"""grafana/ and prometheus/ ship valid documents that only use metrics the extension exposes."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families
from tower_sentinel.telemetry.events import OperationEvent, PromptEvent
from tower_sentinel.telemetry.metrics import TowerMetrics

ROOT = Path(__file__).resolve().parents[2]
_METRIC = re.compile(r"\btower_[a-z_]+\b")


def _exposed() -> set[str]:
    class Br:
        def get_stats(self):
            return {"state": "open"}

    m = TowerMetrics(health=lambda: {"checks": {"spool": {"status": "ok", "depth": 1, "dropped": 0}}},
                     breakers=lambda: {"kb": Br()}, recorder=lambda: {"queue_depth": 0, "dropped": 0})
    now = datetime.now(timezone.utc)
    m.observe([PromptEvent("p", prompt_id="p", status="success", at=now, execution_seconds=1.0, queue_wait_seconds=0.1),
               OperationEvent("o", operation_type="node_execution", start_time=now, duration_seconds=0.1,
                              success=True, node_class="K", cached=False)])
    names = set()
    for fam in text_string_to_metric_families(m.exposition().decode()):
        names.update(s.name for s in fam.samples)
    return names


def test_dashboard_json_loads_and_uses_exposed_metrics():
    """The dashboard is valid JSON with unique panel ids; every PromQL metric name is one we expose."""
    dash = json.loads((ROOT / "grafana" / "tower-sentinel.json").read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"] == "tower-sentinel"
    exposed = _exposed()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"] if "expr" in t]
    assert exprs and all(set(_METRIC.findall(e)) <= exposed for e in exprs), (set().union(*map(_METRIC.findall, exprs)) - exposed)
    sqls = [t["rawSql"] for p in dash["panels"] for t in p["targets"] if "rawSql" in t]
    assert any("PERCENTILE_CONT" in s for s in sqls) and any("time_bucket" in s for s in sqls)


def test_alert_rules_load_and_use_exposed_metrics():
    """alerts.yml parses as Prometheus rule groups covering failure ratio, p95 regression, breakers and spool."""
    doc = yaml.safe_load((ROOT / "prometheus" / "alerts.yml").read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {"TowerPromptFailureRatioHigh", "TowerPromptP95Regression", "TowerBreakerOpen", "TowerSpoolBacklog"} <= names
    exposed = _exposed()
    for r in rules:
        assert set(_METRIC.findall(r["expr"])) <= exposed, r["alert"]
        assert r["labels"]["severity"] in ("warning", "critical") and r["annotations"]["summary"]
