"""The analytics core on a temp SQLiteStore filled with a recorded history, at a fixed clock."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _analytics_events import EXT, NEW, OLD, history, prompt_events  # noqa: E402
from tower_sentinel.telemetry.analytics import Analytics  # noqa: E402
from tower_sentinel.telemetry.store import SQLiteStore  # noqa: E402

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
DAY = 86400.0


@pytest.fixture(scope="module")
def analytics(tmp_path_factory):
    store = SQLiteStore(tmp_path_factory.mktemp("analytics") / "t.db")
    store.write_batch(history(NOW))
    return Analytics(store, clock=lambda: NOW)


def _by(rows, key):
    return {r[key]: r for r in rows}


def test_success_rate_counts_the_window_only(analytics):
    """Per operation type over [now-window, now): 55 executions in 48 h, fewer in 24 h; rates from the counts."""
    two = _by(analytics.success_rate(2 * DAY)["operation_types"], "operation_type")
    assert two["comfyui_execution"]["total_operations"] == 55
    assert two["comfyui_execution"]["successful_operations"] == 36
    assert two["comfyui_queue"]["failed_operations"] == 1  # the rejected prompt
    one = _by(analytics.success_rate(DAY)["operation_types"], "operation_type")
    assert one["comfyui_execution"]["total_operations"] < 55
    only = analytics.success_rate(2 * DAY, operation_type="comfyui_queue")["operation_types"]
    assert [o["operation_type"] for o in only] == ["comfyui_queue"]
    assert analytics.success_rate(60)["overall"] == {"total_operations": 0, "successful_operations": 0,
                                                     "success_rate_percent": None}


def test_durations_are_percentile_cont(analytics):
    """avg/p50/p95 equal numpy's linear percentiles of the same successful durations; cached runs apart."""
    d = analytics.durations(2 * DAY)
    execs = [0.6 + 0.1 * i for i in range(36)]
    ex = _by(d["operation_types"], "operation_type")["comfyui_execution"]
    assert ex["count"] == 36
    assert ex["p50"] == pytest.approx(np.percentile(execs, 50)) and ex["p95"] == pytest.approx(np.percentile(execs, 95))
    assert ex["avg"] == pytest.approx(np.mean(execs)) and ex["max"] == pytest.approx(max(execs))
    sampler = _by(d["node_classes"], "node_class")["TowerTestSampler"]
    durs = [0.5 + 0.05 * i for i in range(36)]
    assert sampler["p95"] == pytest.approx(np.percentile(durs, 95))
    loader = _by(d["node_classes"], "node_class")["TowerTestLoadModel"]
    assert loader["cached"] == 12 and loader["count"] == 24
    waits = [0.05 * (i % 5) for i in range(36)] + [0.5] * 19
    assert d["prompts"]["queue_wait"]["p50"] == pytest.approx(np.percentile(waits, 50))
    assert d["prompts"]["execution"]["count"] == 55
    assert d["node_classes"][0]["node_class"] == "TowerTestSampler"  # most total time first


def test_percentiles_of_one_and_two_values(tmp_path):
    """Tiny groups interpolate like PERCENTILE_CONT (one value: itself; two: linear)."""
    store = SQLiteStore(tmp_path / "t.db")
    store.write_batch(prompt_events("a", NOW - timedelta(hours=1), inputs={}, exec_s=1.0)
                      + prompt_events("b", NOW - timedelta(hours=2), inputs={}, exec_s=3.0))
    a = Analytics(store, clock=lambda: NOW)
    ex = _by(a.durations(DAY)["operation_types"], "operation_type")["comfyui_execution"]
    assert (ex["p50"], ex["p95"]) == (2.0, pytest.approx(2.9))
    store.write_batch(prompt_events("c", NOW - timedelta(days=3), inputs={}, exec_s=9.0))
    one = Analytics(store, clock=lambda: NOW - timedelta(days=2, hours=12))
    ex = _by(one.durations(DAY)["operation_types"], "operation_type")["comfyui_execution"]
    assert ex["count"] == 1 and ex["p50"] == ex["p95"] == 9.0


def test_errors_seed_query_and_recent(analytics):
    """Most common errors by category/severity (frequency first) and the most recent ones, newest first."""
    e = analytics.errors(2 * DAY, limit=5)
    assert e["categories"][:3] == [
        {"category": "out_of_memory", "severity": "high", "frequency": 12},
        {"category": "model_missing", "severity": "high", "frequency": 4},
        {"category": "generation", "severity": "high", "frequency": 3}]
    stamps = [r["timestamp"] for r in e["recent"]]
    assert len(stamps) == 5 and stamps == sorted(stamps, reverse=True)
    assert all(r["category"] == "model_missing" for r in analytics.errors(2 * DAY, category="model_missing")["recent"])
    assert analytics.error("mm000-err")["exception_type"] == "FileNotFoundError"
    assert analytics.error("nope") is None


def test_failure_patterns(analytics):
    """Errors group by fingerprint; counts, prompts, trend vs the previous window and new-since-update."""
    fa = analytics.failure_analysis(DAY)
    pats = _by(fa["patterns"], "category")
    oom, mm, rz = pats["out_of_memory"], pats["model_missing"], pats["generation"]
    assert [p["category"] for p in fa["patterns"][:3]] == ["out_of_memory", "model_missing", "generation"]
    assert (oom["count"], oom["prompts_affected"], oom["previous_count"], oom["trend"]) == (9, 9, 3, "rising")
    assert oom["template"].startswith("CUDA out of memory. Tried to allocate <")
    assert oom["new_since_update"] is False and oom["introduced_in"]["comfyui_version"] == OLD
    assert rz["new_since_update"] is True and rz["trend"] == "new" and rz["template"] == "boom <num>"
    assert rz["introduced_in"] == {"comfyui_version": NEW, "extension_version": EXT}
    assert fa["last_update"]["from"]["comfyui_version"] == OLD and fa["last_update"]["to"]["comfyui_version"] == NEW
    assert oom["first_seen"] <= oom["last_seen"] and oom["first_seen_ever"] < oom["first_seen"]
    assert oom["example"]["message"].startswith("CUDA out of memory") and oom["example"]["inputs"]
    assert mm["suggested_action"]["search_path"] == "/models/checkpoints/missing_model.safetensors"
    assert mm["suggested_action"]["folder"] == "checkpoints"
    assert fa["prompts"]["by_status"]["rejected"] == 1
    assert fa["error_categories"][0] == {"category": "out_of_memory", "frequency": 9}
    assert fa["recommendations"][0].startswith("out_of_memory in TowerTestSampler (9×, rising)")


def test_oom_driver_is_the_size_input(analytics):
    """The out-of-memory pattern's best drivers are the sampler's size inputs at 1536, 100 % vs 0 %."""
    oom = _by(analytics.failure_analysis(2 * DAY)["patterns"], "category")["out_of_memory"]
    top = oom["drivers"][0]
    assert top["input"] in ("TowerTestSampler.width", "TowerTestSampler.height", "TowerTestSampler.width×height")
    assert top["op"] == ">=" and top["threshold"] in (1536, 1536 * 1536)
    assert top["matched"]["rate"] == 1.0 and top["unmatched"]["rate"] == 0.0
    assert not any("seed" in d["input"] for d in oom["drivers"])
    assert "TowerTestSampler.width" in oom["suggested_action"]["details"][0] or "height" in oom["suggested_action"]["details"][0]


def test_quality_and_feedback_summaries(analytics):
    """Mean score, pass rate of gated scores, top flags; rating distribution and top issues."""
    fa = analytics.failure_analysis(DAY)
    assert fa["quality"]["count"] == 6 and fa["quality"]["pass_rate"] == pytest.approx(4 / 6, abs=1e-6)
    assert fa["quality"]["top_flags"] == [{"flag": "blurry", "count": 2}]
    assert fa["feedback"]["count"] == 4 and fa["feedback"]["avg_rating"] == 4.0
    assert fa["feedback"]["ratings"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 2}
    assert fa["feedback"]["top_issues"][0] == {"issue": "hands", "count": 2}


def test_no_update_means_nothing_is_new_since_update(tmp_path):
    """With one version pair ever recorded there is no last update and no pattern is new since one."""
    store = SQLiteStore(tmp_path / "t.db")
    store.write_batch(prompt_events("x", NOW - timedelta(hours=1), inputs={}, outcome="error",
                                    error=("generation", "high", "RuntimeError", "N", "boom")))
    fa = Analytics(store, clock=lambda: NOW).failure_analysis(DAY)
    assert fa["last_update"] is None and fa["patterns"][0]["new_since_update"] is False
    assert fa["patterns"][0]["drivers"] == []
