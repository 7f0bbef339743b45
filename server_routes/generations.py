"""``GET /tower/generations/{prompt_id}``: one prompt's recorded fate, node timings and error."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._http import BadRequest, json_error, json_ok
from ._query import guarded, store_call

__all__ = ["add_routes", "shape_generation"]

MAX_NODES = 2000


def shape_generation(rec: dict[str, Any], *, detailed: bool) -> dict[str, Any]:
    err = rec.get("error")
    out = {
        "prompt_id": rec["prompt_id"],
        "status": rec["status"],
        "correlation_id": rec.get("correlation_id"),
        "instance_id": rec.get("instance_id"),
        "queued_at": rec.get("queued_at"),
        "started_at": rec.get("started_at"),
        "finished_at": rec.get("finished_at"),
        "queue_wait_seconds": rec.get("queue_wait_seconds"),
        "execution_seconds": rec.get("execution_seconds"),
        "queue_position": rec.get("queue_position"),
        "node_count": rec.get("node_count"),
        "category": rec.get("category"),
        "failing_node_id": rec.get("failing_node_id"),
        "failing_node_class": rec.get("failing_node_class"),
        "outputs": rec.get("outputs"),
        "comfyui_version": rec.get("comfyui_version"),
        "extension_version": rec.get("extension_version"),
        "nodes": [
            {k: n.get(k) for k in ("node_id", "node_class", "duration_seconds", "cached", "status", "start_time")}
            for n in (rec.get("nodes") or [])[:MAX_NODES]
        ],
        "nodes_truncated": len(rec.get("nodes") or []) > MAX_NODES,
        "error": None,
    }
    if err:
        e = {k: err.get(k) for k in ("error_id", "message", "category", "severity", "exception_type", "node_id",
                                     "node_class", "timestamp", "fingerprint")}
        if detailed:
            e["stack_trace"] = err.get("stack_trace")
            e["context"] = err.get("context")
        out["error"] = e
    if detailed:
        out["inputs"] = rec.get("inputs")
    return out


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    async def tower_generation(request: web.Request, rt: Any, loopback: bool) -> web.Response:
        pid = request.match_info["prompt_id"]
        if not pid or len(pid) > 128:
            raise BadRequest("prompt_id must be 1-128 characters", type_="invalid_prompt_id")
        rec = await store_call(rt.reader.get_generation, pid)
        if rec is None:
            return json_error(404, "not_found", "No prompt with this id was recorded")
        return json_ok(shape_generation(rec, detailed=loopback))

    routes.get("/tower/generations/{prompt_id}")(guarded(get_rt, tower_generation))
