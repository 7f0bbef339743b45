"""The base of our fake services: a real aiohttp server on 127.0.0.1 that misbehaves on command.

A fake listens on a random port and keeps that port across ``stop_listening()``/``resume_listening()`` so a
client sees "connection refused" and then the same service coming back. ``misbehave(...)`` sets what every
route of the fake does until ``behave()``:

| mode             | answer                                                                  |
|------------------|-------------------------------------------------------------------------|
| ``"status"``     | HTTP ``status`` (default 503) with JSON ``{"detail": ...}`` and optional ``Retry-After`` |
| ``"hang"``       | never answers (until the fake stops)                                    |
| ``"slow"``       | answers normally after ``delay`` seconds                                |
| ``"garbage"``    | HTTP 200, ``Content-Type: application/json``, a body that is not JSON   |
| ``"error"``      | the service's own "error with HTTP 200" shape (subclasses define it)    |
| ``"reset"``      | drops the connection without an answer                                  |

``times=n`` limits a misbehaviour to the next n requests. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Misbehaviour:
    mode: str
    status: int = 503
    retry_after: float | str | None = None
    delay: float = 0.0
    times: int | None = None


@dataclass
class FakeServer:
    ssl_context: ssl.SSLContext | None = None
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._misbehaviour: Misbehaviour | None = None
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        self.app = web.Application(middlewares=[self._middleware])
        self.routes(self.app)

    # ---- what a subclass provides -------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def error_response(self, request: web.Request) -> web.StreamResponse:
        """The service's HTTP-200 error shape; plain 500 unless the subclass knows better."""
        return web.json_response({"detail": "internal error"}, status=500)

    # ---- control --------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def misbehave(self, mode: str, *, status: int = 503, retry_after: float | str | None = None,
                  delay: float = 0.0, times: int | None = None) -> None:
        assert mode in ("status", "hang", "slow", "garbage", "error", "reset"), mode
        self._misbehaviour = Misbehaviour(mode, status, retry_after, delay, times)

    def behave(self) -> None:
        self._misbehaviour = None

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    async def start(self) -> FakeServer:
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        await self._listen()
        return self

    async def stop_listening(self) -> None:
        """Close the listening socket and drop open keep-alive connections: the service is gone, new connections
        are refused until ``resume_listening``."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            for conn in self._runner.server.connections:
                conn.force_close()

    async def resume_listening(self) -> None:
        if self._site is None:
            await self._listen()

    async def close(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context,
                                 reuse_address=True)
        await self._site.start()
        if not self.port:
            self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    # ---- the misbehaving middleware -------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
        mb = self._misbehaviour
        if mb is not None and mb.times is not None:
            mb.times -= 1
            if mb.times <= 0:
                self._misbehaviour = None
        if mb is None:
            return await handler(request)
        if mb.mode == "status":
            headers = {"Retry-After": str(mb.retry_after)} if mb.retry_after is not None else None
            return web.json_response({"detail": f"fake says {mb.status}"}, status=mb.status, headers=headers)
        if mb.mode == "hang":
            await self._released.wait()
            raise web.HTTPServiceUnavailable()
        if mb.mode == "slow":
            await asyncio.sleep(mb.delay)
            return await handler(request)
        if mb.mode == "garbage":
            return web.Response(body=b"<html>\x00\xffnot json", content_type="application/json")
        if mb.mode == "reset":
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(0)
            raise ConnectionResetError("fake reset")
        return self.error_response(request)
