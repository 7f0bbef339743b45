"""``POST /tower/generate`` and the seed's ``POST /api/generate-enhanced``: enhance, fill a template, queue here.

Echo Brain rewrites the prompt and the KB supplies the character sheet within one budget
(``reliability.enhance``); a dependency that is down, slow or not configured lands in ``degraded`` and never fails
the request. The filled graph is queued through this ComfyUI's own ``POST /prompt`` over loopback
(``_generate_core``). The seed alias then waits for the recorded outcome (``settings.generate_wait_s``) and answers
with the real output file from the recorded history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ..reliability.breaker import State
from ..reliability.enhance import enhance_prompt
from ..reliability.templates import TemplateError, load_template
from ..telemetry.capture import correlation_from_headers, mint_correlation_id
from ._generate_core import (
    GenerateRequest,
    build_graph,
    output_file,
    parse_enhanced_alias,
    parse_generate,
    queue_prompt,
    read_rejection,
    resolve_inline,
)
from ._http import BadRequest, check_access, json_error, json_ok, read_json, run_blocking

__all__ = ["add_routes", "known_degraded"]

log = logging.getLogger("tower_sentinel.routes.generate")

TERMINAL = {"success", "error", "interrupted", "crashed", "rejected", "cancelled"}
_SEED_STATUS = {"success": "completed", "error": "failed", "crashed": "failed", "rejected": "failed",
                "interrupted": "cancelled", "cancelled": "cancelled"}
_POLL_S = 0.2


def known_degraded(deps: Any) -> list[str]:
    """The dependencies that would be degraded right now, without calling them (for answers that stop early)."""
    if deps is None:
        return ["echo_brain", "kb"]
    out = []
    for client in (deps.echo, deps.kb):
        if not client.configured or client.breaker.state in (State.OPEN, State.FORCED_OPEN):
            out.append(client.name)
    return out


class _Failed(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__("generation failed")
        self.response = response


async def _generate(rt: Any, req: GenerateRequest, cid: str) -> dict[str, Any]:
    """Enhance, fill and queue; the queued answer, or ``_Failed`` with the 4xx/5xx response."""
    deps = rt.components["reliability"]
    if isinstance(req.workflow, str):
        template_name = req.workflow
        load = lambda: load_template(req.workflow, user_dir=Path(rt.settings.data_dir) / "workflows")  # noqa: E731
    else:
        template_name = None
        load = lambda: resolve_inline(req.workflow)  # noqa: E731
    try:
        template = await run_blocking(load)
    except TemplateError as exc:
        raise _Failed(json_error(exc.status, exc.type, exc.message, workflow=template_name,
                                 degraded=known_degraded(deps), correlation_id=cid)) from None

    echo, kb, budget, comfy_url = deps.echo, deps.kb, deps.budget_s, deps.comfy_url
    t0 = time.monotonic()
    result = await enhance_prompt(req.prompt, req.character, echo=echo, kb=kb, budget_s=budget, correlation_id=cid)
    enhance_s = time.monotonic() - t0
    negative = req.negative_prompt or result.negative_prompt
    try:
        graph = build_graph(template, req, prompt=result.enhanced_prompt, negative_prompt=negative,
                            character_sheet=result.character_sheet)
    except TemplateError as exc:
        raise _Failed(json_error(exc.status, exc.type, exc.message, workflow=template_name,
                                 degraded=result.degraded, correlation_id=cid)) from None
    tower = {"source": "tower_generate", "user_id": req.user_id, "quality_level": req.quality_level,
             "character": req.character, "workflow": template_name or "inline", "degraded": result.degraded}
    try:
        async with aiohttp.ClientSession() as session:
            status, data = await queue_prompt(session, comfy_url, graph, correlation_id=cid,
                                              extra_data={"tower": tower})
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.error("tower.generate.queue_failed", extra={"error": f"{type(exc).__name__}: {exc}",
                                                        "correlation_id": cid})
        raise _Failed(json_error(503, "comfyui_unavailable", f"ComfyUI's /prompt at {comfy_url} did not answer: "
                                 f"{type(exc).__name__}", degraded=result.degraded, correlation_id=cid,
                                 headers={"Retry-After": "5"})) from None
    common = {"correlation_id": cid, "enhanced_prompt": result.enhanced_prompt, "degraded": result.degraded}
    if status == 400:
        rej = read_rejection(data)
        raise _Failed(json_error(rej.status, rej.type, rej.message, missing=rej.missing, node_errors=rej.node_errors,
                                 **common))
    if status != 200 or not isinstance(data, dict) or not data.get("prompt_id"):
        raise _Failed(json_error(502, "comfyui_error", f"ComfyUI's /prompt answered HTTP {status}", **common))
    log.info("tower.generate.queued", extra={"prompt_id": data["prompt_id"], "correlation_id": cid,
                                             "degraded": result.degraded, "enhance_s": round(enhance_s, 4)})
    return {"prompt_id": data["prompt_id"], **common, "negative_prompt": negative,
            "quality_level": req.quality_level, "workflow": template_name or "inline", "number": data.get("number"),
            "seed": graph_seed(graph), "character_sheet": bool(result.character_sheet),
            "dependencies": {k: {kk: v.get(kk) for kk in ("status", "error", "retry_after", "duration_s") if kk in v}
                             for k, v in result.details.items()},
            "enhance_seconds": round(enhance_s, 6)}


def graph_seed(graph: dict[str, Any]) -> int | None:
    for node in graph.values():
        seed = (node.get("inputs") or {}).get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool):
            return seed
    return None


async def _wait_outcome(rt: Any, prompt_id: str, deadline_s: float) -> dict[str, Any] | None:
    """Poll our own store until the prompt's recorded status is terminal or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    rec = None
    while True:
        rec = await run_blocking(rt.reader.get_generation, prompt_id)
        if rec is not None and rec.get("status") in TERMINAL:
            return rec
        if time.monotonic() >= deadline:
            return rec
        await asyncio.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))


def _seed_answer(req: GenerateRequest, queued: dict[str, Any], rec: dict[str, Any] | None) -> tuple[int, dict]:
    status = rec.get("status") if rec else "queued"
    outputs = rec.get("outputs") if rec else None
    if isinstance(outputs, str):
        try:
            outputs = json.loads(outputs)
        except ValueError:
            outputs = None
    path, files = output_file(outputs)
    err = (rec or {}).get("error") or None
    finished = status in TERMINAL
    body = {
        "status": _SEED_STATUS.get(status, "processing"),
        "generation_id": queued["prompt_id"],
        "correlation_id": queued["correlation_id"],
        "prompt": req.prompt,
        "character": req.character,
        "quality_level": req.quality_level,
        "output_file": path,
        "generation_time": (rec or {}).get("execution_seconds"),
        "metadata": {
            "prompt_id": queued["prompt_id"], "recorded_status": status, "enhanced_prompt": queued["enhanced_prompt"],
            "negative_prompt": queued["negative_prompt"], "degraded": queued["degraded"], "seed": queued["seed"],
            "workflow": queued["workflow"], "files": files, "user_id": req.user_id,
            "queue_wait_seconds": (rec or {}).get("queue_wait_seconds"), **req.extra,
            "error": {k: err.get(k) for k in ("error_id", "message", "category", "node_class")} if err else None,
        },
    }
    return (200 if finished else 202), body


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    async def handle(request: web.Request, parse: Any, wait: bool) -> web.Response:
        rt = get_rt()
        if rt is None:
            return json_error(503, "not_ready", "Tower Sentinel is not running", headers={"Retry-After": "5"})
        denied = check_access(request, rt.settings.api_token, write=True)
        if denied:
            return denied
        if rt.components.get("reliability") is None:
            return json_error(503, "not_ready", "Generation is not available: the reliability plugin did not start "
                              "(see /tower/health)", headers={"Retry-After": "30"})
        try:
            req = parse(await read_json(request))
        except BadRequest as exc:
            return json_error(exc.status, exc.type, exc.message)
        cid = correlation_from_headers(request.headers) or mint_correlation_id()
        try:
            queued = await _generate(rt, req, cid)
        except _Failed as failed:
            failed.response.headers["X-Correlation-ID"] = cid
            return failed.response
        headers = {"X-Correlation-ID": cid}
        if not wait:
            return json_ok(queued, headers=headers)
        rec = await _wait_outcome(rt, queued["prompt_id"], rt.settings.generate_wait_s)
        status, body = _seed_answer(req, queued, rec)
        return json_ok(body, status=status, headers=headers)

    @routes.post("/tower/generate")
    async def tower_generate(request: web.Request) -> web.Response:
        return await handle(request, parse_generate, wait=False)

    @routes.post("/api/generate-enhanced")
    async def api_generate_enhanced(request: web.Request) -> web.Response:
        return await handle(request, parse_enhanced_alias, wait=True)
