"""POST /prompt through the capture's handler wrapper, in a real aiohttp app that answers the way ComfyUI's
handler does (the end-to-end behaviour inside ComfyUI is in tests/comfy/test_capture.py). Both ways of attaching
behave alike: the route's own handler wrapped before the app has its routes (what ComfyUI's start-up allows), and a
middleware where the routes are already added."""

from __future__ import annotations

import asyncio
import json
import uuid
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from tower_sentinel.telemetry.capture import Capture
from tower_sentinel.telemetry.events import EXPANDERS, ErrorEvent, OperationEvent, PromptEvent


class _Queue:
    def __init__(self) -> None:
        self.queue: list = []
        self.currently_running: dict = {}

    def put(self, item):
        self.queue.append(item)


def _comfy_like_server(q: _Queue) -> SimpleNamespace:
    """ComfyUI's PromptServer as far as the hook sees it: a RouteTableDef with POST /prompt, added to the app
    later (``add_routes``, under /prompt and /api/prompt)."""
    routes = web.RouteTableDef()

    @routes.post("/prompt")
    async def post_prompt(request):
        json_data = await request.json()  # raises ValueError on a non-JSON body, as in ComfyUI
        if "prompt" not in json_data:
            return web.json_response({"error": {"type": "no_prompt", "message": "No prompt provided"},
                                      "node_errors": {}}, status=400)
        if json_data["prompt"] == "invalid":
            return web.json_response({"error": {"type": "prompt_outputs_failed_validation", "message": "bad"},
                                      "node_errors": {"4": {"class_type": "KSampler", "errors": [
                                          {"type": "value_smaller_than_min", "message": "steps < 1"}]}}},
                                     status=400)
        if "number" in json_data:
            float(json_data["number"])  # a ValueError on a "number" that is not one, as in ComfyUI
        pid = str(json_data.get("prompt_id", uuid.uuid4()))
        extra = json_data.get("extra_data", {})
        if "client_id" in json_data:
            extra["client_id"] = json_data["client_id"]  # a TypeError when extra_data is a list, as in ComfyUI
        q.put((0, pid, json_data["prompt"], extra, [], {}))
        return web.json_response({"prompt_id": pid, "number": 0, "node_errors": {}})

    @routes.get("/other")
    async def other(request):
        return web.json_response({"ok": True})

    def add_routes():
        api = web.RouteTableDef()
        for r in routes:
            api.route(r.method, "/api" + r.path)(r.handler, **r.kwargs)
        server.app.add_routes(api)
        server.app.add_routes(routes)

    server = SimpleNamespace(app=web.Application(), routes=routes, add_routes=add_routes)
    return server


def _expand(items):
    return [ev for it in items for ev in (EXPANDERS[it[0]](*it[1:]) if type(it) is tuple else [it])]


@pytest.mark.parametrize("routes_added_first", [False, True], ids=["route-handler", "middleware"])
def test_post_prompt_correlates_queues_and_rejects(rec, routes_added_first):
    q = _Queue()
    cap = Capture(instance_id="i-1", comfyui_version="0.3.75", extension_version="t")
    server = _comfy_like_server(q)
    if routes_added_first:
        server.add_routes()
    cap._attach_post(server)
    q.put = cap._wrap_put(_Queue.put).__get__(q)
    if not routes_added_first:
        server.add_routes()
    assert cap.post_hook == ("middleware" if routes_added_first else "route")
    assert len(server.app.middlewares) == (1 if routes_added_first else 0)

    async def scenario():
        client = TestClient(TestServer(server.app))
        await client.start_server()
        try:
            out = {}
            r = await client.post("/prompt", json={"prompt": {"1": {}}}, headers={"X-Correlation-ID": "abc-123"})
            out["header"] = (r.status, r.headers.get("X-Correlation-ID"), (await r.json())["prompt_id"])
            r = await client.post("/api/prompt", json={"prompt": {"1": {}}, "extra_data": {"client_id": "c"}})
            out["plain"] = (r.status, r.headers.get("X-Correlation-ID"), (await r.json())["prompt_id"])
            r = await client.post("/prompt", data=b"{not json", headers={"Content-Type": "application/json"})
            out["garbage"] = (r.status, r.headers.get("X-Correlation-ID"), r.headers.get("X-Tower-Prompt-ID"),
                              await r.json())
            r = await client.post("/prompt", json={"prompt": "invalid", "prompt_id": "mine-1",
                                                   "extra_data": {"correlation_id": "from-extra"}})
            out["invalid"] = (r.status, r.headers.get("X-Correlation-ID"), r.headers.get("X-Tower-Prompt-ID"))
            r = await client.post("/prompt", json={"prompt": "invalid", "prompt_id": "evil\r\nSet-Cookie: x=1"})
            out["evil"] = (r.status, r.headers.get("X-Tower-Prompt-ID"), "Set-Cookie" in r.headers)
            r = await client.post("/prompt", json={"prompt": {"1": {}}, "prompt_id": "bad-extra",
                                                   "extra_data": ["not", "an", "object"], "client_id": "c"})
            out["raised"] = r.status
            r = await client.post("/prompt", json={"prompt": {"1": {}}, "prompt_id": "bad-number", "number": "abc"})
            out["number"] = r.status
            r = await client.post("/prompt", json={"prompt": {"1": {}}, "prompt_id": "nl-1",
                                                   "extra_data": {"correlation_id": "abc\n"}})
            out["newline"] = (r.status, r.headers.get("X-Correlation-ID"))
            tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            seen = []
            for hdrs in ({"x-request-id": "req-7"}, {"traceparent": tp}):
                r = await client.post("/prompt", json={"prompt": {"1": {}}}, headers=hdrs)
                seen.append((r.status, r.headers.get("X-Correlation-ID")))
            out["other_headers"] = seen
            r = await client.get("/other", headers={"X-Correlation-ID": "x"})
            out["other"] = (r.status, r.headers.get("X-Correlation-ID"))
            return out
        finally:
            await client.close()

    out = asyncio.run(scenario())
    assert out["header"][:2] == (200, "abc-123")
    status, cid, pid = out["plain"]
    assert status == 200 and cid == pid  # no id sent: ComfyUI's prompt id serves
    assert [it[3]["correlation_id"] for it in q.queue[:2]] == ["abc-123", pid]
    status, cid, rejected_pid, body = out["garbage"]
    assert status == 400 and body["error"]["type"] == "invalid_json" and cid and rejected_pid
    assert out["invalid"] == (400, "from-extra", "mine-1")
    assert out["other"] == (200, None)  # other routes untouched
    # the request id and a W3C traceparent serve where there is no X-Correlation-ID
    assert out["other_headers"] == [(200, "req-7"), (200, "0af7651916cd43dd8448eb211c80319c")]
    assert [it[3]["correlation_id"] for it in q.queue[-2:]] == ["req-7", "0af7651916cd43dd8448eb211c80319c"]
    # a client's id with a trailing newline is not valid (it would break the response header): the prompt id serves
    assert out["newline"] == (200, "nl-1") and q.queue[-3][3]["correlation_id"] == "nl-1"
    assert out["evil"] == (400, None, False)  # a client's prompt id that cannot be a header is not sent back

    evs = _expand(rec.events)
    prompts = [(e.prompt_id, e.status, e.correlation_id) for e in evs if isinstance(e, PromptEvent)]
    assert prompts[:4] == [(out["header"][2], "queued", "abc-123"), (pid, "queued", pid),
                           (rejected_pid, "rejected", cid), ("mine-1", "rejected", "from-extra")]
    assert prompts[4][:2] == ("evil\r\nSet-Cookie: x=1", "rejected")  # recorded under the client's id
    # ComfyUI's handler raised on it: its answer stays aiohttp's 500, and the attempt is on record
    assert out["raised"] == 500 and prompts[5][:2] == ("bad-extra", "rejected")
    # a ValueError that is not about JSON is not called invalid JSON: ComfyUI's answer stays, and it is on record
    assert out["number"] == 500 and prompts[6][:2] == ("bad-number", "rejected")
    plain = next(e for e in evs if isinstance(e, PromptEvent) and e.prompt_id == pid)
    assert plain.client_id == "c" and plain.queue_position == 2 and plain.prompt == {"1": {}}
    errors = {e.prompt_id: e for e in evs if isinstance(e, ErrorEvent)}
    assert errors["mine-1"].node_id == "4" and errors["mine-1"].node_class == "KSampler"
    assert "steps < 1" in errors["mine-1"].message
    assert "TypeError" in errors["bad-extra"].message and errors["bad-extra"].context["http_status"] == 500
    assert "ValueError" in errors["bad-number"].message
    ops = [(e.prompt_id, e.success) for e in evs if isinstance(e, OperationEvent)
           and e.operation_type == "comfyui_queue"]
    assert ops[:4] == [(out["header"][2], True), (pid, True), (rejected_pid, False), ("mine-1", False)]
    assert not cap.errors
    json.dumps(cap.get_stats())  # health shows how it is attached


def test_correlation_from_headers_precedence_repeats_and_bad_ids():
    """What the handler wrapper reads from a request's headers (aiohttp's case-insensitive multidict, as parsed from
    the raw pairs): X-Correlation-ID, then X-Request-ID, then traceparent's trace id; any spelling of the names; the
    first of repeated headers; bad ids refused."""
    from multidict import CIMultiDict, CIMultiDictProxy
    from tower_sentinel.telemetry.capture import correlation_from_headers

    base = [(b"Host", b"127.0.0.1:8188"), (b"Content-Type", b"application/json"), (b"Content-Length", b"80")]
    tp = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    cases = [
        ([], None),
        ([(b"x-request-id", b"r-1"), (b"X-Correlation-ID", b"c-1")], "c-1"),
        ([(b"X-REQUEST-ID", b"r-2")], "r-2"),
        ([(b"traceparent", tp)], "0af7651916cd43dd8448eb211c80319c"),
        ([(b"TraceParent", tp.upper())], "0af7651916cd43dd8448eb211c80319c"),
        ([(b"X-Request-ID", b"bad id"), (b"traceparent", tp)], "0af7651916cd43dd8448eb211c80319c"),
        ([(b"X-Correlation-ID", b"first"), (b"X-Correlation-ID", b"second")], "first"),
        ([(b"X-Correlation-ID", b"<script>")], None),
        ([(b"traceparent", b"00-" + b"0" * 32 + b"-b7ad6b7169203331-01")], None),
    ]
    for extra, want in cases:
        raw = tuple(base + extra)
        headers = CIMultiDictProxy(CIMultiDict([(n.decode(), v.decode()) for n, v in raw]))
        assert correlation_from_headers(headers) == want, extra
