"""Throw-away databases on the shared PostgreSQL, and both backends loaded with the same events (parity tests)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

BASE_DSN = os.environ.get("TOWER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=test")


def _dsn_with_db(dsn: str, db: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params["dbname"] = db
    return psycopg.conninfo.make_conninfo(**params)


@contextmanager
def fresh_database(pg_admin: Any) -> Iterator[str]:
    """The DSN of a fresh, empty database on the shared server; dropped on exit."""
    name = "tower_it_" + uuid.uuid4().hex[:12]
    pg_admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _dsn_with_db(BASE_DSN, name)
    finally:
        pg_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def both_backends(pg_admin: Any, sqlite_path: Path, events: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
    """(SQLiteStore, PostgresStore) holding the same events: SQLite through the writer's ``write_batch``,
    PostgreSQL through the shipper's path (spool records applied in one batch), for parity tests."""
    from tower_sentinel.telemetry.pg_store import PostgresStore
    from tower_sentinel.telemetry.store import SQLiteStore

    lite = SQLiteStore(sqlite_path)
    lite.write_batch(events)
    with fresh_database(pg_admin) as dsn:
        pg = PostgresStore(dsn)
        try:
            pg.migrate()
            pg.apply_records([(i, e.event_id, e.kind, json.dumps(e.to_record(), default=str))
                              for i, e in enumerate(events)])
            yield lite, pg
        finally:
            pg.close()
