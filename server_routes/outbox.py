"""``GET /tower/outbox`` and ``POST /tower/outbox/{id}/retry``: reports waiting for Echo Brain or the KB."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ._http import BadRequest, check_access, is_loopback, json_error, json_ok, run_blocking
from ._query import int_param

__all__ = ["add_routes", "STATUSES"]

STATUSES = ("pending", "delivered", "dead")
_ID = re.compile(r"^[0-9a-f]{32}$")


def shape_item(item: Any, *, detailed: bool) -> dict[str, Any]:
    """An outbox item for callers; the payload (feedback text, report content) is loopback-only."""
    out = item.to_dict()
    if not detailed:
        out["payload"] = None
    return out


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    def deps_or_error(rt: Any) -> Any:
        deps = rt.components.get("reliability") if rt is not None else None
        if deps is None:
            return None, json_error(503, "not_ready", "The outbox is not running (see /tower/health)",
                                    headers={"Retry-After": "5"})
        return deps, None

    @routes.get("/tower/outbox")
    async def tower_outbox(request: web.Request) -> web.Response:
        rt = get_rt()
        denied = check_access(request, rt.settings.api_token, write=False)
        if denied:
            return denied
        deps, err = deps_or_error(rt)
        if err:
            return err
        status = request.query.get("status")
        if status is not None and status not in STATUSES:
            return json_error(400, "invalid_parameter", f"status must be one of {', '.join(STATUSES)}")
        try:
            limit = int_param(request, "limit", 100, 1, 500)
        except BadRequest as exc:
            return json_error(exc.status, exc.type, exc.message)
        items = await run_blocking(deps.store.list, status, limit)
        stats = await run_blocking(deps.outbox.get_stats)
        detailed = is_loopback(request)
        return json_ok({"stats": stats, "items": [shape_item(i, detailed=detailed) for i in items]})

    @routes.post("/tower/outbox/{item_id}/retry")
    async def tower_outbox_retry(request: web.Request) -> web.Response:
        rt = get_rt()
        denied = check_access(request, rt.settings.api_token, write=True)
        if denied:
            return denied
        deps, err = deps_or_error(rt)
        if err:
            return err
        item_id = request.match_info["item_id"]
        if not _ID.match(item_id):
            return json_error(404, "not_found", "No outbox item with this id")
        item = await run_blocking(deps.store.get, item_id)
        if item is None:
            return json_error(404, "not_found", "No outbox item with this id")
        if item.status == "delivered":
            return json_error(409, "already_delivered", "This item was already delivered",
                              delivered_at=item.delivered_at)
        await run_blocking(deps.outbox.requeue, item_id)
        deps.thread.wake()
        item = await run_blocking(deps.store.get, item_id)
        return json_ok({"item": shape_item(item, detailed=is_loopback(request))}, status=202)
