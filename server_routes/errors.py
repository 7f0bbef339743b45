"""``GET /tower/errors`` (most common errors, recent ones) and ``GET /tower/errors/{error_id}`` (docs/api.md)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ._http import BadRequest, json_error, json_ok
from ._query import analytics_call, guarded, int_param, name_param, redact_paths, window_param

__all__ = ["add_routes"]

_ERROR_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


async def list_errors(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    window, seconds = window_param(request, "7d")
    limit = int_param(request, "limit", 50, 1, 200)
    category, severity = name_param(request, "category"), name_param(request, "severity")
    body = await analytics_call(rt, lambda a: a.errors(seconds, window=window, limit=limit, category=category,
                                                       severity=severity))
    if not loopback:
        for row in body["recent"]:
            row["message"] = redact_paths(row["message"])
    return json_ok(body)


async def one_error(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    error_id = request.match_info["error_id"]
    if not _ERROR_ID.match(error_id):
        raise BadRequest("error_id must be 1-64 characters of [A-Za-z0-9._-]", type_="invalid_parameter")
    row = await analytics_call(rt, lambda a: a.error(error_id))
    if row is None:
        return json_error(404, "not_found", "No error with this id was recorded")
    if not loopback:
        row["message"] = redact_paths(row.get("message"))
        row["stack_trace"] = None
        row["context"] = None
    return json_ok(row)


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    routes.get("/tower/errors")(guarded(get_rt, list_errors))
    routes.get("/tower/errors/{error_id}")(guarded(get_rt, one_error))
