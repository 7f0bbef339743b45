"""Shared glue for route handlers: JSON errors, caller trust (loopback / bearer token), off-loop execution."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

__all__ = [
    "json_error",
    "json_ok",
    "is_loopback",
    "check_access",
    "run_blocking",
    "read_json",
    "parse_window",
    "BadRequest",
    "MAX_BODY_BYTES",
]

T = TypeVar("T")
MAX_BODY_BYTES = 256 * 1024
MAX_WINDOW_S = 90 * 86400


class BadRequest(Exception):
    def __init__(self, message: str, *, status: int = 400, type_: str = "bad_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type_


def json_ok(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(data, default=str), status=status, content_type="application/json",
                        headers=headers)


def json_error(status: int, type_: str, message: str, *, headers: dict[str, str] | None = None,
               **extra: Any) -> web.Response:
    body = {"error": {"type": type_, "message": message, **extra}}
    return json_ok(body, status=status, headers=headers)


def is_loopback(request: web.Request) -> bool:
    peer = request.remote
    if not peer:
        return False
    try:
        return ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except ValueError:
        return peer == "localhost"


def check_access(request: web.Request, token: str | None, *, write: bool) -> web.Response | None:
    """None when the caller may proceed, else the error response.

    Loopback callers are trusted. Others need ``Authorization: Bearer <TOWER_API_TOKEN>`` when a token is
    configured; without a configured token they may read but not write.
    """
    if is_loopback(request):
        return None
    if token:
        auth = request.headers.get("Authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return None
        return json_error(401, "unauthorized", "A bearer token is required for callers outside this machine",
                          headers={"WWW-Authenticate": "Bearer"})
    if write:
        return json_error(403, "forbidden", "Writes from other machines need TOWER_API_TOKEN to be configured")
    return None


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (database reads) in the default executor, never on the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, partial(fn, *args, **kwargs))


async def read_json(request: web.Request, *, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The JSON body of a POST; 415 for anything but application/json (CSRF), 413 when too large."""
    ctype = request.content_type
    if ctype != "application/json":
        raise BadRequest("POST bodies must be application/json", status=415, type_="unsupported_media_type")
    if request.content_length is not None and request.content_length > max_bytes:
        raise BadRequest(f"body larger than {max_bytes} bytes", status=413, type_="payload_too_large")
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BadRequest(f"body larger than {max_bytes} bytes", status=413, type_="payload_too_large")
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise BadRequest(f"body is not valid JSON: {exc.msg}", type_="invalid_json") from None


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(value: str | None, default: str = "24h") -> float:
    """'15m', '24h', '7d', '2w' → seconds; 400 for anything else or beyond 90 days."""
    text = (value or default).strip().lower()
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].isdigit():
        raise BadRequest(f"window must look like 30m, 24h or 7d (got {value!r:.40})", type_="invalid_window")
    seconds = int(text[:-1]) * _UNITS[text[-1]]
    if seconds <= 0 or seconds > MAX_WINDOW_S:
        raise BadRequest("window must be between 1s and 90d", type_="invalid_window")
    return float(seconds)
