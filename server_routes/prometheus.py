"""``GET /tower/metrics/prometheus``: the text exposition of the extension's own registry."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._http import json_error, run_blocking
from ._query import guarded

__all__ = ["add_routes"]

# generate_latest writes the classic text format; say so (every Prometheus version scrapes it)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def prometheus(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    try:
        from ..telemetry.metrics import ensure
    except ImportError:
        return json_error(503, "metrics_unavailable", "prometheus_client is not installed")
    metrics = ensure(rt)
    body = await run_blocking(metrics.exposition)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    routes.get("/tower/metrics/prometheus")(guarded(get_rt, prometheus))
