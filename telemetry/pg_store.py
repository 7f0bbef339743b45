"""The shared PostgreSQL store: migrations under an advisory lock, idempotent batch apply, and SQLiteStore's reads.

Reads answer in SQLiteStore's shapes (timestamps as the same ISO text, JSON decoded, booleans, floats for
numerics) so routes and analytics never care which backend answered. Named SQL under ``sql/postgres/`` uses the
same ``:name`` placeholders as the SQLite files; they are turned into psycopg's ``%(name)s`` once per file.

Every connection carries settings that stop a dead or paused server from hanging a thread: ``connect_timeout``,
a server-side ``statement_timeout``, TCP keepalives and ``tcp_user_timeout``, and ``application_name``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import cache
from typing import Any

import psycopg
from psycopg import conninfo as _conninfo
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .config import mask_dsn
from .sqlfiles import migrations, sql
from .store import NamedReads

__all__ = ["PostgresStore", "classify_error", "safe_message", "SpoolRecord"]

log = logging.getLogger("tower_sentinel.pg_store")

DIALECT = "postgres"
MIGRATION_LOCK_KEY = 0x746F7765725F5453  # "tower_TS": one advisory lock for every Tower Sentinel instance
SpoolRecord = tuple[int, str, str, str]  # (seq, event_id, kind, payload) as SQLiteStore.spool_batch returns
_SHIP_BY_KIND = {
    "operation": "ship_operation",
    "error": "ship_error",
    "quality": "ship_quality",
    "feedback": "ship_feedback",
}
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@cache
def _pg_sql(name: str) -> str:
    """A named statement with ``:name`` placeholders rewritten for psycopg (and literal ``%`` escaped)."""
    return _PLACEHOLDER.sub(r"%(\1)s", sql(DIALECT, name).replace("%", "%%"))


def _value(v: Any) -> Any:
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(timezone.utc).replace(tzinfo=None)
        return v.isoformat(sep=" ", timespec="microseconds")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in row.items()}


def classify_error(exc: BaseException) -> str:
    """A short, secret-free reason for a PostgreSQL failure: what health shows."""
    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    if state in ("28P01", "28000") or "password authentication failed" in text or "authentication failed" in text \
            or "no pg_hba.conf entry" in text or "password" in text and "supplied" in text:
        return "auth_failed"
    if state == "25006" or "read-only transaction" in text or "read only transaction" in text:
        return "read_only"
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return "database_missing"
    if state == "57014" or "timeout" in text or "timed out" in text:
        return "timeout"
    if isinstance(exc, psycopg.OperationalError | OSError) or state.startswith("08") or state.startswith("57P"):
        return "unreachable"
    return "error"


def safe_message(exc: BaseException, secret: str | None = None) -> str:
    """The exception's first line, with the password (if it ever appears) masked."""
    msg = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    if secret:
        msg = msg.replace(secret, "***")
    return msg[:300]


class PostgresStore(NamedReads):
    """PostgreSQL through psycopg 3: a small pool for reads, plain connections for the shipper."""

    dialect = DIALECT

    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
        tcp_user_timeout: float = 30.0,
        keepalives_idle: int = 10,
        application_name: str = "tower-sentinel",
        pool_min: int = 0,
        pool_max: int = 4,
        pool_timeout: float = 5.0,
    ) -> None:
        self._dsn = dsn
        params = _conninfo.conninfo_to_dict(dsn)
        self._password = params.get("password")
        options = " ".join(filter(None, [
            str(params.get("options") or ""),
            f"-c statement_timeout={int(statement_timeout * 1000)}",
            f"-c idle_in_transaction_session_timeout={int(max(statement_timeout * 2, 60) * 1000)}",
            "-c TimeZone=UTC",
        ]))
        self._kwargs: dict[str, Any] = {
            "connect_timeout": max(1, int(round(connect_timeout))),
            "application_name": application_name,
            "keepalives": 1,
            "keepalives_idle": keepalives_idle,
            "keepalives_interval": max(1, keepalives_idle // 2),
            "keepalives_count": 3,
            "tcp_user_timeout": int(tcp_user_timeout * 1000),
            "options": options,
        }
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self._conninfo = _conninfo.make_conninfo(dsn, **self._kwargs)
        self._pool_timeout = pool_timeout
        self._pool = ConnectionPool(self._conninfo, min_size=pool_min, max_size=pool_max, open=False,
                                    kwargs={"row_factory": dict_row, "autocommit": True},
                                    check=ConnectionPool.check_connection, name="tower-pg",
                                    reconnect_timeout=max(60.0, connect_timeout * 4))
        self._pool_opened = False
        self.migrated = False
        self.batches_applied = 0
        self.rows_inserted = 0
        self._counts_lock = threading.Lock()

    # --- connections ------------------------------------------------------------------------------------------
    @property
    def masked_dsn(self) -> str | None:
        return mask_dsn(self._dsn)

    @property
    def password(self) -> str | None:
        return self._password

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A new connection with the safety settings (the caller owns and closes it)."""
        return psycopg.connect(self._conninfo, autocommit=autocommit, row_factory=dict_row)

    def _pooled(self):  # noqa: ANN202 - a context manager yielding a connection
        if not self._pool_opened:
            self._pool.open(wait=False)
            self._pool_opened = True
        return self._pool.connection(timeout=self._pool_timeout)

    def close(self) -> None:
        if self._pool_opened:
            self._pool.close(timeout=2.0)
            self._pool_opened = False

    # --- schema -----------------------------------------------------------------------------------------------
    def migrate(self, conn: psycopg.Connection[Any] | None = None) -> list[int]:
        """Apply pending migrations once across all instances (session advisory lock)."""
        own = conn is None
        conn = conn or self.connect()
        prev_autocommit = conn.autocommit
        applied: list[int] = []
        try:
            conn.autocommit = True
            conn.execute(_pg_sql("migration_lock"), {"key": MIGRATION_LOCK_KEY})
            try:
                conn.execute(_pg_sql("migrations_table"))
                done = {r["version"] for r in conn.execute(_pg_sql("migrations_applied")).fetchall()}
                for version, name, text in migrations(DIALECT):
                    if version in done:
                        continue
                    with conn.transaction():
                        conn.execute(text)  # no parameters: sent as one multi-statement script
                        conn.execute(_pg_sql("migration_record"), {"version": version, "name": name})
                    applied.append(version)
                    log.info("tower.pg.migrated", extra={"version": version, "name": name})
            finally:
                conn.execute(_pg_sql("migration_unlock"), {"key": MIGRATION_LOCK_KEY})
            self.migrated = True
            return applied
        finally:
            if own:
                conn.close()
            else:
                conn.autocommit = prev_autocommit

    # --- writes -----------------------------------------------------------------------------------------------
    def apply_records(self, records: Sequence[SpoolRecord], conn: psycopg.Connection[Any] | None = None) -> int:
        """Apply spool records in one transaction, idempotently; returns how many rows were new.

        Each kind goes as one JSON array of the payloads' rows (cut out of the payload text, not re-encoded), which
        PostgreSQL parses once with ``json_to_recordset`` (no per-row round trips). A prompt's events go in order,
        one round per event, because a merged upsert may touch a row once per statement.
        """
        if not records:
            return 0
        by_kind: dict[str, list[str]] = {}
        prompt_rounds: list[list[str]] = []
        prompt_seen: dict[str, int] = {}
        for _seq, _eid, kind, payload in records:
            if kind == "prompt":
                pid = _prompt_id(payload)
                n = prompt_seen.get(pid, 0)
                prompt_seen[pid] = n + 1
                if n == len(prompt_rounds):
                    prompt_rounds.append([])
                prompt_rounds[n].append(_row_json(kind, payload))
            elif kind in _SHIP_BY_KIND:
                by_kind.setdefault(kind, []).append(_row_json(kind, payload))
            else:
                log.warning("tower.pg.unknown_kind", extra={"kind": kind})
        if conn is None:
            with self._pooled() as pooled:
                return self._apply(pooled, by_kind, prompt_rounds)
        return self._apply(conn, by_kind, prompt_rounds)

    def _apply(self, conn: psycopg.Connection[Any], by_kind: dict[str, list[str]],
               prompt_rounds: list[list[str]]) -> int:
        inserted = 0
        with conn.transaction():
            for kind in ("operation", "error", "quality", "feedback"):
                payloads = by_kind.get(kind)
                if payloads:
                    cur = conn.execute(_pg_sql(_SHIP_BY_KIND[kind]), {"batch": "[" + ",".join(payloads) + "]"})
                    inserted += max(cur.rowcount, 0)
            for rnd in prompt_rounds:
                conn.execute(_pg_sql("ship_prompt"), {"batch": "[" + ",".join(rnd) + "]"})
        with self._counts_lock:  # the shipper may apply shares of one batch on several threads
            self.batches_applied += 1
            self.rows_inserted += inserted
        return inserted

    # --- reads (SQLiteStore's API) ----------------------------------------------------------------------------
    def query(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._pooled() as conn:
            cur = conn.execute(_pg_sql(name), params or {})
            return [_row(r) for r in cur.fetchall()] if cur.description else []

    def query_text(self, text: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Ad-hoc SQL in psycopg's own placeholder style (tests, tools)."""
        with self._pooled() as conn:
            cur = conn.execute(text, params or None)
            return [_row(r) for r in cur.fetchall()] if cur.description else []

    def execute(self, name: str, params: dict[str, Any] | None = None) -> int:
        """Run a named write statement in its own transaction; returns the affected row count."""
        with self._pooled() as conn:
            return max(conn.execute(_pg_sql(name), params or {}).rowcount, 0)

    def meta_get(self, key: str) -> str | None:
        rows = self.query("meta_get", {"key": key})
        return rows[0]["value"] if rows else None

    def meta_set(self, key: str, value: str) -> None:
        self.query("meta_set", {"key": key, "value": value})

    def ping(self) -> bool:
        with self._pooled() as conn:
            conn.execute("SELECT 1").fetchone()
        return True

    def get_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = {"backend": "postgresql", "dsn": self.masked_dsn, "migrated": self.migrated,
                                 "batches_applied": self.batches_applied, "rows_inserted": self.rows_inserted}
        if self._pool_opened:
            p = self._pool.get_stats()
            stats["pool"] = {k: p.get(k, 0) for k in ("pool_size", "pool_available", "requests_waiting")}
        return stats


def _row_json(kind: str, payload: str) -> str:
    """The ``row`` object of a spool payload as JSON text.

    Payloads are written by ``SQLiteStore.write_batch`` as ``{"kind": "<kind>", "row": {...}}``; the row is the
    text between that prefix and the closing brace, taken without decoding. Anything else is decoded.
    """
    prefix = _PAYLOAD_PREFIX.get(kind) or f'{{"kind": {json.dumps(kind)}, "row": '
    if payload.startswith(prefix) and payload.endswith("}}") and payload[len(prefix)] == "{":
        return payload[len(prefix):-1]
    return json.dumps(json.loads(payload)["row"], default=str)


_PAYLOAD_PREFIX = {k: f'{{"kind": "{k}", "row": ' for k in ("operation", "error", "quality", "feedback", "prompt")}


def _prompt_id(payload: str) -> str:
    return str(json.loads(payload)["row"]["prompt_id"])
