"""Plugin: PostgreSQL as the shared store (shipper, reads, health) and retention, wired into the runtime.

With PostgreSQL configured, every event still lands first in the local SQLite (tables and spool); the shipper
copies the spool to PostgreSQL, and routes read from PostgreSQL. While PostgreSQL is unreachable, reads fall back
to the local store (this instance's own data) instead of failing, and health says ``degraded`` with the reason.
Retention runs in every configuration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from .pg_store import PostgresStore
from .retention import Retention
from .shipper import Shipper

__all__ = ["plug", "FallbackReader"]

log = logging.getLogger("tower_sentinel.pg")

_READ_ERRORS = (psycopg.Error, PoolTimeout, OSError)


class FallbackReader:
    """PostgreSQL's reads, answered by the local store while PostgreSQL is down (or has not got the row yet)."""

    def __init__(self, primary: PostgresStore, local: Any, healthy: Callable[[], bool]) -> None:
        self.primary = primary
        self.local = local
        self._healthy = healthy
        self.dialect = primary.dialect
        self.fallbacks = 0

    def _read(self, method: str, *args: Any, local_if_empty: bool = False) -> Any:
        if self._healthy():
            try:
                result = getattr(self.primary, method)(*args)
                if result is not None or not local_if_empty:
                    return result
            except _READ_ERRORS as exc:
                log.warning("tower.pg.read_fallback", extra={"method": method, "error": type(exc).__name__})
        self.fallbacks += 1
        return getattr(self.local, method)(*args)

    def query(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._read("query", name, params)

    def get_generation(self, prompt_id: str) -> dict[str, Any] | None:
        # a prompt this instance just recorded may not be shipped yet: the local store has it
        return self._read("get_generation", prompt_id, local_if_empty=True)

    def get_error(self, error_id: str) -> dict[str, Any] | None:
        return self._read("get_error", error_id, local_if_empty=True)

    def unfinished_prompts(self, instance_id: str) -> list[dict[str, Any]]:
        return self._read("unfinished_prompts", instance_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.primary, name)


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        log.error("tower.config_error: %s is not a number; using %s", name, default)
        return default


def plug(rt: Any, server: Any) -> None:
    s = rt.settings
    rt.store.spool_max_events = s.spool_max_events
    stores: list[Any] = [rt.store]
    if s.postgres_configured:
        pg = PostgresStore(s.postgres_dsn(),
                           connect_timeout=_env_float("TOWER_DB_CONNECT_TIMEOUT_S", 5.0),
                           statement_timeout=_env_float("TOWER_DB_STATEMENT_TIMEOUT_S", 30.0))
        shipper = Shipper(rt.store, pg, batch_size=int(_env_float("TOWER_SHIP_BATCH", 5_000)))
        rt.components["postgres"] = pg
        rt.components["shipper"] = shipper
        rt.reader = FallbackReader(pg, rt.store, shipper.healthy)
        rt.recorder.add_listener(lambda _events: shipper.wake())
        rt.add_check("postgres", shipper.health)
        rt.add_check("spool", lambda: _spool_check(rt.store, shipper))
        rt.add_stopper(pg.close)
        rt.add_stopper(shipper.stop)
        shipper.start()
        stores.append(pg)
    retention = Retention(stores, metrics_days=s.metrics_retention_days, errors_days=s.errors_retention_days,
                          batch=int(_env_float("TOWER_RETENTION_BATCH", 5_000)),
                          interval_s=_env_float("TOWER_RETENTION_INTERVAL_S", 3_600.0),
                          first_run_s=_env_float("TOWER_RETENTION_FIRST_RUN_S", 60.0))
    rt.components["retention"] = retention
    rt.add_stopper(retention.stop)
    retention.start()


def _spool_check(store: Any, shipper: Shipper) -> dict[str, Any]:
    depth = store.spool_depth()
    cap = store.spool_max_events
    dropped = store.spool_dropped
    full = cap is not None and depth >= 0.8 * cap
    return {"status": "degraded" if dropped or full else "ok", "depth": depth, "max_events": cap,
            "dropped": dropped, "shipped": shipper.shipped}
