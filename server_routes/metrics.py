"""``GET /tower/metrics/success-rate`` and ``GET /tower/metrics/durations`` (docs/api.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from ._http import json_ok, run_blocking
from ._query import analytics_call, guarded, instance_param, name_param, window_param

__all__ = ["add_routes"]


async def success_rate(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    window, seconds = window_param(request, "24h")
    op, inst = name_param(request, "operation_type"), instance_param(request)
    body = await analytics_call(rt, lambda a: a.success_rate(seconds, window=window, operation_type=op, instance=inst))
    since = (datetime.now(timezone.utc) - timedelta(seconds=seconds)).replace(tzinfo=None)
    try:
        seen = await run_blocking(rt.reader.query, "instances_seen", {"since": since.isoformat(sep=" ")})
    except Exception:  # noqa: BLE001 - the filter is a convenience; the rates above already answered
        seen = []
    body["instances"] = [{"instance_id": r["instance_id"], "prompts": int(r["prompts"])} for r in seen]
    return json_ok(body)


async def durations(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    window, seconds = window_param(request, "24h")
    op, inst = name_param(request, "operation_type"), instance_param(request)
    body = await analytics_call(rt, lambda a: a.durations(seconds, window=window, operation_type=op, instance=inst))
    return json_ok(body)


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    routes.get("/tower/metrics/success-rate")(guarded(get_rt, success_rate))
    routes.get("/tower/metrics/durations")(guarded(get_rt, durations))
