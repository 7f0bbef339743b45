"""The dashboard's SQL panels (the seed's monitoring queries) run unchanged on our PostgreSQL schema."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from tower_sentinel.telemetry.pg_store import PostgresStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.pg
def test_sql_panels_run_on_the_schema(pg_dsn):
    """Every rawSql target of grafana/tower-sentinel.json executes against the migrated database."""
    store = PostgresStore(pg_dsn)
    try:
        store.migrate()
    finally:
        store.close()
    dash = json.loads((ROOT / "grafana" / "tower-sentinel.json").read_text())
    sqls = [t["rawSql"] for p in dash["panels"] for t in p["targets"] if "rawSql" in t]
    assert len(sqls) == 4
    with psycopg.connect(pg_dsn) as conn:
        for sql in sqls:
            conn.execute(sql).fetchall()
