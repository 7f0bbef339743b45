"""``GET /tower/learning/failure-analysis``: failure patterns, drivers and suggested actions (docs/api.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._http import json_ok
from ._query import analytics_call, guarded, int_param, redact_paths, window_param

__all__ = ["add_routes", "redact_analysis"]


def redact_analysis(body: dict[str, Any]) -> dict[str, Any]:
    """The analysis as callers other than loopback see it: no prompt inputs, no local paths."""
    for p in body.get("patterns", []):
        ex = p.get("example")
        if ex:
            ex["inputs"] = None
            ex["message"] = redact_paths(ex.get("message"))
        act = p.get("suggested_action") or {}
        if act.get("search_path"):
            act["search_path"] = act["search_path"].replace("\\", "/").rsplit("/", 1)[-1]
        act["details"] = [redact_paths(d) for d in act.get("details", [])]
        for d in p.get("drivers", []):
            d["condition"] = redact_paths(d["condition"])
            d["threshold"] = redact_paths(d["threshold"])
    body["recommendations"] = [redact_paths(r) for r in body.get("recommendations", [])]
    return body


async def failure_analysis(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    window, seconds = window_param(request, "7d")
    limit = int_param(request, "limit", 20, 1, 50)
    body = await analytics_call(rt, lambda a: a.failure_analysis(seconds, window=window, limit=limit))
    return json_ok(body if loopback else redact_analysis(body))


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    routes.get("/tower/learning/failure-analysis")(guarded(get_rt, failure_analysis))
