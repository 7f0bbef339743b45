"""A fake runtime over a real SQLiteStore and a bare aiohttp app with every Tower route (tests/http)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiohttp import web
from tower_sentinel import server_routes
from tower_sentinel.telemetry.recorder import Recorder


class FakeRuntime:
    def __init__(self, store: Any, *, token: str | None = None) -> None:
        self.settings = SimpleNamespace(api_token=token, instance_id="test:1", public=lambda: {})
        self.store = self.reader = store
        self.recorder = Recorder(store)
        self.components: dict[str, Any] = {}
        self.extension_version = "0.1.0"
        self.comfyui_version = "0.3.75"
        self.checks: dict[str, Any] = {"store": {"status": "ok"}, "comfyui_queue": {"status": "ok"},
                                       "spool": {"status": "ok", "depth": 3, "dropped": 1}}

    def health(self) -> dict[str, Any]:
        statuses = [c["status"] for c in self.checks.values()]
        overall = "down" if "down" in statuses else "degraded" if "degraded" in statuses else "ok"
        return {"status": overall, "checks": dict(self.checks)}


@web.middleware
async def fake_peer(request: web.Request, handler: Any) -> web.StreamResponse:
    remote = request.headers.get("X-Test-Remote")
    if remote:
        request = request.clone(remote=remote)
    return await handler(request)


def make_app(rt: Any) -> web.Application:
    app = web.Application(middlewares=[fake_peer])
    routes = web.RouteTableDef()
    server_routes.register(routes, lambda: rt)
    app.add_routes(routes)
    return app
