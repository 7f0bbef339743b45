"""The feedback/quality/instance queries give the same rows on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from _pgdb import both_backends
from tower_sentinel.server_routes.feedback import recent_outputs, summarize_quality
from tower_sentinel.telemetry.events import FeedbackEvent, PromptEvent, QualityEvent, new_id

T = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


def _events():
    evs = []
    for i in range(6):
        pid = f"p{i}"
        evs.append(PromptEvent(new_id(), prompt_id=pid, status="success", at=T + timedelta(minutes=i),
                               instance_id=f"host:{8188 + i % 2}", workflow_hash="wf" + str(i % 2)))
        for k in range(2):
            evs.append(QualityEvent(new_id(), prompt_id=pid, node_id="5", image_index=k, score=0.1 * i + 0.05 * k,
                                    passed=i > 2, at=T + timedelta(minutes=i)))
        if i % 2 == 0:
            evs.append(FeedbackEvent(new_id(), prompt_id=pid, rating=1 + i // 2 * 2, at=T + timedelta(minutes=i + 1),
                                     issues=["hands"]))
    return evs


@pytest.mark.pg
def test_feedback_quality_and_instance_queries_match(tmp_path, pg_admin):
    """quality_by_prompt, feedback_recent, instances_seen and feedback_for_prompt agree across backends."""
    with both_backends(pg_admin, tmp_path / "t.db", _events()) as (lite, pg):
        since, until = "2026-01-10 00:00:00.000000", "2026-01-11 00:00:00.000000"
        for store in (lite, pg):
            store.rows = {
                "q": store.query("quality_by_prompt", {"since": since, "until": until, "limit": 100}),
                "f": store.query("feedback_recent", {"since": since, "limit": 100}),
                "i": store.query("instances_seen", {"since": since}),
                "p": store.query("feedback_for_prompt", {"prompt_id": "p2"}),
            }
        for key in ("q", "f", "i"):
            a = [{k: (round(v, 9) if isinstance(v, float) else v) for k, v in r.items()} for r in lite.rows[key]]
            b = [{k: (round(float(v), 9) if isinstance(v, (float, int)) and not isinstance(v, bool) and k not in
                      ("images", "ratings", "prompts") else v) for k, v in r.items()} for r in pg.rows[key]]
            assert len(a) == len(b) > 0, key
            assert [r["prompt_id" if key != "i" else "instance_id"] for r in a] == \
                   [r["prompt_id" if key != "i" else "instance_id"] for r in b], key
        s_lite = summarize_quality(lite.rows["q"])
        s_pg = summarize_quality(pg.rows["q"])
        assert s_lite == s_pg and s_lite["ratings"]["rated_prompts"] == 3
        assert recent_outputs(lite.rows["q"], lite.rows["f"]) == recent_outputs(pg.rows["q"], pg.rows["f"])
        assert [r["rating"] for r in pg.rows["p"]] == [3]
