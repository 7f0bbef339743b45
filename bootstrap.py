"""Wire the extension into a running ComfyUI: settings, store, recorder, capture hooks, routes, health checks.

Called once from the package ``__init__`` with ``PromptServer.instance``. Each part that fails is reported in
health instead of stopping the rest.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Sequence
from typing import Any

from . import server_routes
from .telemetry.capture import Capture, comfy_facts
from .telemetry.config import load_settings
from .telemetry.events import Event, PromptEvent
from .telemetry.logs import install_json_log, write_json_lines
from .telemetry.runtime import Runtime, get_runtime, set_runtime

__all__ = ["start"]

log = logging.getLogger("tower_sentinel")

TERMINAL = {"success", "error", "interrupted", "crashed", "rejected", "cancelled"}


def start(server: Any, extension_version: str) -> Runtime:
    if get_runtime() is not None:
        return get_runtime()
    comfy_version, user_dir, port = comfy_facts()
    settings = load_settings(user_dir=user_dir, listen_port=port)
    install_json_log(f"{settings.data_dir}/tower_sentinel.log.jsonl")
    for problem in settings.errors:
        log.error("tower.config_error: %s", problem)
    rt = Runtime(settings, comfyui_version=comfy_version, extension_version=extension_version)
    set_runtime(rt)

    rt.add_check("config", lambda: {"status": "degraded", "errors": list(settings.errors)} if settings.errors
                 else {"status": "ok"})
    rt.add_check("store", lambda: _store_check(rt))
    rt.add_check("recorder", lambda: _recorder_check(rt))
    rt.add_check("comfyui_queue", lambda: _queue_check(server))

    capture = Capture(instance_id=settings.instance_id, comfyui_version=comfy_version,
                      extension_version=extension_version)
    rt.capture = capture
    capture.attach(server)
    rt.add_check("hooks", lambda: _hooks_check(capture))

    rt.recorder.add_poll(capture.poll_running)  # the writer records a prompt in progress as `running`
    rt.recorder.add_listener(lambda events: _broadcast_outcomes(server, events))
    rt.recorder.add_listener(_log_prompts)
    server_routes.register(server.routes, get_runtime)
    for plug in _plugins():
        try:
            plug(rt, server)
        except Exception as exc:  # noqa: BLE001
            log.error("tower.plugin_failed: %s: %r", getattr(plug, "__module__", plug), exc)
            rt.add_check(getattr(plug, "__module__", "plugin").rsplit(".", 1)[-1],
                         lambda exc=exc: {"status": "degraded", "error": f"{type(exc).__name__}: {exc}"})
    rt.start()
    atexit.register(rt.stop)
    log.info("tower.started", extra={"version": extension_version, "comfyui_version": comfy_version,
                                     "instance_id": settings.instance_id, "hooks": capture.hooks,
                                     "store": "postgresql" if settings.postgres_configured else "sqlite"})
    return rt


def _plugins() -> list[Any]:
    """Optional components (PostgreSQL shipping, analytics, reliability, quality routes) register here."""
    plugins = []
    try:
        from .plugins import PLUGINS

        plugins.extend(PLUGINS)
    except ImportError:
        pass
    return plugins


def _store_check(rt: Runtime) -> dict[str, Any]:
    try:
        rt.store.ping()
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "backend": "sqlite", "error": f"{type(exc).__name__}: {exc}"}
    return {"status": "ok", "backend": "sqlite", "checkpoints": getattr(rt.store, "checkpoints", None),
            "checkpoint_errors": getattr(rt.store, "checkpoint_errors", None)}


def _recorder_check(rt: Runtime) -> dict[str, Any]:
    s = rt.recorder.get_stats()
    status = "ok"
    if not s["running"] or s["last_error"]:
        status = "down" if not s["running"] else "degraded"
    elif s["dropped"] or s.get("deferred_errors") or s["queue_depth"] > 0.8 * s["queue_capacity"]:
        status = "degraded"  # dropped events, or a capture bug in work deferred to the writer
    return {"status": status, **s}


def _queue_check(server: Any) -> dict[str, Any]:
    try:
        remaining = server.prompt_queue.get_tasks_remaining()
    except Exception as exc:  # noqa: BLE001
        return {"status": "degraded", "error": repr(exc)}
    return {"status": "ok", "queue_remaining": remaining}


def _hooks_check(capture: Capture) -> dict[str, Any]:
    failed = {k: v for k, v in capture.hooks.items() if v != "ok"}
    status = "degraded" if failed or capture.errors else "ok"
    return {"status": status, "attached": capture.hooks, "errors": capture.errors,
            "lifecycle_api": capture.lifecycle_api, "post_prompt_via": capture.post_hook}


# queued is DEBUG; a successful outcome is one INFO line in the JSON log only (ComfyUI prints its own "Prompt
# executed" line; at hundreds of prompts/s a console line each is noise and costs more than recording the
# prompt); failures and rejections are WARNING lines that also reach ComfyUI's console
_PROMPT_LOG = {"queued": ("tower.prompt.queued", logging.DEBUG), "rejected": ("tower.prompt.rejected", logging.WARNING)}


def _prompt_fields(ev: PromptEvent) -> dict[str, Any]:
    return {"correlation_id": ev.correlation_id, "prompt_id": ev.prompt_id, "status": ev.status,
            "category": ev.category, "queue_position": ev.queue_position,
            "execution_seconds": ev.execution_seconds, "failing_node_id": ev.failing_node_id}


def _log_prompts(events: Sequence[Event]) -> None:
    """One structured line per stored prompt outcome, written by the recorder's thread after commit, so logging
    costs nothing on ComfyUI's event loop or prompt worker."""
    successes = []
    for ev in events:
        if type(ev) is not PromptEvent or ev.status == "running":
            continue
        if ev.status == "success":
            successes.append(ev)
            continue
        name, level = _PROMPT_LOG.get(ev.status) or ("tower.prompt.finished", logging.WARNING)
        if log.isEnabledFor(level):
            log.log(level, "%s %s %s", name, ev.prompt_id, ev.status, extra={"event": name, **_prompt_fields(ev)})
    if successes and log.isEnabledFor(logging.INFO):
        fields = [_prompt_fields(ev) for ev in successes]
        if not write_json_lines("tower.prompt.finished", "info", fields):
            for ev, f in zip(successes, fields, strict=True):
                log.info("tower.prompt.finished %s success", ev.prompt_id, extra={"event": "tower.prompt.finished", **f})


def _broadcast_outcomes(server: Any, events: Sequence[Event]) -> None:
    if not getattr(server, "sockets", True):
        return  # no websocket client connected: nothing to tell (send_sync would still wake the event loop)
    for ev in events:
        if type(ev) is PromptEvent and ev.status in TERMINAL:
            server.send_sync("tower.outcome", {
                "prompt_id": ev.prompt_id, "status": ev.status, "correlation_id": ev.correlation_id,
                "category": ev.category, "failing_node_id": ev.failing_node_id,
                "failing_node_class": ev.failing_node_class, "error_id": ev.error_id,
                "execution_seconds": ev.execution_seconds, "client_id": ev.client_id,
            })
