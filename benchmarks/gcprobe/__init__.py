"""Benchmark-only ComfyUI custom node package (no nodes; never shipped): Python's garbage collector inside a server.

ComfyUI's prompt worker runs a full collection (``gc.collect()``, 0.3-0.45 s with torch loaded) at most every 10 s
while prompts run, wherever that falls. ``POST /bench/gc/level`` makes it run now, the way ``POST /free`` does
(``free_memory`` flag), and answers once it has finished, so the next burst starts with the worker's 10 s timer
reset; ``GET /bench/gc`` returns the collections and their time per generation since the server started, those
made while levelling excluded, so the benchmark can report what the extension changes about garbage collection.
"""

from __future__ import annotations

import asyncio
import gc
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


NODE_CLASS_MAPPINGS: dict = {}
