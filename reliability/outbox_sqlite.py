"""The outbox in SQLite (stdlib ``sqlite3``): table ``tower_outbox``, SQL from ``sql/sqlite/outbox_*.sql``.

One connection guarded by a lock, so the outbox thread and route handlers (through an executor) can share a store;
WAL so it can live in the same database file as the telemetry store without blocking its writer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .outbox import DEAD, DELIVERED, PENDING, OutboxItem

__all__ = ["SQLiteOutboxStore"]

_SQL_DIR = Path(__file__).resolve().parents[1] / "sql" / "sqlite"
_SQL = {p.stem.removeprefix("outbox_"): p.read_text(encoding="utf-8") for p in sorted(_SQL_DIR.glob("outbox_*.sql"))}
_FIELDS = OutboxItem.__dataclass_fields__


def _row_to_item(row: sqlite3.Row) -> OutboxItem:
    data = {k: row[k] for k in row.keys() if k in _FIELDS}
    data["payload"] = json.loads(data["payload"])
    return OutboxItem(**data)


class SQLiteOutboxStore:
    """A durable :class:`~.outbox.OutboxStore`."""

    def __init__(self, path: str | Path, *, timeout_s: float = 5.0) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=timeout_s, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SQL["create"])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _exec(self, name: str, params: dict[str, Any]) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(_SQL[name], params)

    def _one(self, name: str, params: dict[str, Any]) -> OutboxItem | None:
        with self._lock:
            row = self._conn.execute(_SQL[name], params).fetchone()
        return _row_to_item(row) if row is not None else None

    def add(self, item: OutboxItem) -> OutboxItem:
        row = item.to_dict()
        row["payload"] = json.dumps(item.payload, default=str, separators=(",", ":"))
        self._exec("insert", row)
        stored = self._one("get_by_key", {"idempotency_key": item.idempotency_key})
        assert stored is not None
        return stored

    def due(self, now: float, limit: int) -> list[OutboxItem]:
        with self._lock:
            rows = self._conn.execute(_SQL["due"], {"now": now, "limit": limit}).fetchall()
        return [_row_to_item(r) for r in rows]

    def mark_delivered(self, item_id: str, *, now: float | None = None) -> None:
        self._exec("mark_delivered", {"id": item_id, "now": time.time() if now is None else now})

    def mark_failed(self, item_id: str, error: str, next_attempt_at: float) -> None:
        self._exec("mark_failed", {"id": item_id, "error": error, "next_attempt_at": next_attempt_at})

    def mark_dead(self, item_id: str, error: str | None = None, *, now: float | None = None) -> None:
        self._exec("mark_dead", {"id": item_id, "error": error, "now": time.time() if now is None else now})

    def get(self, item_id: str) -> OutboxItem | None:
        return self._one("get", {"id": item_id})

    def requeue(self, item_id: str, *, now: float | None = None) -> bool:
        cur = self._exec("requeue", {"id": item_id, "now": time.time() if now is None else now})
        return cur.rowcount > 0

    def expedite(self, kind: str, *, now: float) -> int:
        return self._exec("expedite", {"kind": kind, "now": now}).rowcount

    def list(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        with self._lock:
            rows = self._conn.execute(_SQL["list"], {"status": status, "limit": limit}).fetchall()
        return [_row_to_item(r) for r in rows]

    def purge_delivered(self, before: float) -> int:
        return self._exec("purge_delivered", {"before": before}).rowcount

    def stats(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        with self._lock:
            rows = self._conn.execute(_SQL["stats"]).fetchall()
        by = {r["status"]: r for r in rows}
        pending = by.get(PENDING)
        return {
            "pending": pending["n"] if pending else 0,
            "delivered": by[DELIVERED]["n"] if DELIVERED in by else 0,
            "dead": by[DEAD]["n"] if DEAD in by else 0,
            "oldest_pending_age_s": now - pending["oldest_created_at"] if pending else None,
        }
