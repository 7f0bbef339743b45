"""Plugin: Echo Brain and the KB inside the running ComfyUI — clients, breakers, the durable outbox, the daily report.

``plug(rt, server)`` builds one :class:`Dependencies` (``rt.components["reliability"]``) that the generate routes and
the ``TowerEchoBrainPrompt`` node use, and wires it into the runtime:

- each client reports every attempt as an ``echo_brain_request``/``kb_request`` operation (``telemetry.emit``);
- each breaker's state changes are logged, broadcast as websocket ``tower.breaker`` and shown by health
  (checks ``echo_brain``, ``kb``, ``outbox``); ``rt.components["breakers"]`` feeds Prometheus;
- the outbox (SQLite in the extension's data folder) is delivered by an :class:`OutboxThread`, woken after each
  enqueue and when a breaker closes; ``rt.components["on_feedback"]`` forwards ratings to Echo Brain through it;
- a daemon thread enqueues the failure-analysis report for the KB every ``kb_report_interval_s`` (idempotency key
  per UTC day, so restarts and short intervals do not post a day's report twice).

Nothing here raises into ComfyUI: a malformed URL only makes its dependency ``degraded`` in health.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..reliability.breaker import CircuitBreaker, State, StateChange
from ..reliability.clients import EchoBrainClient, KBClient
from ..reliability.enhance import budget_from_env
from ..reliability.outbox import (
    ECHO_FEEDBACK,
    KB_ARTICLE,
    OutboxConfig,
    OutboxThread,
    OutboxWorker,
    default_senders,
    failure_report_payload,
)
from ..reliability.outbox_sqlite import SQLiteOutboxStore
from ..telemetry import emit
from ..telemetry.analytics import Analytics
from ..telemetry.events import OperationEvent, new_id
from ._failure_report import render_failure_report

__all__ = ["plug", "Dependencies", "client_env", "loopback_base_url", "comfy_base_url"]

log = logging.getLogger("tower_sentinel.reliability")

_BAD = (State.OPEN, State.FORCED_OPEN, State.HALF_OPEN)


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        log.error("tower.config_error: %s is not a number; using %s", name, default)
        return default
    return value if value > 0 else default


def client_env(settings: Any, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the clients read, with values from the config file where the environment has none.

    The raw ``ECHO_BRAIN_URL``/``TOWER_KB_URL`` are kept as given, so a malformed one reaches the client and shows
    as its ``config_error`` (degraded) instead of silently meaning "not configured".
    """
    out = dict(os.environ if env is None else env)
    if not out.get("ECHO_BRAIN_URL") and settings.echo_brain_url:
        out["ECHO_BRAIN_URL"] = settings.echo_brain_url
    if not out.get("TOWER_KB_URL") and settings.kb_url:
        out["TOWER_KB_URL"] = settings.kb_url
    if not out.get("TOWER_KB_CA_FILE") and settings.kb_ca_file:
        out["TOWER_KB_CA_FILE"] = settings.kb_ca_file
    if settings.kb_insecure and "TOWER_KB_TLS_VERIFY" not in out:
        out["TOWER_KB_TLS_VERIFY"] = "0"
    return out


def loopback_base_url(listen: str | None, port: int | None, tls: bool = False) -> str:
    """Where this ComfyUI answers on this machine: 127.0.0.1 unless it listens on specific other addresses only."""
    host = "127.0.0.1"
    addresses = [a.strip() for a in (listen or "127.0.0.1").split(",") if a.strip()]
    if addresses and not any(a in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1") for a in addresses):
        host = f"[{addresses[0]}]" if ":" in addresses[0] else addresses[0]
    return f"{'https' if tls else 'http'}://{host}:{port or 8188}"


def comfy_base_url() -> str:
    try:
        from comfy.cli_args import args

        return loopback_base_url(getattr(args, "listen", None), getattr(args, "port", None),
                                 bool(getattr(args, "tls_keyfile", None)))
    except Exception:  # noqa: BLE001 - outside ComfyUI (tests of the glue)
        return loopback_base_url(None, None)


_KINDS_BY_BREAKER = {"echo_brain": ("echo_feedback", "echo_learning"), "kb": ("kb_article",)}


class Dependencies:
    """The clients, breakers and outbox of the running extension, plus what the routes need to queue prompts."""

    def __init__(self, rt: Any, server: Any, env: Mapping[str, str] | None = None) -> None:
        self.rt = rt
        self.server = server
        self.loop = getattr(server, "loop", None)
        self.comfy_url = comfy_base_url()
        cenv = client_env(rt.settings, env)
        self.budget_s = budget_from_env(cenv)
        self.echo = EchoBrainClient.from_env(cenv, on_operation=self._on_operation)
        self.kb = KBClient.from_env(cenv, on_operation=self._on_operation)
        for client in (self.echo, self.kb):
            if cenv.get("TOWER_BREAKER_OPEN_WAIT_S"):  # short waits for tests and drills; 10 s by default
                wait = _env_float(cenv, "TOWER_BREAKER_OPEN_WAIT_S", 10.0)
                client.breaker = CircuitBreaker(client.name, dataclasses.replace(client.breaker.config,
                                                                                 wait_in_open_s=wait))
            client.breaker.add_listener(self._on_state_change)
        self.transitions: deque[dict[str, Any]] = deque(maxlen=20)
        config = dataclasses.replace(OutboxConfig.from_env(cenv),
                                     base_delay_s=_env_float(cenv, "TOWER_OUTBOX_BASE_DELAY_S", 30.0),
                                     max_delay_s=_env_float(cenv, "TOWER_OUTBOX_MAX_DELAY_S", 3600.0),
                                     poll_interval_s=_env_float(cenv, "TOWER_OUTBOX_POLL_S", 30.0))
        Path(rt.settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.store = SQLiteOutboxStore(Path(rt.settings.data_dir) / "outbox.sqlite3")
        self.outbox = OutboxWorker(self.store, default_senders(echo=self.echo, kb=self.kb, budget_s=60.0), config)
        self.thread = OutboxThread(self.outbox, clients=(self.echo, self.kb))
        self._enqueuer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tower-outbox-enqueue")
        self.report_interval_s = rt.settings.kb_report_interval_s
        self.report_first_run_s = _env_float(cenv, "TOWER_KB_REPORT_FIRST_RUN_S", 60.0)
        self._report_stop = threading.Event()
        self._report_thread: threading.Thread | None = None
        self.reports_enqueued = 0
        self.last_report_error: str | None = None

    @property
    def breakers(self) -> dict[str, CircuitBreaker]:
        return {self.echo.name: self.echo.breaker, self.kb.name: self.kb.breaker}

    # ---- hooks --------------------------------------------------------------------------------------------------

    def _on_operation(self, operation_type: str, start: datetime, end: datetime, success: bool,
                      error_details: dict[str, Any] | None, correlation_id: str | None) -> None:
        s = self.rt.settings
        emit(OperationEvent(new_id(), operation_type=operation_type, start_time=start, end_time=end, success=success,
                            error_details=error_details, correlation_id=correlation_id, instance_id=s.instance_id,
                            status="success" if success else "error", category=None if success else "dependency",
                            comfyui_version=self.rt.comfyui_version))

    def _on_state_change(self, ev: StateChange) -> None:
        data = {"name": ev.name, "state": ev.to_state.value, "from": ev.from_state.value,
                "retry_after": ev.retry_after, "reason": ev.reason, "failure_rate": ev.failure_rate,
                "at": datetime.now(timezone.utc).isoformat()}
        self.transitions.append(data)
        level = logging.WARNING if ev.to_state in _BAD else logging.INFO
        log.log(level, "tower.breaker.%s %s: %s -> %s (%s)", ev.to_state.value, ev.name, ev.from_state.value,
                ev.to_state.value, ev.reason, extra={"breaker": ev.name, "state": ev.to_state.value,
                                                     "retry_after": ev.retry_after})
        try:
            self.server.send_sync("tower.breaker", {k: data[k] for k in ("name", "state", "from", "retry_after",
                                                                        "reason")})
        except Exception:  # noqa: BLE001 - a websocket hiccup never breaks a call
            log.exception("tower.breaker.broadcast_failed")
        if ev.to_state is State.CLOSED:
            kinds = _KINDS_BY_BREAKER.get(ev.name, ())
            if kinds:
                # off whatever thread reported the change (often the server loop): a small SQLite update
                threading.Thread(target=self._expedite, args=(kinds,), name="tower-outbox-expedite",
                                 daemon=True).start()
            else:
                self.thread.wake()

    def _expedite(self, kinds: tuple[str, ...]) -> None:
        try:
            self.outbox.expedite(kinds)
        except Exception:  # noqa: BLE001 - the regular backoff still delivers
            log.exception("tower.outbox.expedite_failed")
        self.thread.wake()

    def enqueue(self, kind: str, payload: dict[str, Any], *, idempotency_key: str,
                correlation_id: str | None = None) -> Any:
        """Store-first (blocking; call off the server loop), then wake the delivery thread."""
        item = self.outbox.enqueue(kind, payload, idempotency_key=idempotency_key, correlation_id=correlation_id)
        self.thread.wake()
        return item

    def on_feedback(self, fb: dict[str, Any], correlation_id: str | None) -> None:
        """A stored rating goes to Echo Brain's learning through the outbox (never blocks the caller)."""
        if not self.echo.configured and self.echo.config_error is None:
            return
        text = (f"User feedback for generation {fb['prompt_id']}: rating {fb['rating']}/5"
                + (f"; issues: {', '.join(fb['issues'])}" if fb.get("issues") else "")
                + (f"; comment: {fb['comment']}" if fb.get("comment") else ""))
        payload = {"content": text, "prompt_id": fb["prompt_id"], "generation_id": fb["prompt_id"],
                   "rating": fb["rating"], "issues": fb.get("issues") or [], "comment": fb.get("comment"),
                   "user_id": fb.get("user_id"), "image": fb.get("image"), "user_feedback": text,
                   "session_id": correlation_id, "context_tags": ["feedback", *(fb.get("issues") or [])]}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]
        self._enqueuer.submit(self._enqueue_logged, ECHO_FEEDBACK, payload, f"echo_feedback:{digest}",
                              correlation_id)

    def _enqueue_logged(self, kind: str, payload: dict[str, Any], key: str, cid: str | None) -> None:
        try:
            self.enqueue(kind, payload, idempotency_key=key, correlation_id=cid)
        except Exception:  # noqa: BLE001
            log.exception("tower.outbox.enqueue_failed", extra={"kind": kind})

    # ---- the daily failure-analysis report ---------------------------------------------------------------------

    def enqueue_failure_report(self, now: datetime | None = None) -> Any:
        """Build today's report from the last interval's failure analysis and store it for the KB."""
        now = now or datetime.now(timezone.utc)
        window_s = max(self.report_interval_s, 3600.0)
        analysis = Analytics(self.rt.reader).failure_analysis(window_s, window=f"{int(window_s // 3600)}h", limit=20)
        title, content = render_failure_report(analysis, instance_id=self.rt.settings.instance_id, now=now)
        item = self.enqueue(KB_ARTICLE, failure_report_payload(title, content),
                            idempotency_key=f"kb_failure_report:{now.strftime('%Y-%m-%d')}")
        self.reports_enqueued += 1
        return item

    def _report_loop(self) -> None:
        wait = self.report_first_run_s
        while not self._report_stop.wait(wait):
            try:
                self.enqueue_failure_report()
                self.last_report_error = None
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                self.last_report_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("tower.kb_report.failed")
            wait = self.report_interval_s

    # ---- lifecycle and health ----------------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()
        if self.kb.configured or self.kb.config_error:
            self._report_thread = threading.Thread(target=self._report_loop, name="tower-kb-report", daemon=True)
            self._report_thread.start()

    def stop(self) -> None:
        self._report_stop.set()
        self._enqueuer.shutdown(wait=True)
        self.thread.stop(5.0)
        self.store.close()

    def dependency_check(self, client: Any) -> dict[str, Any]:
        stats = client.get_stats()
        br = stats["breaker"]
        out: dict[str, Any] = {"configured": stats["configured"], "url": stats["url"], "state": br["state"],
                               "retry_after": br.get("retry_after"), "failure_rate": br.get("failure_rate"),
                               "config_error": stats["config_error"], "config_warnings": stats["config_warnings"],
                               "breaker": br}
        if "api" in stats:
            out["api"] = stats["api"]
        last = next((t for t in reversed(self.transitions) if t["name"] == client.name), None)
        out["last_transition"] = last
        if stats["config_error"]:
            return {"status": "degraded", **out}
        if not stats["configured"]:
            return {"status": "ok", **out}
        return {"status": "degraded" if br["state"] in {s.value for s in _BAD} else "ok", **out}

    def outbox_check(self) -> dict[str, Any]:
        stats = self.outbox.get_stats()
        dead = self.store.list("dead", limit=5)
        return {"status": "degraded" if stats["dead"] or not self.thread.alive else "ok", **stats,
                "thread_alive": self.thread.alive, "reports_enqueued": self.reports_enqueued,
                "last_report_error": self.last_report_error,
                "dead_letters": [{"id": i.id, "kind": i.kind, "last_error": i.last_error} for i in dead]}


def plug(rt: Any, server: Any) -> None:
    deps = Dependencies(rt, server)
    rt.components["reliability"] = deps
    rt.components["breakers"] = deps.breakers
    rt.components["outbox"] = deps.outbox
    rt.components["on_feedback"] = deps.on_feedback
    rt.add_check("echo_brain", lambda: deps.dependency_check(deps.echo))
    rt.add_check("kb", lambda: deps.dependency_check(deps.kb))
    rt.add_check("outbox", deps.outbox_check)
    rt.add_stopper(deps.stop)
    deps.start()
    log.info("tower.reliability.started", extra={"echo_brain": deps.echo.base_url, "kb": deps.kb.base_url,
                                                 "comfy_url": deps.comfy_url, "budget_s": deps.budget_s})
