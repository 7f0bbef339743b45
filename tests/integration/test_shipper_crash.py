"""A crash between PostgreSQL's commit and the spool delete, injected again and again, never doubles an event."""

from __future__ import annotations

import random

import pytest
from _events import operation, prompt_story
from tower_sentinel.telemetry.pg_store import PostgresStore
from tower_sentinel.telemetry.shipper import Shipper, SimulatedCrash
from tower_sentinel.telemetry.store import SQLiteStore

pytestmark = pytest.mark.pg


def test_crash_after_commit_replays_without_duplicates(pg_dsn, tmp_path):
    """Each 'process' ships until the fault kills it right after commit; the next one replays the batch."""
    spool = SQLiteStore(tmp_path / "spool.sqlite3", spool=True)
    ops = [operation(i) for i in range(6_000)]
    stories = [ev for n in range(200) for ev in prompt_story(f"crash-{n}", fail=n % 3 == 0)]
    events = ops + stories
    for k in range(0, len(events), 700):
        spool.write_batch(events[k:k + 700])
    rng = random.Random(7)
    crashes = 0

    def fault(point: str) -> None:
        if point == "after_commit" and rng.random() < 0.6:
            raise SimulatedCrash(point)

    pg = PostgresStore(pg_dsn)
    for _ in range(500):
        if spool.spool_depth() == 0:
            break
        shipper = Shipper(spool, pg, batch_size=500, fault=fault)  # a fresh "process" each time
        try:
            while shipper.ship_once():
                pass
        except SimulatedCrash:
            crashes += 1
        finally:
            shipper.stop()
    assert spool.spool_depth() == 0
    assert crashes >= 10, "the fault must actually have fired many times"

    ids = {r["operation_id"] for r in pg.query_text("SELECT operation_id FROM anime_operation_metrics")}
    rows = pg.query_text("SELECT count(*) AS n, count(DISTINCT operation_id) AS d FROM anime_operation_metrics")[0]
    assert ids == {e.event_id for e in ops}  # lost = 0
    assert rows["n"] == rows["d"] == len(ops)  # dup = 0
    # every row was inserted exactly once: replays of committed batches inserted nothing
    assert pg.rows_inserted == len(ops) + sum(1 for e in stories if e.kind == "error")
    errors = pg.query_text("SELECT count(*) AS n FROM anime_error_logs")[0]["n"]
    assert errors == sum(1 for e in stories if e.kind == "error")
    prompts = pg.query_text("SELECT status, count(*) AS n FROM tower_prompts GROUP BY status ORDER BY status")
    assert prompts == [{"status": "error", "n": 67}, {"status": "success", "n": 133}]
    # the merge converged to what the local store holds for the same events
    for n in (0, 1, 199):
        local, shared = spool.get_generation(f"crash-{n}"), pg.get_generation(f"crash-{n}")
        for rec in (local, shared):
            if rec["error"]:  # the row's own surrogate key and insert time differ between databases
                rec["error"] = {k: v for k, v in rec["error"].items() if k not in ("id", "created_at")}
        assert shared == local
    pg.close()
