"""User ratings on a real ComfyUI: stored, joined to the prompt, and guarded against bad input."""

from __future__ import annotations

import sqlite3

from harness import Graph


def _image_prompt() -> dict:
    g = Graph()
    img = g.add("TowerTestImage", width=32, height=32, batch_size=1, kind="gradient", seed=77)
    g.add("SaveImage", images=g.out(img), filename_prefix="tower_fb")
    return g.prompt()


def test_feedback_is_stored_and_joined_to_the_prompt(comfy):
    """A rating on a real output is stored with the prompt's correlation id and image; the seed alias works."""
    rec = comfy.run(_image_prompt(), headers={"X-Correlation-ID": "fb-corr-1"})
    assert rec["status"] == "success"
    image = next(iter(rec["outputs"].values()))["images"][0]
    r = comfy.post("/tower/feedback", {"prompt_id": rec["prompt_id"], "rating": 4, "image": image,
                                       "issues": ["hands"], "comment": "nice"})
    assert r.status == 201, r.body
    assert r.json()["correlation_id"] == "fb-corr-1"
    seed = comfy.post("/api/feedback", {"generation_id": rec["prompt_id"], "user_rating": 2,
                                        "feedback_text": "meh", "issues": []})
    assert seed.status == 200 and seed.json()["status"] == "received"
    db = sqlite3.connect(comfy.data_dir / "tower_sentinel.sqlite3")
    rows = db.execute("SELECT f.rating, f.image_filename, p.correlation_id FROM tower_feedback f "
                      "JOIN tower_prompts p ON p.prompt_id = f.prompt_id WHERE f.prompt_id = ? ORDER BY f.rating",
                      (rec["prompt_id"],)).fetchall()
    assert rows == [(2, None, "fb-corr-1"), (4, image["filename"], "fb-corr-1")]
    recent = {r["prompt_id"]: r for r in comfy.get("/tower/quality/summary?window=1d").json()["recent"]}
    assert recent[rec["prompt_id"]]["rating"] == 3.0


def test_feedback_bad_input_is_rejected_cleanly(comfy):
    """Bad ratings, unknown prompts, forms (CSRF) and huge bodies get 400/404/415/413 with a JSON error."""
    rec = comfy.run(_image_prompt())
    cases = [
        ({"prompt_id": rec["prompt_id"], "rating": 6}, 400),
        ({"prompt_id": rec["prompt_id"], "rating": "5"}, 400),
        ({"rating": 3}, 400),
        ({"prompt_id": "never-recorded", "rating": 3}, 404),
        ([1, 2, 3], 400),
    ]
    for body, status in cases:
        r = comfy.post("/tower/feedback", body)
        assert r.status == status, (body, r.body)
        assert set(r.json()["error"]) >= {"type", "message"}
    form = comfy.post("/tower/feedback", raw=b"prompt_id=x&rating=5",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 415
    big = comfy.post("/tower/feedback", raw=b'{"comment": "' + b"x" * 600_000 + b'"}',
                     headers={"Content-Type": "application/json"})
    assert big.status == 413
    assert comfy.get("/tower/quality/summary?window=banana").status == 400
    summary = comfy.get("/tower/quality/summary?window=1d")
    assert summary.status == 200 and "workflows" in summary.json()
