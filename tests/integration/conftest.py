"""Integration fixtures: a fresh database per test on the real PostgreSQL, throw-away clusters for fault tests.

The shared server is ``TOWER_TEST_PG_DSN`` (default ``host=127.0.0.1 port=5432 dbname=test``, trust auth). A
missing PostgreSQL fails these tests: it is never a skip.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pgcluster import Cluster  # noqa: E402

BASE_DSN = os.environ.get("TOWER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=test")


def _dsn_with_db(dsn: str, db: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    params["dbname"] = db
    return psycopg.conninfo.make_conninfo(**params)


@pytest.fixture(scope="session")
def pg_admin():
    try:
        conn = psycopg.connect(BASE_DSN, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL for integration tests is not reachable at {BASE_DSN!r}: {exc}")
    yield conn
    conn.close()


@pytest.fixture
def pg_dsn(pg_admin):
    """A fresh, empty database on the shared server; dropped afterwards."""
    name = "tower_it_" + uuid.uuid4().hex[:12]
    pg_admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _dsn_with_db(BASE_DSN, name)
    finally:
        pg_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cluster():
    c = Cluster()
    try:
        yield c
    finally:
        c.destroy()
