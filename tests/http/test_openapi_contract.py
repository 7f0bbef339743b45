"""schemathesis against /tower/openapi.json: generated requests to every documented route on a live aiohttp
server over recorded events never get a 5xx, and every answer conforms to the document."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
import schemathesis
from _app import FakeRuntime, make_app
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from tower_sentinel.server_routes.openapi import document

# The reliability routes need the running ComfyUI (tests/comfy/test_generate.py); here they would only answer 503.
schema = schemathesis.openapi.from_dict(document()).exclude(
    path_regex=r"^/(tower/generate|api/generate-enhanced|tower/outbox)")


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    """The routes on a real port (schemathesis calls over HTTP), served by a thread with its own loop."""
    from datetime import datetime, timezone

    from _analytics_events import history
    from tower_sentinel.telemetry.store import SQLiteStore

    store = SQLiteStore(tmp_path_factory.mktemp("contract") / "tower.db")
    store.write_batch(history(datetime.now(timezone.utc)))
    app = make_app(FakeRuntime(store))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_documented_routes_conform(case, live_url):
    """No generated request gets a 5xx or an answer outside the documented schema, status or content type.

    Schema-invalid input must be rejected (4xx). Schema-valid input may still get a 400: the 90-day bound on
    ``window`` (and 0) is not expressible as a pattern, so the positive-data-acceptance check is left out.
    """
    response = case.call_and_validate(base_url=live_url, excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500


def test_document_covers_every_get_route():
    """Every GET route the extension registers (but the health/generations/feedback routes of other modules) is documented."""
    routes = web.RouteTableDef()
    from tower_sentinel.server_routes import errors, learning, metrics, openapi, outbox, prometheus, seed_aliases

    for mod in (metrics, errors, learning, prometheus, openapi, seed_aliases, outbox):
        mod.add_routes(routes, lambda: None)
    paths = {r.path for r in routes if r.method == "GET"}
    assert paths == {p for p, ops in document()["paths"].items() if "get" in ops}
