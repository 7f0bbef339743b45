"""HTTP faces of Tower Sentinel on the ComfyUI server. ``register(routes, get_runtime)`` adds every route.

ComfyUI mirrors each route under ``/api``; handlers only parse, call the core off the event loop, and shape JSON.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import (
    errors,
    feedback,
    generate,
    generations,
    health,
    learning,
    metrics,
    openapi,
    outbox,
    prometheus,
    seed_aliases,
)

__all__ = ["register"]

ROUTE_MODULES = [health, generations, metrics, errors, learning, prometheus, openapi, seed_aliases, feedback,
                 outbox, generate]


def register(routes: web.RouteTableDef, get_rt: Any) -> None:
    for mod in ROUTE_MODULES:
        mod.add_routes(routes, get_rt)
