"""Benchmark-only ComfyUI custom node package (no nodes; never shipped): Python's garbage collector inside a server.

ComfyUI's prompt worker runs a full collection (``gc.collect()``, 0.3-0.45 s with torch loaded) at most every 10 s
while prompts run, wherever that falls. ``POST /bench/gc/level`` makes it run now, the way ``POST /free`` does
(``free_memory`` flag), and answers once it has finished, so the next burst starts with the worker's 10 s timer
reset; ``GET /bench/gc`` returns the collections and their time per generation since the server started, those
made while levelling excluded, so the benchmark can report what the extension changes about garbage collection.
``POST /bench/hooks`` detaches and re-attaches Tower Sentinel's hooks inside a running server, so the benchmark can
compare prompts with and without them in the same process. ``POST /bench/writer`` sets how long Tower Sentinel's
writer waits for ComfyUI to go quiet (under valgrind a prompt takes a hundred times longer, and the gaps between
them would look quiet).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time

from aiohttp import web
from server import PromptServer

_stats = {"collections": [0, 0, 0], "seconds": [0.0, 0.0, 0.0]}
_state = {"t0": 0.0, "levelling": False, "full": 0}


def _callback(phase: str, info: dict) -> None:
    if phase == "start":
        _state["t0"] = time.perf_counter()
        return
    g = info["generation"]
    if g == 2:
        _state["full"] += 1
    if not _state["levelling"]:
        _stats["collections"][g] += 1
        _stats["seconds"][g] += time.perf_counter() - _state["t0"]


gc.callbacks.append(_callback)


@PromptServer.instance.routes.get("/bench/gc")
async def gc_stats(request: web.Request) -> web.Response:
    return web.json_response(_stats)


@PromptServer.instance.routes.post("/bench/gc/level")
async def gc_level(request: web.Request) -> web.Response:
    loop = asyncio.get_running_loop()
    _state["levelling"] = True
    seen = _state["full"]
    try:
        PromptServer.instance.prompt_queue.set_flag("free_memory", True)
        deadline = loop.time() + 30
        while _state["full"] == seen and loop.time() < deadline:
            await asyncio.sleep(0.005)
    finally:
        _state["levelling"] = False
    return web.json_response({"levelled": _state["full"] != seen})


_HOOKED = (("execution", "PromptQueue", ("put", "get", "task_done", "delete_queue_item", "wipe_queue")),
           ("comfy_execution.progress", "ProgressRegistry", ("start_progress", "finish_progress")))


def _hook_switches() -> list[tuple[object, str, object, object]]:
    """(owner, attribute, Tower Sentinel's wrapper, ComfyUI's own) for every hook the extension attached: its
    wrapped class methods, and the POST /prompt handler in each route of the app (aiohttp privates: benchmark
    code only)."""
    import importlib

    out = []
    for module, cls_name, names in _HOOKED:
        cls = getattr(importlib.import_module(module), cls_name)
        for name in names:
            fn = cls.__dict__.get(name)
            if getattr(fn, "__tower_wrapped__", False):
                out.append((cls, name, fn, fn.__wrapped__))
    for resource in PromptServer.instance.app.router.resources():
        for route in resource:
            handler = getattr(route, "_handler", None)
            if getattr(handler, "__tower_wrapped__", False):
                out.append((route, "_handler", handler, handler.args[0]))
    return out


_switches: list = []


@PromptServer.instance.routes.post("/bench/hooks")
async def hooks(request: web.Request) -> web.Response:
    """``{"on": false}`` puts ComfyUI's own methods and handler back in place of Tower Sentinel's wrappers (its
    writer and routes stay); ``{"on": true}`` puts the wrappers back. 409 where the extension is not loaded."""
    if not _switches:
        _switches.extend(_hook_switches())
    if not _switches:
        return web.json_response({"error": "Tower Sentinel's hooks are not attached here"}, status=409)
    body = await request.json()
    on = bool(body.get("on"))
    only = body.get("only")  # attribute names to switch (default: all), to see what each hook costs
    for owner, name, wrapped, orig in _switches:
        if only is None or (name == "_handler" and "post_prompt" in only) or name in only:
            setattr(owner, name, wrapped if on else orig)
    return web.json_response({"on": on, "switched": len(_switches)})


@PromptServer.instance.routes.post("/bench/writer")
async def writer(request: web.Request) -> web.Response:
    """``{"quiet_s": s, "max_delay_s": s}``: the gap in events the writer waits for before it writes, and how long
    it waits at most (recorder privates: benchmark code only). 409 where the extension is not loaded."""
    try:
        body = await request.json()
        quiet, max_delay = float(body["quiet_s"]), float(body["max_delay_s"])
    except (ValueError, TypeError, KeyError) as exc:
        return web.json_response({"error": {"type": "invalid_request", "message": f"quiet_s and max_delay_s "
                                            f"(seconds) are required: {exc!r}"}}, status=400)
    for name, mod in list(sys.modules.items()):
        rec = mod.get_recorder() if name.endswith(".telemetry.context") and hasattr(mod, "get_recorder") else None
        if rec is not None:
            rec._quiet, rec._max_delay = quiet, max_delay
            return web.json_response({"quiet_s": rec._quiet, "max_delay_s": rec._max_delay})
    return web.json_response({"error": "Tower Sentinel's recorder is not running here"}, status=409)


NODE_CLASS_MAPPINGS: dict = {}
