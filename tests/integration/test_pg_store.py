"""PostgresStore on a real server: one migration across racing instances, time_bucket, reads shaped like SQLite's,
the spool's bound, and retention in bounded batches on both backends."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from _events import operation, prompt_story
from tower_sentinel.telemetry.events import ErrorEvent, new_id
from tower_sentinel.telemetry.pg_store import PostgresStore, classify_error
from tower_sentinel.telemetry.retention import Retention
from tower_sentinel.telemetry.store import SQLiteStore

pytestmark = pytest.mark.pg


def test_racing_instances_migrate_once(pg_dsn):
    """Eight instances starting together apply the migrations exactly once (advisory lock)."""
    stores = [PostgresStore(pg_dsn) for _ in range(8)]
    results: list[list[int]] = []
    barrier = threading.Barrier(len(stores))

    def go(s: PostgresStore) -> None:
        barrier.wait()
        results.append(s.migrate())

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    from tower_sentinel.telemetry.sqlfiles import migrations

    assert sorted(results) == [[]] * 7 + [[v for v, _name, _text in migrations("postgres")]]
    names = {r["indexname"] for r in stores[0].query_text("SELECT indexname FROM pg_indexes")}
    assert {"idx_operation_type_time", "idx_success_time", "idx_category_timestamp", "idx_severity_resolved"} <= names


def test_time_bucket_on_date_bin_and_existing_one_left_alone(pg_dsn):
    """Without TimescaleDB our time_bucket buckets like it; a time_bucket already there is not replaced."""
    pg = PostgresStore(pg_dsn)
    pg.migrate()
    rows = pg.query_text("SELECT time_bucket('1 hour', TIMESTAMP '2025-05-05 13:47:12') AS a, "
                         "time_bucket('15 minutes', TIMESTAMP '2025-05-05 13:47:12') AS b, "
                         "time_bucket('1 day', TIMESTAMPTZ '2025-05-05 13:47:12+00') AS c")
    assert rows[0]["a"] == "2025-05-05 13:00:00.000000"
    assert rows[0]["b"] == "2025-05-05 13:45:00.000000"
    assert rows[0]["c"] == "2025-05-05 00:00:00.000000"
    pg.close()

    # a database whose time_bucket exists already (TimescaleDB's, here a stand-in) keeps it
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        c.execute("CREATE SCHEMA other")
        c.execute("CREATE FUNCTION other.time_bucket(w interval, ts timestamp) RETURNS timestamp "
                  "LANGUAGE sql AS 'SELECT TIMESTAMP ''1999-01-01''' ")
    other = PostgresStore(pg_dsn + " options='-c search_path=other'")
    other.migrate()
    assert other.query_text("SELECT time_bucket('1 hour', TIMESTAMP '2025-05-05 13:47:12') AS a")[0]["a"] \
        == "1999-01-01 00:00:00.000000"
    plain = other.query_text("SELECT count(*) AS n FROM pg_proc WHERE proname = 'time_bucket' "
                             "AND pronamespace = 'other'::regnamespace "
                             "AND pg_get_function_identity_arguments(oid) LIKE '%%without time zone'")
    assert plain[0]["n"] == 1  # ours was not added next to the existing one
    other.close()


def test_reads_match_sqlite_shapes(pg_dsn, tmp_path):
    """get_generation, get_error, query and unfinished_prompts answer exactly what SQLiteStore answers."""
    lite = SQLiteStore(tmp_path / "l.sqlite3", spool=True)
    events = prompt_story("shape-ok") + prompt_story("shape-bad", fail=True) + [operation(i) for i in range(5)]
    lite.write_batch(events)
    pg = PostgresStore(pg_dsn)
    pg.migrate()
    pg.apply_records(lite.spool_batch(1000))

    def strip(rec):
        if rec and rec.get("error"):
            rec["error"] = {k: v for k, v in rec["error"].items() if k not in ("id", "created_at")}
        return rec

    for pid in ("shape-ok", "shape-bad", "missing"):
        assert strip(pg.get_generation(pid)) == strip(lite.get_generation(pid))
    err = next(e for e in events if isinstance(e, ErrorEvent))
    a, b = pg.get_error(err.event_id), lite.get_error(err.event_id)
    assert {k: v for k, v in a.items() if k not in ("id", "created_at")} == \
        {k: v for k, v in b.items() if k not in ("id", "created_at")}
    assert isinstance(a["resolved"], bool) and isinstance(a["context"], (dict, type(None)))
    assert pg.query("get_prompt_nodes", {"prompt_id": "p0"}) == lite.query("get_prompt_nodes", {"prompt_id": "p0"})
    assert pg.unfinished_prompts("it:1") == lite.unfinished_prompts("it:1") == []
    pg.close()


def test_spool_bound_counts_dropped_events(tmp_path):
    """At the bound the spool stops growing and every event it refused is counted; the tables still get them."""
    lite = SQLiteStore(tmp_path / "b.sqlite3", spool=True, spool_max_events=250)
    for k in range(4):
        lite.write_batch([operation(k * 100 + i) for i in range(100)])
    assert lite.spool_depth() == 250
    assert lite.spool_dropped == 150
    assert lite.query_text("SELECT COUNT(*) AS n FROM anime_operation_metrics")[0]["n"] == 400
    first = lite.spool_batch(100)
    lite.spool_delete_upto(first[-1][0])
    lite.write_batch([operation(900 + i) for i in range(60)])
    assert (lite.spool_depth(), lite.spool_dropped) == (210, 150)


def test_retention_deletes_old_rows_in_batches_on_both_backends(pg_dsn, tmp_path):
    """Metrics older than 30 days and error logs older than 90 go, in batches; younger rows stay."""
    now = datetime.now(timezone.utc)
    old_ops = [operation(i, at=now - timedelta(days=31)) for i in range(1_203)]
    new_ops = [operation(i, at=now - timedelta(days=29)) for i in range(10)]
    errs = [ErrorEvent(new_id(), message="m", category="c", severity="low", timestamp=now - timedelta(days=d))
            for d in (91, 92, 89)]
    lite = SQLiteStore(tmp_path / "r.sqlite3", spool=True)
    lite.write_batch(old_ops + new_ops + errs)
    pg = PostgresStore(pg_dsn)
    pg.migrate()
    pg.apply_records(lite.spool_batch(10_000))
    ret = Retention([lite, pg], batch=500, pause_s=0)
    out = ret.run_once()
    assert out == {"sqlite.anime_operation_metrics": 1_203, "sqlite.anime_error_logs": 2,
                   "postgres.anime_operation_metrics": 1_203, "postgres.anime_error_logs": 2}
    assert pg.query_text("SELECT COUNT(*) AS n FROM anime_operation_metrics")[0]["n"] == 10
    assert lite.query_text("SELECT COUNT(*) AS n FROM anime_error_logs")[0]["n"] == 1
    assert Retention([lite, pg], metrics_days=0, errors_days=0).run_once() == {}
    pg.close()


def test_errors_are_classified_without_secrets():
    """Unreachable and auth failures get short reasons; the password never reaches the message."""
    from pgcluster import Cluster
    from tower_sentinel.telemetry.pg_store import safe_message

    c = Cluster(password="right-pw")
    try:
        bad = PostgresStore(c.dsn(password="wrong-pw-xyz"), connect_timeout=2)
        with pytest.raises(psycopg.OperationalError) as ei:
            bad.connect()
        assert classify_error(ei.value) == "auth_failed"
        assert "wrong-pw-xyz" not in safe_message(ei.value, bad.password)
    finally:
        c.destroy()
    gone = PostgresStore("host=127.0.0.1 port=1 dbname=x password=pw-abc", connect_timeout=2)
    with pytest.raises(psycopg.OperationalError) as ei2:
        gone.connect()
    assert classify_error(ei2.value) == "unreachable"
    assert "pw-abc" not in gone.masked_dsn
