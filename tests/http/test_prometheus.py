"""/tower/metrics/prometheus: our own registry, fed by committed events, read back by prometheus_client's parser."""

from __future__ import annotations

from datetime import datetime, timezone

from _analytics_events import history
from _app import FakeRuntime, make_app
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from tower_sentinel.telemetry.metrics import TowerMetrics, ensure


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


class _Breaker:
    def __init__(self, state: str) -> None:
        self.state = state

    def get_stats(self) -> dict[str, str]:
        return {"state": self.state}


async def test_exposition_parses_and_counts_committed_events(aiohttp_client, store):
    """Outcomes by status/category, histograms, breakers, spool and recorder read back through the parser."""
    rt = FakeRuntime(store)
    rt.components["breakers"] = {"echo_brain": _Breaker("open"), "kb": _Breaker("closed")}
    metrics = ensure(rt)
    metrics.observe(history(datetime.now(timezone.utc)))
    client = await aiohttp_client(make_app(rt))
    r = await client.get("/tower/metrics/prometheus")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    s = _samples(await r.text())
    assert s[("tower_prompt_outcomes_total", (("category", "none"), ("status", "success")))] == 36
    assert s[("tower_prompt_outcomes_total", (("category", "out_of_memory"), ("status", "error")))] == 12
    assert s[("tower_prompt_outcomes_total", (("category", "validation"), ("status", "rejected")))] == 1
    assert s[("tower_prompt_execution_seconds_count", ())] == 36 + 12 + 4 + 3
    assert s[("tower_prompt_queue_wait_seconds_bucket", (("le", "+Inf"),))] == 55
    assert s[("tower_node_execution_seconds_count", (("node_class", "TowerTestSampler"),))] == 36
    assert ("tower_node_execution_seconds_count", (("node_class", "TowerTestLoadModel"),)) in s  # 24 ran, 12 cached
    assert s[("tower_node_execution_seconds_count", (("node_class", "TowerTestLoadModel"),))] == 24
    assert s[("tower_operations_total", (("operation_type", "comfyui_queue"), ("success", "false")))] == 1
    assert s[("tower_breaker_open", (("name", "echo_brain"),))] == 1
    assert s[("tower_breaker_open", (("name", "kb"),))] == 0
    assert s[("tower_breaker_state", (("name", "echo_brain"), ("state", "open")))] == 1
    assert s[("tower_spool_depth", ())] == 3
    assert s[("tower_spool_dropped_total", ())] == 1
    assert s[("tower_health_status", (("check", "store"),))] == 0


def test_registry_is_our_own_and_node_labels_are_bounded():
    """Nothing lands in prometheus_client's global registry; node classes beyond the cap become 'other'."""
    from tower_sentinel.telemetry.events import OperationEvent

    m = TowerMetrics(max_node_classes=2)
    now = datetime.now(timezone.utc)
    m.observe([OperationEvent(f"n{i}", operation_type="node_execution", start_time=now, duration_seconds=0.1,
                              success=True, node_class=f"Class{i}", cached=False) for i in range(5)])
    s = _samples(m.exposition().decode())
    labels = {dict(k[1]).get("node_class") for k in s if k[0] == "tower_node_execution_seconds_count"}
    assert labels == {"Class0", "Class1", "other"}
    assert s[("tower_node_execution_seconds_count", (("node_class", "other"),))] == 3
    assert not any(n.startswith("tower_") for n in REGISTRY._names_to_collectors)


def test_metrics_follow_the_recorder(tmp_path):
    """ensure() subscribes to the recorder: events count only after the writer committed them."""
    from tower_sentinel.telemetry.events import PromptEvent
    from tower_sentinel.telemetry.store import SQLiteStore

    rt = FakeRuntime(SQLiteStore(tmp_path / "t.db"))
    m = ensure(rt)
    assert ensure(rt) is m
    rt.recorder.start()
    try:
        rt.recorder.record(PromptEvent("e1", prompt_id="p1", status="error", at=datetime.now(timezone.utc),
                                       category="out_of_memory", execution_seconds=1.5))
        assert rt.recorder.flush()
    finally:
        rt.recorder.stop()
    s = _samples(m.exposition().decode())
    assert s[("tower_prompt_outcomes_total", (("category", "out_of_memory"), ("status", "error")))] == 1
