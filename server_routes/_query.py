"""Glue shared by the analytics routes: bounded query parameters, the store call, redaction for remote callers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from ..telemetry.analytics import Analytics
from ._http import BadRequest, check_access, is_loopback, json_error, parse_window, run_blocking

__all__ = ["guarded", "window_param", "int_param", "name_param", "analytics_call", "store_call", "redact_paths",
           "StoreDown"]

log = logging.getLogger("tower_sentinel.routes")
T = TypeVar("T")
_WINDOW = re.compile(r"^[0-9]{1,12}[smhdw]$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_INSTANCE = re.compile(r"^[\w.:\-@/]{1,200}$", re.ASCII)  # ASCII \w, like the OpenAPI (ECMA) pattern
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.\-+@ ]+){2,}[\\/]?")


class StoreDown(Exception):
    """The store raised while answering: a 503 for the caller, logged once per request."""


def window_param(request: web.Request, default: str) -> tuple[str, float]:
    raw = request.query.get("window")
    if raw is None:
        return default, parse_window(default)
    if not _WINDOW.match(raw):
        raise BadRequest(f"window must look like 30m, 24h or 7d (got {raw!r:.40})", type_="invalid_window")
    return raw, parse_window(raw)


def int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    text = raw
    if not text.isascii() or not text.isdigit() or len(text) > 9 or not lo <= int(text) <= hi:
        raise BadRequest(f"{name} must be an integer from {lo} to {hi}", type_="invalid_parameter")
    return int(text)


def name_param(request: web.Request, name: str, *, pattern: re.Pattern[str] = _NAME) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not pattern.fullmatch(raw):
        raise BadRequest(f"{name} has an invalid value", type_="invalid_parameter")
    return raw


def instance_param(request: web.Request) -> str | None:
    return name_param(request, "instance", pattern=_INSTANCE)


async def store_call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking store call in the executor; any store failure becomes ``StoreDown`` (a 503 in ``guarded``)."""
    try:
        return await run_blocking(fn, *args)
    except Exception as exc:  # noqa: BLE001 - translated once, at this boundary
        log.error("tower.store.read_failed", extra={"error": f"{type(exc).__name__}: {exc}"[:500]})
        raise StoreDown(type(exc).__name__) from exc


async def analytics_call(rt: Any, fn: Callable[[Analytics], T]) -> T:
    """Run ``fn(Analytics(rt.reader))`` in the executor; any store failure becomes ``StoreDown``."""
    return await store_call(lambda: fn(Analytics(rt.reader)))


def guarded(get_rt: Any, handler: Callable[[web.Request, Any, bool], Any], *,
            write: bool = False) -> Callable[[web.Request], Any]:
    """Access check (``write`` for POST routes), then ``handler(request, rt, loopback)``; bad input → 4xx,
    store failure → 503."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        rt = get_rt()
        if rt is None:
            return json_error(503, "not_ready", "Tower Sentinel is not running", headers={"Retry-After": "5"})
        denied = check_access(request, rt.settings.api_token, write=write)
        if denied:
            return denied
        try:
            return await handler(request, rt, is_loopback(request))
        except BadRequest as exc:
            return json_error(exc.status, exc.type, exc.message)
        except StoreDown:
            return json_error(503, "store_unavailable", "The database did not answer; try again shortly",
                              headers={"Retry-After": "5"})

    wrapped.__name__ = getattr(handler, "__name__", "tower_handler")
    return wrapped


def redact_paths(text: Any) -> Any:
    """Local file paths in a message become <path> (for callers other than loopback)."""
    return _PATH.sub("<path>", text) if isinstance(text, str) else text
