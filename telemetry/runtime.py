"""The running extension: settings, store, recorder and the components the other issues plug in.

No ComfyUI imports: the package root builds a ``Runtime`` with ComfyUI's user directory and version, and
``server_routes`` reads from it. Components register a health check (``add_check``) and a stopper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .config import Settings
from .context import set_recorder
from .events import ErrorEvent, OperationEvent, PromptEvent, new_id
from .fingerprint import fingerprint
from .recorder import WRITER_CHUNK, Recorder
from .store import SQLiteStore

__all__ = ["Runtime", "get_runtime", "set_runtime"]

log = logging.getLogger("tower_sentinel.runtime")

_runtime: Runtime | None = None


def get_runtime() -> Runtime | None:
    return _runtime


def set_runtime(rt: Runtime | None) -> None:
    global _runtime
    _runtime = rt


class Runtime:
    def __init__(self, settings: Settings, *, comfyui_version: str | None, extension_version: str) -> None:
        self.settings = settings
        self.comfyui_version = comfyui_version
        self.extension_version = extension_version
        self.started_at = datetime.now(timezone.utc)
        self.store = SQLiteStore(settings.sqlite_path, spool=settings.postgres_configured)
        self.reader: Any = self.store  # PostgreSQL replaces it when configured
        self.recorder = Recorder(self.store, max_queue=settings.queue_max_events, linger_s=settings.commit_interval_s,
                                 polite=True, max_delay_s=settings.commit_max_delay_s, chunk=WRITER_CHUNK)
        self.capture: Any = None
        self.components: dict[str, Any] = {}
        self._checks: dict[str, Callable[[], dict[str, Any]]] = {}
        self._stoppers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # --- composition ------------------------------------------------------------------------------------------
    def add_check(self, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        """``fn()`` returns ``{"status": "ok"|"degraded"|"down", ...details}``; it must be cheap and non-blocking."""
        self._checks[name] = fn

    def add_stopper(self, fn: Callable[[], None]) -> None:
        self._stoppers.append(fn)

    def start(self) -> None:
        self.recorder.start()
        set_recorder(self.recorder)
        self.reconcile_crashed()

    def stop(self) -> None:
        for fn in reversed(self._stoppers):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001
                log.warning("tower.runtime.stop_failed", extra={"error": repr(exc)})
        self.recorder.stop()
        set_recorder(None)
        self.store.stop_checkpointer()

    # --- crash recovery ---------------------------------------------------------------------------------------
    def reconcile_crashed(self) -> int:
        """Prompts of this instance left ``queued``/``running`` by a previous process become ``crashed``."""
        rows = self.store.unfinished_prompts(self.settings.instance_id)
        now = datetime.now(timezone.utc)
        for row in rows:
            was_running = row["status"] == "running"
            message = ("ComfyUI stopped while the prompt was running (prompt lost)" if was_running
                       else "ComfyUI stopped before the queued prompt ran (prompt lost)")
            error_id = new_id()
            fp, template = fingerprint("crashed", "ProcessExit", None, message)
            self.recorder.record(ErrorEvent(
                error_id, message=message, category="crashed", severity="critical", timestamp=now,
                context={"stage": "restart", "previous_status": row["status"]}, correlation_id=row.get("correlation_id"),
                prompt_id=row["prompt_id"], instance_id=self.settings.instance_id, exception_type="ProcessExit",
                fingerprint=fp, template=template, comfyui_version=self.comfyui_version,
                extension_version=self.extension_version))
            self.recorder.record(PromptEvent(
                new_id(), prompt_id=row["prompt_id"], status="crashed", at=now, finished_at=now, error_id=error_id,
                category="crashed", instance_id=self.settings.instance_id))
            start = _parse_ts(row.get("started_at") or row.get("queued_at")) or now
            self.recorder.record(OperationEvent(
                new_id(), operation_type="comfyui_execution", start_time=start, end_time=now, success=False,
                correlation_id=row.get("correlation_id"), prompt_id=row["prompt_id"],
                instance_id=self.settings.instance_id, status="crashed", category="crashed",
                comfyui_version=self.comfyui_version, error_details={"error_id": error_id, "message": message}))
        if rows:
            log.warning("tower.runtime.crashed_prompts", extra={"count": len(rows)})
        return len(rows)

    # --- health -----------------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        for name, fn in list(self._checks.items()):
            try:
                checks[name] = fn()
            except Exception as exc:  # noqa: BLE001
                checks[name] = {"status": "degraded", "error": f"{type(exc).__name__}: {exc}"}
        statuses = [c.get("status", "ok") for c in checks.values()]
        overall = "down" if "down" in statuses else "degraded" if "degraded" in statuses else "ok"
        return {"status": overall, "checks": checks}


def _parse_ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
