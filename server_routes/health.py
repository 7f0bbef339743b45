"""``GET /tower/health``: overall ok|degraded|down (503 only for down) and one check per dependency."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ._http import check_access, is_loopback, json_ok, run_blocking

__all__ = ["add_routes"]


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    @routes.get("/tower/health")
    async def tower_health(request: web.Request) -> web.Response:
        denied = check_access(request, get_rt().settings.api_token, write=False)
        if denied:
            return denied
        rt = get_rt()
        report = await run_blocking(rt.health)
        body = {
            "status": report["status"],
            "version": rt.extension_version,
            "comfyui_version": rt.comfyui_version,
            "instance_id": rt.settings.instance_id,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "checks": report["checks"],
        }
        if is_loopback(request):
            body["settings"] = rt.settings.public()
        return json_ok(body, status=503 if report["status"] == "down" else 200)
