"""The embedded SQLite store: migrations, batched event writes (with the PostgreSQL spool), and reads.

One writer connection belongs to the recorder's writer thread; readers open their own connection per thread
(WAL lets them read while the writer writes). Rows come back as plain dicts with JSON columns decoded.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from . import gil
from .events import Event
from .sqlfiles import migrations, positional, sql

__all__ = ["SQLiteStore", "NamedReads", "JSON_COLUMNS"]

log = logging.getLogger("tower_sentinel.store")

DIALECT = "sqlite"
JSON_COLUMNS = frozenset({"error_details", "context", "inputs", "outputs", "metrics", "flags", "issues"})
BOOL_COLUMNS = frozenset({"success", "cached", "passed", "resolved"})
_INSERT_BY_KIND = {
    "operation": "insert_operation",
    "error": "insert_error",
    "prompt": "upsert_prompt",
    "quality": "insert_quality",
    "feedback": "insert_feedback",
}


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k in JSON_COLUMNS and isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        elif k in BOOL_COLUMNS and v is not None and not isinstance(v, bool):
            v = bool(v)
        out[k] = v
    return out


class NamedReads:
    """The record reads both stores share, written once over their ``query(name, params)``."""

    def query(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def get_generation(self, prompt_id: str) -> dict[str, Any] | None:
        rows = self.query("get_prompt", {"prompt_id": prompt_id})
        if not rows:
            return None
        rec = rows[0]
        rec["nodes"] = self.query("get_prompt_nodes", {"prompt_id": prompt_id})
        rec["error"] = None
        if rec.get("error_id"):
            errs = self.query("get_error", {"error_id": rec["error_id"]})
            rec["error"] = errs[0] if errs else None
        return rec

    def get_error(self, error_id: str) -> dict[str, Any] | None:
        rows = self.query("get_error", {"error_id": error_id})
        return rows[0] if rows else None

    def unfinished_prompts(self, instance_id: str) -> list[dict[str, Any]]:
        return self.query("unfinished_prompts", {"instance_id": instance_id})


# WAL checkpoints: SQLite's default runs one inside the commit that crosses 1000 pages, on the writer thread,
# which then copies and fsyncs instead of writing (it halved the writer's throughput). A checkpointer thread runs
# them instead, PASSIVE (never blocking the writer or readers), once CHECKPOINT_EVERY_ROWS rows were committed, or
# when the recorder's writer has written what it had and goes idle (``on_idle``: the checkpoint then falls in the
# same quiet moment of ComfyUI instead of a random one), or at the latest CHECKPOINT_IDLE_S after the last unchecked
# commit; the writer keeps SQLite's own as a backstop at a larger size.
CHECKPOINT_EVERY_ROWS = 20_000
CHECKPOINT_IDLE_S = 30.0
WRITER_AUTOCHECKPOINT_PAGES = 40_000  # ~160 MB at 4 KiB pages: only if the checkpointer fell behind or died
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # the WAL file is truncated back to this after it was reset


class SQLiteStore(NamedReads):
    """SQLite in WAL mode. ``write_batch`` runs on one thread (the recorder's writer); reads on any thread."""

    dialect = DIALECT

    def __init__(self, path: str | Path, *, spool: bool = False, busy_timeout_ms: int = 5000,
                 spool_max_events: int | None = None, background_checkpoints: bool = True) -> None:
        self.path = str(path)
        self.spool_enabled = spool
        self.spool_max_events = spool_max_events  # None: unbounded; at the bound new events are counted, not spooled
        self.spool_dropped = 0
        self._pause: Callable[[], None] | None = None  # the recorder's writer sets it per batch (telemetry/gil.py)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._bg_checkpoints = background_checkpoints and self.path != ":memory:"
        self._ckpt_thread: threading.Thread | None = None
        self._ckpt_wake = threading.Event()
        self._ckpt_stop = threading.Event()
        self._unchecked_rows = 0
        self.checkpoints = 0
        self.checkpoint_errors = 0
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.migrate()

    # --- connections ------------------------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        conn.row_factory = sqlite3.Row
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        self.stop_checkpointer()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- schema -----------------------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        conn = self.connect()
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS tower_schema_migrations ("
                         "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")
            done = {r[0] for r in conn.execute("SELECT version FROM tower_schema_migrations")}
            applied = []
            for version, name, text in migrations(DIALECT):
                if version in done:
                    continue
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # re-check under the write lock: another process may have migrated meanwhile
                    if conn.execute("SELECT 1 FROM tower_schema_migrations WHERE version = ?", (version,)).fetchone():
                        conn.execute("COMMIT")
                        continue
                    for stmt in _split(text):
                        conn.execute(stmt)
                    conn.execute("INSERT INTO tower_schema_migrations (version, name) VALUES (?, ?)", (version, name))
                    conn.execute("COMMIT")
                    applied.append(version)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            return applied
        finally:
            conn.close()

    # --- checkpoints ------------------------------------------------------------------------------------------
    def _writer_conn(self) -> sqlite3.Connection:
        conn = self._conn()
        if self._bg_checkpoints and not getattr(self._local, "writer", False):
            conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            self._local.writer = True
            self._start_checkpointer()
        return conn

    def _start_checkpointer(self) -> None:
        if self._ckpt_thread is not None and self._ckpt_thread.is_alive():
            return
        self._ckpt_stop.clear()
        self._ckpt_thread = threading.Thread(target=self._checkpoint_loop, name="tower-sqlite-checkpoint", daemon=True)
        self._ckpt_thread.start()

    def stop_checkpointer(self, timeout: float = 5.0) -> None:
        t = self._ckpt_thread
        if t is None:
            return
        self._ckpt_stop.set()
        self._ckpt_wake.set()
        t.join(timeout)
        self._ckpt_thread = None

    def _checkpoint_loop(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._ckpt_stop.is_set():
                self._ckpt_wake.wait(CHECKPOINT_IDLE_S)
                self._ckpt_wake.clear()
                if self._unchecked_rows <= 0:
                    continue
                self._unchecked_rows = 0
                try:
                    if conn is None:
                        conn = self.connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                except Exception as exc:  # noqa: BLE001 - the writer's backstop checkpoint still bounds the WAL
                    if not self.checkpoint_errors:
                        log.warning("tower.store.checkpoint_failed", extra={"error": repr(exc)})
                    self.checkpoint_errors += 1
            if conn is not None and self._unchecked_rows > 0:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except Exception as exc:  # noqa: BLE001
            log.warning("tower.store.checkpoint_failed", extra={"error": repr(exc)})
        finally:
            if conn is not None:
                conn.close()

    def on_idle(self) -> None:
        """(recorder's writer thread) It wrote what it had and goes to sleep: a good moment to checkpoint."""
        if self._bg_checkpoints and self._unchecked_rows > 0:
            self._ckpt_wake.set()

    def _committed(self, rows: int) -> None:
        if not self._bg_checkpoints:
            return
        self._unchecked_rows += rows
        if self._unchecked_rows >= CHECKPOINT_EVERY_ROWS:
            self._ckpt_wake.set()

    # --- writes -----------------------------------------------------------------------------------------------
    def set_pause(self, pause: Callable[[], None] | None) -> None:
        """The polite writer's pause (``telemetry/gil.py``): ``write_batch`` calls it every few rows so ComfyUI's
        threads get the GIL; None writes flat out."""
        self._pause = pause

    def write_batch(self, events: Sequence[Event]) -> None:
        """Write events in one transaction (and spool them for PostgreSQL when enabled)."""
        if not events:
            return
        by_kind: dict[str, list[Any]] = {}
        spool_rows = []
        events = drop_superseded_running(events)
        direct_ops = not self.spool_enabled and _OPS_DIRECT
        pause = self._pause
        for i, ev in enumerate(events):
            if pause is not None and i % gil.EVERY == gil.EVERY - 1:
                pause()
            kind = ev.kind
            if direct_ops and kind == "operation":  # the bulk of a batch: straight to the parameter tuple
                by_kind.setdefault("operation_params", []).append(ev.to_params())
                continue
            row = ev.to_row()
            by_kind.setdefault(kind, []).append(row)  # sqlite3 stores bools as 0/1 itself
            if self.spool_enabled:
                spool_rows.append({"event_id": ev.event_id, "kind": kind,
                                   "payload": json.dumps({"kind": kind, "row": row}, default=str)})
        conn = self._writer_conn()
        dropped = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            # prompts last: their upsert reads what the same batch's error rows referenced
            if "prompt" in by_kind:
                by_kind["prompt"] = coalesce_prompt_rows(by_kind["prompt"], pause=pause)
            if "operation_params" in by_kind:
                conn.executemany(positional(DIALECT, "insert_operation")[0], by_kind["operation_params"])
            for kind in ("operation", "error", "quality", "feedback", "prompt"):
                rows = by_kind.get(kind)
                if rows:
                    text, params = positional(DIALECT, _INSERT_BY_KIND[kind])
                    conn.executemany(text, map(params, rows))
            if spool_rows and self.spool_max_events is not None:
                room = max(0, self.spool_max_events - int(conn.execute(sql(DIALECT, "spool_span")).fetchone()[0]))
                if room < len(spool_rows):
                    dropped, spool_rows = len(spool_rows) - room, spool_rows[:room]
            if spool_rows:
                text, params = positional(DIALECT, "spool_insert")
                conn.executemany(text, map(params, spool_rows))
            conn.execute("COMMIT")
            self._committed(len(events))
            if dropped:
                if not self.spool_dropped:
                    log.error("tower.store.spool_full", extra={"max_events": self.spool_max_events})
                self.spool_dropped += dropped
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- spool (PostgreSQL shipping) --------------------------------------------------------------------------
    def spool_batch(self, limit: int, after: int = 0) -> list[tuple[int, str, str, str]]:
        """Up to ``limit`` spooled records with ``seq > after``, in ``seq`` order, as plain tuples."""
        cur = self._conn().cursor()
        cur.row_factory = None  # tuples straight from sqlite3: no Row objects to convert
        return cur.execute(sql(DIALECT, "spool_batch"), {"limit": int(limit), "after": int(after)}).fetchall()

    def spool_delete_upto(self, seq: int) -> None:
        conn = self._conn()
        conn.execute(sql(DIALECT, "spool_delete_upto"), {"seq": int(seq)})

    def spool_depth(self) -> int:
        return int(self._conn().execute(sql(DIALECT, "spool_span")).fetchone()[0])

    # --- reads ------------------------------------------------------------------------------------------------
    def query(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = self._conn().execute(sql(DIALECT, name), params or {})
        return [decode_row(dict(r)) for r in cur.fetchall()]

    def query_text(self, text: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self._conn().execute(text, params)
        return [decode_row(dict(r)) for r in cur.fetchall()]

    def meta_get(self, key: str) -> str | None:
        rows = self._conn().execute(sql(DIALECT, "meta_get"), {"key": key}).fetchall()
        return rows[0][0] if rows else None

    def meta_set(self, key: str, value: str) -> None:
        self._conn().execute(sql(DIALECT, "meta_set"), {"key": key, "value": value})

    def ping(self) -> bool:
        self._conn().execute("SELECT 1").fetchone()
        return True

    def get_stats(self) -> dict[str, Any]:
        return {"backend": "sqlite", "path": self.path, "spool_enabled": self.spool_enabled,
                "checkpoints": self.checkpoints, "checkpoint_errors": self.checkpoint_errors}


def _ops_direct() -> bool:
    """Whether OperationEvent.to_params() matches insert_operation's placeholders (else rows go through dicts)."""
    from .events import OperationEvent
    from .sqlfiles import placeholder_names

    return tuple(placeholder_names(DIALECT, "insert_operation")) == OperationEvent.COLUMNS


_OPS_DIRECT = _ops_direct()


def drop_superseded_running(events: Sequence[Event]) -> Sequence[Event]:
    """Without the ``running`` updates of prompts whose outcome is in the same batch and carries the start time
    (the outcome repeats what ``running`` said: started_at, queue wait, correlation and client ids), so a prompt
    that ran within one group commit costs the writer two prompt rows to merge instead of three. The merged row
    is the same (tests/unit/test_recorder_store.py)."""
    finished = None
    for ev in events:
        if ev.kind == "prompt" and ev.status != "running" and ev.status != "queued" and ev.started_at is not None:
            if finished is None:
                finished = set()
            finished.add(ev.prompt_id)
    if not finished:
        return events
    return [ev for ev in events
            if not (ev.kind == "prompt" and ev.status == "running" and ev.prompt_id in finished)]


# tower_prompts merge rules (as in sql/*/upsert_prompt.sql): KEEP fields keep the first non-null value, the
# others take the latest non-null one; status moves only forward by rank; updated_at is the latest.
_KEEP_FIRST = frozenset({"correlation_id", "queued_at", "started_at", "queue_position"})


def coalesce_prompt_rows(rows: list[dict[str, Any]], pause: Any = None) -> list[dict[str, Any]]:
    """Fold a batch's state changes of one prompt into one row with the upsert's own rules, so a prompt that was
    queued, started and finished within one group commit costs one upsert instead of three. ``pause`` (the polite
    writer's GIL pause) runs every few rows."""
    merged: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows):
        if pause is not None and i % gil.EVERY == gil.EVERY - 1:
            pause()
        cur = merged.get(row["prompt_id"])
        if cur is None:
            merged[row["prompt_id"]] = dict(row)
            continue
        for key, val in row.items():
            if key in ("prompt_id", "event_id"):
                continue
            if key == "status":
                if row["status_rank"] >= cur["status_rank"]:
                    cur["status"] = val
            elif key == "status_rank":
                continue
            elif key == "updated_at":
                cur[key] = max(cur[key], val) if cur[key] and val else (cur[key] or val)
            elif key in _KEEP_FIRST:
                if cur.get(key) is None:
                    cur[key] = val
            elif val is not None:
                cur[key] = val
        cur["status_rank"] = max(cur["status_rank"], row["status_rank"])
    return list(merged.values())


def _split(text: str) -> list[str]:
    """Split a migration on ';' at line ends (our migrations hold no semicolons inside statements)."""
    stmts, buf = [], []
    for line in text.splitlines():
        if line.strip().startswith("--"):
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            s = "\n".join(buf).strip().rstrip(";").strip()
            if s:
                stmts.append(s)
            buf = []
    rest = "\n".join(buf).strip()
    if rest:
        stmts.append(rest)
    return stmts
