"""PostgreSQL shipping (issue 4): sustained ship rate and the drain after an outage.

- Ship rate: 100,000 spooled events moved by ``Shipper.ship_once`` (spool read-ahead, one idempotent transaction
  per batch of 5,000 growing to 20,000 while the backlog lasts, spool delete on the I/O thread) into the local PostgreSQL, against the plain per-row ``INSERT`` loop measured in the same run
  (one commit per row like the seed's ``log_operation``, and one transaction per batch).
- Drain: events arrive at 2,000/s through the real recorder while a throw-away cluster is stopped
  (``pg_ctl stop -m immediate``) for 60 s; the time from the server accepting connections again until the backlog is
  gone (spool below one second of arrivals).

Run: ``python benchmarks/pg_ship.py`` (``--quick`` for a short smoke run). Needs PostgreSQL at
``TOWER_TEST_PG_DSN`` (default ``host=127.0.0.1 port=5432 dbname=test``) and the server binaries for initdb.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import types
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "tower_sentinel" not in sys.modules:
    pkg = types.ModuleType("tower_sentinel")
    pkg.__path__ = [str(ROOT)]
    sys.modules["tower_sentinel"] = pkg
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import psycopg  # noqa: E402
from _events import operation, prompt_story  # noqa: E402
from _report import write_section  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from tower_sentinel.telemetry.pg_store import PostgresStore, _pg_sql  # noqa: E402
from tower_sentinel.telemetry.recorder import Recorder  # noqa: E402
from tower_sentinel.telemetry.shipper import Shipper  # noqa: E402
from tower_sentinel.telemetry.store import SQLiteStore  # noqa: E402

BASE_DSN = os.environ.get("TOWER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=test")


def _fresh_db(admin: psycopg.Connection) -> tuple[str, str]:
    name = "tower_bench_" + uuid.uuid4().hex[:10]
    admin.execute(f'CREATE DATABASE "{name}"')
    params = psycopg.conninfo.conninfo_to_dict(BASE_DSN)
    params["dbname"] = name
    return name, psycopg.conninfo.make_conninfo(**params)


def _spool(tmp: Path, events: list) -> SQLiteStore:
    s = SQLiteStore(tmp / f"spool-{uuid.uuid4().hex[:6]}.sqlite3", spool=True)
    for k in range(0, len(events), 5_000):
        s.write_batch(events[k:k + 5_000])
    return s


def ship_rate(tmp: Path, n: int, mixed: bool) -> float:
    if mixed:
        events: list = []
        i = 0
        while len(events) < n:
            events += prompt_story(f"b{i}", fail=i % 4 == 0) + [operation(i * 8 + k) for k in range(8)]
            i += 1
        events = events[:n]
    else:
        events = [operation(i) for i in range(n)]
    spool = _spool(tmp, events)
    with psycopg.connect(BASE_DSN, autocommit=True) as admin:
        name, dsn = _fresh_db(admin)
        try:
            pg = PostgresStore(dsn)
            pg.migrate()
            shipper = Shipper(spool, pg, batch_size=5_000)
            t = time.perf_counter()
            while shipper.ship_once():
                pass
            elapsed = time.perf_counter() - t
            shipper.stop()
            pg.close()
            assert spool.spool_depth() == 0
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    return len(events) / elapsed


def per_row_rate(n: int, *, commit_each: bool) -> float:
    rows = [operation(i).to_row() for i in range(n)]
    with psycopg.connect(BASE_DSN, autocommit=True) as admin:
        name, dsn = _fresh_db(admin)
        try:
            PostgresStore(dsn).migrate()
            stmt = _pg_sql("insert_operation")
            with psycopg.connect(dsn, autocommit=commit_each) as conn:
                t = time.perf_counter()
                for row in rows:
                    conn.execute(stmt, row)
                if not commit_each:
                    conn.commit()
                elapsed = time.perf_counter() - t
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    return n / elapsed


def drain(tmp: Path, outage_s: float, rate: int = 2_000) -> dict[str, float]:
    cluster = Cluster()
    try:
        spool = SQLiteStore(tmp / "drain.sqlite3", spool=True)
        recorder = Recorder(spool, max_queue=500_000)
        pg = PostgresStore(cluster.dsn(), connect_timeout=2, statement_timeout=10)
        shipper = Shipper(spool, pg)
        recorder.add_listener(lambda _e: shipper.wake())
        recorder.start()
        shipper.start()
        stop = threading.Event()

        def produce() -> None:
            t0, n = time.monotonic(), 0
            while not stop.is_set():
                for _ in range(rate // 100):
                    recorder.record(operation(n))
                    n += 1
                delay = t0 + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        time.sleep(3)
        cluster.stop_immediate()
        time.sleep(outage_s)
        recorder.flush(10)
        backlog = spool.spool_depth()
        cluster.start()
        back = time.monotonic()
        drained = float("inf")
        while time.monotonic() - back < 120:
            if spool.spool_depth() < rate:  # less than one second of arrivals left
                drained = time.monotonic() - back
                break
            time.sleep(0.05)
        left = spool.spool_depth()
        phases = shipper.get_stats()["seconds"]
        stop.set()
        producer.join(5)
        shipper.stop()
        recorder.stop()
        pg.close()
        return {"backlog": backlog, "drain_s": drained, "left": left, "phases": phases}
    finally:
        cluster.destroy()


def _drain(dr: dict) -> str:
    if dr["drain_s"] == float("inf"):
        return f"not drained in 120 s ({dr['left']:,} left)"
    return f"{dr['drain_s']:.1f} s"


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 20_000 if args.quick else 100_000
    n_base = 2_000 if args.quick else 10_000
    outage = 10.0 if args.quick else 60.0
    load_before = _load()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ops = ship_rate(tmp, n, mixed=False)
        mixed = ship_rate(tmp, n, mixed=True)
        base_commit = per_row_rate(n_base, commit_each=True)
        base_tx = per_row_rate(n_base, commit_each=False)
        dr = drain(tmp, outage)
    load_after = _load()
    body = f"""## PostgreSQL shipping (issue 4)

| measure | value | target | baseline (same run) | ratio |
|---|---|---|---|---|
| ship rate, {n:,} operation events (batches of 5,000 → 20,000 in a backlog; spool read/delete overlapped with the commit) | {ops:,.0f} events/s | ≥ 20,000/s | per-row `INSERT`, commit each (the seed's way): {base_commit:,.0f}/s | {ops / base_commit:,.1f}× |
| same | | | per-row `INSERT` loop, one transaction: {base_tx:,.0f}/s | {ops / base_tx:,.1f}× |
| ship rate, mixed events (prompt merges, errors, operations) | {mixed:,.0f} events/s | ≥ 20,000/s | | |
| drain after a {outage:.0f} s outage at 2,000 events/s (backlog {dr['backlog']:,.0f} events) | {_drain(dr)} | ≤ 10 s | | |

Drain is timed from `pg_ctl start` returning to the spool holding under one second of arrivals, while events
keep arriving; it includes the shipper's reconnect backoff (capped at 1 s, jittered).
Shipper time by phase during the drain run (s; `spool_read`/`spool_delete` count only the time the shipper waited
for the spool I/O thread, which otherwise runs while PostgreSQL commits): {dr['phases']}.
Load average (1 min) before/after the run: {load_before} / {load_after} on {os.cpu_count()} cores; every figure,
the baselines included, is from this same run.
Run: `python benchmarks/pg_ship.py`."""
    print(body)
    if not args.quick:
        write_section("pg", body)


if __name__ == "__main__":
    main()
