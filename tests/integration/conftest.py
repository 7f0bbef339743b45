"""Integration fixtures: a fresh database per test on the real PostgreSQL, throw-away clusters for fault tests.

The shared server is ``TOWER_TEST_PG_DSN`` (default ``host=127.0.0.1 port=5432 dbname=test``, trust auth). A
missing PostgreSQL fails these tests: it is never a skip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _pgdb import BASE_DSN, fresh_database  # noqa: E402
from pgcluster import Cluster  # noqa: E402


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
    with fresh_database(pg_admin) as dsn:
        yield dsn


@pytest.fixture
def cluster():
    c = Cluster()
    try:
        yield c
    finally:
        c.destroy()
