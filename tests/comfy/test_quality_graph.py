"""Quality nodes inside a real ComfyUI: flags on NaN/black/blurred/clean images, each gate mode, recording."""

from __future__ import annotations

import sqlite3
import uuid

from harness import Graph


def _db(comfy) -> sqlite3.Connection:
    conn = sqlite3.connect(comfy.data_dir / "tower_sentinel.sqlite3")
    conn.row_factory = sqlite3.Row
    return conn


def test_flags_for_nan_black_blurred_and_clean_images(comfy):
    """A graph scoring a NaN, a black, a blurred and a clean image records one score each with the right flags,
    and rating the clean one joins feedback to its score."""
    g = Graph()
    ids = {}
    for kind in ("nan", "black", "blurred", "gradient"):
        img = g.add("TowerTestImage", width=256, height=256, batch_size=1, kind=kind, seed=3)
        ids[kind] = g.add("TowerQualityAssess", images=g.out(img), mode="images", precision="float", min_score=0.5)
    rec = comfy.run(g.prompt(), headers={"X-Correlation-ID": f"q-{uuid.uuid4().hex[:8]}"})
    assert rec["status"] == "success", rec
    with _db(comfy) as db:
        rows = {r["node_id"]: r for r in db.execute(
            "SELECT node_id, score, passed, flags FROM tower_quality_scores WHERE prompt_id = ?", (rec["prompt_id"],))}
        ops = db.execute("SELECT COUNT(*) FROM anime_operation_metrics WHERE prompt_id = ? AND "
                         "operation_type = 'quality_assessment'", (rec["prompt_id"],)).fetchone()[0]
    assert set(rows) == set(ids.values()) and ops == 4
    flags = {kind: rows[nid]["flags"] for kind, nid in ids.items()}
    assert "non_finite" in flags["nan"] and rows[ids["nan"]]["score"] == 0.0
    assert "black" in flags["black"] and rows[ids["black"]]["score"] == 0.0
    assert "blurry" in flags["blurred"]
    assert "blurry" not in flags["gradient"] and "non_finite" not in flags["gradient"]
    clean = rows[ids["gradient"]]["score"]
    assert clean > rows[ids["blurred"]]["score"] > 0.0
    r = comfy.post("/tower/feedback", {"prompt_id": rec["prompt_id"], "rating": 5})
    assert r.status == 201
    with _db(comfy) as db:
        joined = db.execute("SELECT MAX(q.score), f.rating FROM tower_quality_scores q JOIN tower_feedback f "
                            "ON f.prompt_id = q.prompt_id WHERE q.prompt_id = ?", (rec["prompt_id"],)).fetchone()
    assert joined[0] == clean and joined[1] == 5


def _gate_graph(on_fail: str) -> dict:
    g = Graph()
    good = g.add("TowerTestImage", width=128, height=128, batch_size=1, kind="gradient", seed=1)
    bad = g.add("TowerTestImage", width=128, height=128, batch_size=1, kind="black", seed=1)
    batch = g.add("ImageBatch", image1=g.out(good), image2=g.out(bad))
    gate = g.add("TowerQualityGate", images=g.out(batch), preset="standard", on_fail=on_fail, precision="float")
    g.add("PreviewImage", images=g.out(gate, 0))
    return g.prompt()


def test_gate_fail_mode_stops_the_prompt_as_a_quality_error(comfy):
    """on_fail=fail raises QualityValidationError: the prompt errors with category quality at the gate node."""
    rec = comfy.run(_gate_graph("fail"))
    assert rec["status"] == "error" and rec["category"] == "quality"
    assert rec["failing_node_class"] == "TowerQualityGate"
    assert rec["error"]["exception_type"].endswith("QualityValidationError")


def test_gate_filter_and_warn_modes(comfy):
    """on_fail=filter drops the black image (one image previewed); warn lets both through and succeeds."""
    filtered = comfy.run(_gate_graph("filter"))
    assert filtered["status"] == "success"
    previews = [o for o in filtered["outputs"].values() if o.get("images")]
    assert len(previews[0]["images"]) == 1
    warned = comfy.run(_gate_graph("warn"))
    assert warned["status"] == "success"
    previews = [o for o in warned["outputs"].values() if o.get("images")]
    assert len(previews[0]["images"]) == 2


def test_non_image_input_is_a_clear_node_error(comfy):
    """A 1x1 image fed to the assessor is a node error naming the problem, not a crash; ComfyUI keeps serving."""
    g = Graph()
    img = g.add("TowerTestImage", width=1, height=1, batch_size=1, kind="flat", seed=0)
    g.add("TowerQualityAssess", images=g.out(img), mode="images", precision="float", min_score=0.5)
    rec = comfy.run(g.prompt())
    assert rec["status"] == "error" and rec["failing_node_class"] == "TowerQualityAssess"
    assert rec["error"]["exception_type"] == "ValueError"
    assert "1x1" in rec["error"]["message"] and "8x8" in rec["error"]["message"]
    assert comfy.run(_gate_graph("warn"))["status"] == "success"
