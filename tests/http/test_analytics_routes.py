"""The analytics routes on a bare aiohttp app: shapes, bounds, errors, access and what remote callers may see."""

from __future__ import annotations

import threading

import pytest
from _app import FakeRuntime, make_app
from tower_sentinel.telemetry.analytics import Analytics
from tower_sentinel.telemetry.store import NamedReads

REMOTE = {"X-Test-Remote": "203.0.113.5"}


async def test_success_rate_is_the_seed_query_as_json(client, store):
    """Per operation type: totals, successes and the percent, equal to the analytics core's answer."""
    r = await client.get("/tower/metrics/success-rate?window=24h")
    assert r.status == 200
    body = await r.json()
    ops = {o["operation_type"]: o for o in body["operation_types"]}
    assert set(ops) == {"comfyui_queue", "comfyui_execution", "node_execution"}
    ex = ops["comfyui_execution"]
    assert ex["total_operations"] == ex["successful_operations"] + ex["failed_operations"]
    assert ex["success_rate_percent"] == round(100 * ex["successful_operations"] / ex["total_operations"], 2)
    direct = Analytics(store).success_rate(86400, window="24h")
    assert body["operation_types"] == direct["operation_types"]


async def test_operation_type_and_instance_filter(client):
    """operation_type narrows to one type; an unknown instance gives no rows, not an error."""
    body = await (await client.get("/tower/metrics/success-rate?operation_type=comfyui_execution")).json()
    assert [o["operation_type"] for o in body["operation_types"]] == ["comfyui_execution"]
    body = await (await client.get("/tower/metrics/success-rate?instance=elsewhere:1")).json()
    assert body["operation_types"] == [] and body["overall"]["success_rate_percent"] is None


async def test_durations_separate_queue_wait_from_execution(client):
    """Durations per operation type and node class, with queue wait and execution apart."""
    r = await client.get("/tower/metrics/durations?window=2d")
    body = await r.json()
    assert r.status == 200
    classes = {n["node_class"]: n for n in body["node_classes"]}
    assert classes["TowerTestSampler"]["count"] == 36 and classes["TowerTestSampler"]["p95"] > classes["TowerTestSampler"]["p50"]
    assert classes["TowerTestLoadModel"]["cached"] == 12
    assert body["prompts"]["queue_wait"]["max"] == 0.5
    assert body["prompts"]["execution"]["count"] == 36 + 12 + 4 + 3


@pytest.mark.parametrize("query", ["window=abc", "window=0h", "window=91d", "window=1e9d", "window=-1h",
                                   "window=24", "window=%00", "window=9999999999999999999999d"])
async def test_bad_window_is_400_never_500(client, query):
    """Every malformed or unbounded window is a JSON 400 invalid_window on every analytics route."""
    for path in ("/tower/metrics/success-rate", "/tower/metrics/durations", "/tower/errors",
                 "/tower/learning/failure-analysis"):
        r = await client.get(f"{path}?{query}")
        assert r.status == 400, (path, query)
        assert (await r.json())["error"]["type"] == "invalid_window"


@pytest.mark.parametrize("path", ["/tower/errors?limit=0", "/tower/errors?limit=201", "/tower/errors?limit=x",
                                  "/tower/learning/failure-analysis?limit=51", "/tower/errors?category=DROP%20TABLE",
                                  "/tower/metrics/success-rate?operation_type=a'b", "/api/metrics/success-rate?hours=0",
                                  "/api/metrics/success-rate?hours=2161", "/api/learning/failure-analysis?days=91",
                                  "/tower/errors/" + "x" * 65, "/tower/errors/a%20b"])
async def test_bad_parameters_are_400(client, path):
    """Limits, names and ids out of bounds are 400 invalid_parameter with the JSON error shape."""
    r = await client.get(path)
    assert r.status == 400
    err = (await r.json())["error"]
    assert err["type"] == "invalid_parameter" and err["message"]


async def test_errors_and_one_error(client):
    """Most common errors by category/severity, recent ones bounded by limit, one by id, 404 for unknown."""
    body = await (await client.get("/tower/errors?window=7d&limit=3")).json()
    assert body["categories"][0] == {"category": "out_of_memory", "severity": "high", "frequency": 12}
    assert len(body["recent"]) == 3
    assert body["recent"][0]["timestamp"] >= body["recent"][1]["timestamp"]
    one = await (await client.get("/tower/errors/mm000-err")).json()
    assert one["category"] == "model_missing" and one["stack_trace"].startswith("Traceback")
    assert "/models/checkpoints/" in one["message"]
    r = await client.get("/tower/errors/nope")
    assert r.status == 404 and (await r.json())["error"]["type"] == "not_found"


async def test_remote_callers_see_no_traceback_paths_or_inputs(client):
    """Without a token a remote caller may read, but tracebacks, context, paths and inputs are withheld."""
    one = await (await client.get("/tower/errors/mm000-err", headers=REMOTE)).json()
    assert one["stack_trace"] is None and one["context"] is None
    assert "/models/" not in one["message"] and "<path>" in one["message"]
    recent = (await (await client.get("/tower/errors?category=model_missing", headers=REMOTE)).json())["recent"]
    assert recent and all("/models/" not in e["message"] for e in recent)
    fa = await (await client.get("/tower/learning/failure-analysis?window=2d", headers=REMOTE)).json()
    text = str(fa)
    assert "/models/checkpoints" not in text
    mm = next(p for p in fa["patterns"] if p["category"] == "model_missing")
    assert mm["example"]["inputs"] is None and mm["suggested_action"]["search_path"] == "missing_model.safetensors"
    local = await (await client.get("/tower/learning/failure-analysis?window=2d")).json()
    mm = next(p for p in local["patterns"] if p["category"] == "model_missing")
    assert mm["example"]["inputs"] == {"TowerTestLoadModel.ckpt_name": "missing_model.safetensors"}
    assert mm["suggested_action"]["search_path"] == "/models/checkpoints/missing_model.safetensors"


async def test_token_is_required_from_other_machines_when_configured(aiohttp_client, store):
    """With TOWER_API_TOKEN set, remote reads need the bearer token (401 otherwise); loopback never does."""
    client = await aiohttp_client(make_app(FakeRuntime(store, token="s3cret")))
    for path in ("/tower/metrics/success-rate", "/tower/learning/failure-analysis", "/tower/metrics/prometheus",
                 "/api/health", "/tower/openapi.json"):
        r = await client.get(path, headers=REMOTE)
        assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer", path
        r = await client.get(path, headers={**REMOTE, "Authorization": "Bearer wrong"})
        assert r.status == 401
        r = await client.get(path, headers={**REMOTE, "Authorization": "Bearer s3cret"})
        assert r.status == 200, path
        assert (await client.get(path)).status == 200


class _Broken(NamedReads):
    def query(self, name, params=None):
        raise OSError("database is locked")


class _ThreadSpy:
    def __init__(self, store):
        self.store, self.threads = store, set()

    def query(self, name, params=None):
        self.threads.add(threading.current_thread().name)
        return self.store.query(name, params)


async def test_store_failure_is_503_with_retry_after(aiohttp_client, store):
    """A store that raises gives 503 store_unavailable with Retry-After, never a 500 or a traceback."""
    rt = FakeRuntime(store)
    rt.reader = _Broken()
    client = await aiohttp_client(make_app(rt))
    for path in ("/tower/metrics/success-rate", "/tower/metrics/durations", "/tower/errors", "/tower/errors/x1",
                 "/tower/learning/failure-analysis", "/api/metrics/success-rate", "/api/learning/failure-analysis",
                 "/tower/generations/p1", "/tower/quality/summary"):
        r = await client.get(path)
        assert r.status == 503 and r.headers["Retry-After"] == "5", path
        body = await r.json()
        assert body["error"]["type"] == "store_unavailable" and "locked" not in str(body)
    for path, body in (("/tower/feedback", {"prompt_id": "p1", "rating": 4}),
                       ("/api/feedback", {"generation_id": "p1", "user_rating": 4})):
        r = await client.post(path, json=body)
        assert r.status == 503 and (await r.json())["error"]["type"] == "store_unavailable", path
    health = await (await client.get("/api/health")).json()
    assert health["status"] == "degraded" and health["dependencies"]["database"]["status"] == "error"


async def test_queries_run_off_the_event_loop(aiohttp_client, store):
    """Analytics queries run in executor threads, never on the thread that runs the event loop."""
    rt = FakeRuntime(store)
    rt.reader = spy = _ThreadSpy(store)
    client = await aiohttp_client(make_app(rt))
    assert (await client.get("/tower/learning/failure-analysis")).status == 200
    assert spy.threads and threading.current_thread().name not in spy.threads


async def test_seed_aliases_answer_in_the_original_shapes(client):
    """/api/health, /api/metrics/success-rate and /api/learning/failure-analysis keep the original keys."""
    h = await (await client.get("/api/health")).json()
    assert set(h) == {"status", "service", "version", "correlation_id", "timestamp", "dependencies", "metrics"}
    assert h["status"] == "healthy" and set(h["dependencies"]) == {"comfyui", "database"}
    assert 0 <= h["metrics"]["success_rate_24h"] <= 1 and h["metrics"]["circuit_breaker_state"] == "CLOSED"
    sr = await (await client.get("/api/metrics/success-rate?hours=48")).json()
    assert sr["period_hours"] == 48 and sr["success_rate"] == round(36 / 55, 4)
    fa = await (await client.get("/api/learning/failure-analysis?days=7")).json()
    assert {"operation_type", "analysis_period_days", "failure_patterns", "error_categories",
            "recommendations"} <= set(fa)
    assert fa["analysis_period_days"] == 7
    top = fa["failure_patterns"][0]
    assert top["frequency"] == 12 and top["error_details"]["category"] == "out_of_memory"
    assert fa["error_categories"][0] == {"category": "out_of_memory", "frequency": 12}
    assert all(isinstance(x, str) for x in fa["recommendations"])


async def test_seed_health_reports_the_worst_breaker(aiohttp_client, store):
    """circuit_breaker_state is the worst breaker in the original's spelling."""
    class Br:
        def __init__(self, state):
            self.state = state

        def get_stats(self):
            return {"state": self.state}

    rt = FakeRuntime(store)
    rt.components["breakers"] = {"echo_brain": Br("half_open"), "kb": Br("open")}
    client = await aiohttp_client(make_app(rt))
    h = await (await client.get("/api/health")).json()
    assert h["metrics"]["circuit_breaker_state"] == "OPEN"
