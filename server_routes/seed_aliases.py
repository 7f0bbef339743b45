"""The seed's routes at their exact paths, in the original service's shapes, for the studio's existing callers.

``GET /api/health``, ``GET /api/metrics/success-rate?hours=``, ``GET /api/learning/failure-analysis?days=``.
ComfyUI has no ``/health``, ``/metrics/…`` or ``/learning/…`` route whose ``/api`` mirror would shadow these; the
``seed_aliases`` health check (``plug``) reports degraded if another extension registered one of them first.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ._http import json_ok, run_blocking
from ._query import analytics_call, guarded, int_param, name_param
from .learning import redact_analysis

__all__ = ["add_routes", "plug", "ALIAS_PATHS"]

ALIAS_PATHS = ("/api/health", "/api/metrics/success-rate", "/api/learning/failure-analysis")
_BREAKER_RANK = {"closed": 0, "disabled": 0, "half_open": 1, "open": 2, "forced_open": 2}
_BREAKER_SEED = {0: "CLOSED", 1: "HALF_OPEN", 2: "OPEN"}
_HANDLERS: dict[str, Any] = {}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _rate(body: dict[str, Any]) -> float:
    overall = body["overall"]
    total = overall["total_operations"]
    return round(overall["successful_operations"] / total, 4) if total else 0.0


def _breaker_state(rt: Any) -> str:
    worst = 0
    for br in (rt.components.get("breakers") or {}).values():
        try:
            worst = max(worst, _BREAKER_RANK.get(str(br.get_stats().get("state")).lower(), 0))
        except Exception:  # noqa: BLE001
            continue
    return _BREAKER_SEED[worst]


async def api_health(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    t0 = time.perf_counter()
    report = await run_blocking(rt.health)
    elapsed_ms = round((time.perf_counter() - t0) * 1000, 3)
    checks = report["checks"]
    store_ok = checks.get("store", {}).get("status", "ok") != "down"
    queue = checks.get("comfyui_queue", {"status": "ok"})
    try:
        rate = _rate(await analytics_call(rt, lambda a: a.success_rate(86400, operation_type="comfyui_execution")))
    except Exception:  # noqa: BLE001 - the original reports 0.0 when the database fails
        rate, store_ok = 0.0, False
    comfy = {"status": "connected", "response_time_ms": elapsed_ms} if queue.get("status") == "ok" else \
        {"status": "error", "error": "the ComfyUI queue did not answer"}
    return json_ok({
        "status": "healthy" if report["status"] == "ok" and store_ok else "degraded",
        "service": "tower-sentinel",
        "version": rt.extension_version,
        "correlation_id": uuid.uuid4().hex,
        "timestamp": _now(),
        "dependencies": {"comfyui": comfy, "database": {"status": "connected" if store_ok else "error"}},
        "metrics": {"success_rate_24h": rate, "circuit_breaker_state": _breaker_state(rt)},
    })


async def api_success_rate(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    hours = int_param(request, "hours", 24, 1, 2160)
    op = name_param(request, "operation_type") or "comfyui_execution"
    body = await analytics_call(rt, lambda a: a.success_rate(hours * 3600.0, window=f"{hours}h", operation_type=op))
    return json_ok({"success_rate": _rate(body), "period_hours": hours, "timestamp": _now(), "operation_type": op,
                    "total_operations": body["overall"]["total_operations"],
                    "successful_operations": body["overall"]["successful_operations"]})


async def api_failure_analysis(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    days = int_param(request, "days", 7, 1, 90)
    op = name_param(request, "operation_type") or "comfyui_execution"
    body = await analytics_call(rt, lambda a: a.failure_analysis(days * 86400.0, window=f"{days}d", limit=10))
    if not loopback:
        body = redact_analysis(body)
    patterns = []
    for p in body["patterns"]:
        patterns.append({
            "error_details": {k: p[k] for k in ("category", "severity", "exception_type", "node_class", "template")},
            "context": {"fingerprint": p["fingerprint"], "prompts_affected": p["prompts_affected"],
                        "drivers": p["drivers"], "suggested_action": p["suggested_action"]},
            "frequency": p["count"], **p})
    return json_ok({"operation_type": op, "analysis_period_days": days, "failure_patterns": patterns,
                    "error_categories": body["error_categories"], "recommendations": body["recommendations"],
                    "prompts": body["prompts"], "since": body["since"], "until": body["until"]})


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    for path, fn in zip(ALIAS_PATHS, (api_health, api_success_rate, api_failure_analysis), strict=True):
        handler = guarded(get_rt, fn)
        _HANDLERS[path] = handler
        routes.get(path)(handler)


def owner_check(app: web.Application) -> dict[str, Any]:
    """Which alias paths resolve to a handler other than ours (another extension took them first)."""
    taken = []
    for path in ALIAS_PATHS:
        for route in app.router.routes():
            if route.method not in ("GET", "*"):
                continue
            info = route.resource.get_info() if route.resource is not None else {}
            if info.get("path") == path or info.get("formatter") == path:
                if route.handler is not _HANDLERS.get(path):
                    taken.append(path)
                break
    return {"status": "degraded" if taken else "ok", "taken_by_others": taken}


def plug(rt: Any, server: Any) -> None:
    rt.add_check("seed_aliases", lambda: owner_check(server.app))
