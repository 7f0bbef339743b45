"""Retention: the seed's "keep 30 days of metrics, 90 days of error logs", as a background job in bounded batches.

Each batch is one short ``DELETE ... WHERE id IN (SELECT id ... LIMIT n)`` transaction, so writers (the recorder on
SQLite, the shippers on PostgreSQL) never wait behind a long delete. Every instance may run it against the shared
database: deletes are idempotent and batches from two instances simply interleave. A retention of 0 days keeps
everything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from .sqlfiles import sql

__all__ = ["Retention"]

log = logging.getLogger("tower_sentinel.retention")

_JOBS = (("anime_operation_metrics", "retention_metrics", "metrics_days"),
         ("anime_error_logs", "retention_errors", "errors_days"))


def _delete_batch(store: Any, name: str, params: dict[str, Any]) -> int:
    if getattr(store, "dialect", None) == "postgres":
        return int(store.execute(name, params))
    conn = store.connect()  # SQLite: its own connection, released after the batch
    try:
        return int(conn.execute(sql("sqlite", name), params).rowcount)
    finally:
        conn.close()


class Retention:
    """Deletes rows older than the retention from every store in ``stores`` (SQLiteStore or PostgresStore)."""

    def __init__(
        self,
        stores: Sequence[Any],
        *,
        metrics_days: int = 30,
        errors_days: int = 90,
        batch: int = 5_000,
        max_batches: int = 1_000,
        interval_s: float = 3_600.0,
        pause_s: float = 0.05,
        first_run_s: float = 60.0,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._stores = list(stores)
        self.metrics_days = metrics_days
        self.errors_days = errors_days
        self.batch = batch
        self.max_batches = max_batches
        self.interval_s = interval_s
        self.pause_s = pause_s
        self.first_run_s = first_run_s
        self._now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.deleted: dict[str, int] = {}
        self.last_error: str | None = None

    def run_once(self) -> dict[str, int]:
        """One pass over every store and table; returns rows deleted per ``"<dialect>.<table>"``."""
        out: dict[str, int] = {}
        days = {"metrics_days": self.metrics_days, "errors_days": self.errors_days}
        for store in self._stores:
            for table, name, key in _JOBS:
                if days[key] <= 0:
                    continue
                cutoff = (self._now() - timedelta(days=days[key])).astimezone(timezone.utc).replace(tzinfo=None)
                params = {"cutoff": cutoff.isoformat(sep=" ", timespec="microseconds"), "batch": self.batch}
                total = 0
                for _ in range(self.max_batches):
                    if self._stop.is_set():
                        break
                    n = _delete_batch(store, name, params)
                    total += n
                    if n < self.batch:
                        break
                    self._stop.wait(self.pause_s)
                label = f"{getattr(store, 'dialect', '?')}.{table}"
                out[label] = total
                self.deleted[label] = self.deleted.get(label, 0) + total
        self.runs += 1
        if any(out.values()):
            log.info("tower.retention.deleted", extra={"deleted": out})
        return out

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tower-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        wait = self.first_run_s
        while not self._stop.wait(wait):
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - a failed pass (database down) is retried next interval
                self.last_error = f"{type(exc).__name__}"
                log.warning("tower.retention.failed", extra={"error": self.last_error})
            wait = self.interval_s

    def get_stats(self) -> dict[str, Any]:
        return {"metrics_days": self.metrics_days, "errors_days": self.errors_days, "runs": self.runs,
                "deleted": dict(self.deleted), "last_error": self.last_error,
                "running": bool(self._thread and self._thread.is_alive())}
