"""A recorded mix of real failures on a real ComfyUI comes back as the right failure patterns.

Out of memory raised by the testing sampler at large sizes, a missing model file and a raising node run through
ComfyUI's executor; the analysis groups them, names the size input as the out-of-memory driver, the searched
path for the missing model, and the seed's aliases, the Prometheus exposition and the /api mirror agree.
"""

from __future__ import annotations

import pytest
from harness import Graph
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.comfy

SMALL = [512, 640, 768, 896, 1024, 1280]
LARGE = [1536, 1792, 2048, 2304]


def _sampler(side: int, steps: int) -> dict:
    g = Graph()
    s = g.add("TowerTestSampler", width=side, height=side, steps=steps, budget_pixels=1536 * 1536)
    g.add("PreviewImage", images=g.out(s))
    return g.prompt()


@pytest.fixture(scope="module")
def recorded(comfy):
    outcomes = {}
    for i, side in enumerate(SMALL):
        outcomes[f"ok{side}"] = comfy.run(_sampler(side, 20 + i))["status"]
    for i, side in enumerate(LARGE):
        outcomes[f"oom{side}"] = comfy.run(_sampler(side, 20 + i))["status"]
    for i in range(3):
        g = Graph()
        g.add("TowerTestLoadModel", ckpt_name=f"analytics_missing_{i}.safetensors")
        outcomes[f"mm{i}"] = comfy.run(g.prompt())["status"]
    for i in range(2):
        g = Graph()
        g.add("TowerTestRaise", message="analytics raise", value=1000 + i)
        outcomes[f"rz{i}"] = comfy.run(g.prompt())["status"]
    return outcomes


def _pattern(patterns, **match):
    found = [p for p in patterns if all(p.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(p["category"], p["node_class"], p["template"]) for p in patterns])
    return found[0]


def test_real_failures_come_back_as_patterns(comfy, recorded):
    """Three patterns with the right categories, counts, drivers and actions; the size input drives the OOM."""
    assert [recorded[f"ok{s}"] for s in SMALL] == ["success"] * len(SMALL)
    assert {v for k, v in recorded.items() if not k.startswith("ok")} == {"error"}
    r = comfy.get("/tower/learning/failure-analysis?window=1h&limit=50")
    assert r.status == 200, r.body
    patterns = r.json()["patterns"]

    oom = _pattern(patterns, category="out_of_memory", node_class="TowerTestSampler")
    assert oom["count"] >= len(LARGE) and oom["exception_type"].endswith("OutOfMemoryError")
    assert oom["template"].startswith("CUDA out of memory")
    top = oom["drivers"][0]
    assert top["input"] in ("TowerTestSampler.width", "TowerTestSampler.height", "TowerTestSampler.width×height")
    assert top["op"] == ">=" and top["matched"]["rate"] == 1.0 and top["unmatched"]["rate"] == 0.0
    assert top["threshold"] in (1536, 1536 * 1536)
    assert "TowerTestSampler" in oom["suggested_action"]["details"][0]
    assert oom["example"]["inputs"]["TowerTestSampler.width"] >= 1536

    mm = _pattern(patterns, category="model_missing", node_class="TowerTestLoadModel")
    assert mm["count"] == 3 and mm["prompts_affected"] == 3
    assert mm["suggested_action"]["search_path"].startswith("/models/checkpoints/analytics_missing_")
    assert mm["suggested_action"]["folder"] == "checkpoints"

    rz = _pattern(patterns, node_class="TowerTestRaise", template="analytics raise (value <num>)")
    assert rz["category"] == "generation" and rz["exception_type"] == "RuntimeError" and rz["count"] == 2
    assert all(p["new_since_update"] is False for p in (oom, mm, rz))  # one ComfyUI version on record


def test_seed_aliases_and_mirror_on_the_real_server(comfy, recorded):
    """The seed's /api paths answer in the original shapes on ComfyUI; /api/tower/... mirrors /tower/...."""
    h = comfy.get("/api/health")
    assert h.status == 200 and h.json()["status"] in ("healthy", "degraded")
    assert h.json()["dependencies"]["database"]["status"] == "connected"
    sr = comfy.get("/api/metrics/success-rate?hours=1").json()
    assert 0 < sr["success_rate"] < 1 and sr["period_hours"] == 1
    fa = comfy.get("/api/learning/failure-analysis?days=1").json()
    assert fa["analysis_period_days"] == 1 and fa["failure_patterns"] and fa["recommendations"]
    assert any(c["category"] == "out_of_memory" for c in fa["error_categories"])
    mirror = comfy.get("/api/tower/metrics/success-rate?window=1h")
    assert mirror.status == 200 and mirror.json()["operation_types"]
    checks = comfy.get("/tower/health").json()["checks"]
    assert checks["seed_aliases"] == {"status": "ok", "taken_by_others": []}
    assert comfy.get("/tower/metrics/success-rate?window=1y").status == 400


def test_prometheus_counts_the_real_outcomes(comfy, recorded):
    """The exposition parses and counts at least the outcomes this module recorded."""
    r = comfy.get("/tower/metrics/prometheus")
    assert r.status == 200
    values = {}
    for fam in text_string_to_metric_families(r.body.decode()):
        for s in fam.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert values[("tower_prompt_outcomes_total", (("category", "out_of_memory"), ("status", "error")))] >= len(LARGE)
    assert values[("tower_prompt_outcomes_total", (("category", "model_missing"), ("status", "error")))] >= 3
    assert values[("tower_prompt_outcomes_total", (("category", "none"), ("status", "success")))] >= len(SMALL)
    assert values[("tower_node_execution_seconds_count", (("node_class", "TowerTestSampler"),))] >= len(SMALL)
