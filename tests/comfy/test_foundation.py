"""The extension loads into a real ComfyUI 0.3.75 and answers; prompts run through the server with it loaded."""

from __future__ import annotations

import re

from harness import Graph


def test_health_answers_with_hooks(comfy):
    """/tower/health (and its /api mirror) reports ok, the version and every attached hook."""
    for path in ("/tower/health", "/api/tower/health"):
        r = comfy.get(path)
        assert r.status == 200, r.body
        body = r.json()
        assert body["status"] == "ok"
        assert body["version"] == "0.1.0"
        assert body["comfyui_version"] == "0.3.75"
        hooks = body["checks"]["hooks"]
        assert hooks["status"] == "ok"
        assert set(hooks["attached"]) >= {"post_prompt", "queue_put", "queue_get", "task_done", "node_timing"}
        assert hooks["post_prompt_via"] == "route"  # ComfyUI's handler wrapped before it adds its routes
        assert all(v == "ok" for v in hooks["attached"].values())


def test_real_prompt_runs_and_is_recorded(comfy):
    """A model-free prompt runs to success in ComfyUI and its fate is on record."""
    g = Graph()
    img = g.add("TowerTestImage", width=32, height=32, batch_size=1, kind="gradient", seed=1)
    g.add("PreviewImage", images=g.out(img))
    rec = comfy.run(g.prompt())
    assert rec["status"] == "success"
    hist = comfy.get(f"/history/{rec['prompt_id']}").json()
    assert hist[rec["prompt_id"]]["status"]["status_str"] == "success"


def test_no_error_line_of_ours_at_start(comfy):
    """The extension loads without an error line of its own (audio nodes' IMPORT FAILED is ComfyUI's)."""
    log = comfy.log_text()
    start = log.split("Starting server", 1)[0]  # what the extension printed while ComfyUI loaded it
    ours = [ln for ln in start.splitlines() if "tower" in ln.lower() and
            ("error" in ln.lower() or "failed" in ln.lower() or "traceback" in ln.lower())]
    assert not ours, ours
    assert not re.search(r"tower\.(start_failed|nodes\.load_failed|plugin_failed|config_error|capture\.hook_)", log)
    assert "IMPORT FAILED" not in "\n".join(ln for ln in log.splitlines() if "tower-sentinel" in ln)
    assert "tower-sentinel" in log
