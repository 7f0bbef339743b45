"""``POST /tower/generate``, the seed's ``/api/generate-enhanced``, the outbox routes and ``TowerEchoBrainPrompt`` on a
real ComfyUI, against our fake Echo Brain and KB misbehaving on command.

One ComfyUI for the module (short breaker, outbox and budget settings through the environment); the fakes run on
their own loop in a background thread. Tests run in file order and each leaves both services healthy with closed
breakers (``_recover``), so they can also run alone.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.echo_brain import FakeEchoBrain, fake_enhance  # noqa: E402
from fakes.kb import FakeKB  # noqa: E402
from fakes.threaded import LoopThread, WebSocketListener  # noqa: E402
from harness import ComfyServer, Graph, http  # noqa: E402

SHEET = "Sakura: pink hair, green eyes, red qipao, ninja headband"


@pytest.fixture(scope="module")
def env():
    lt = LoopThread()

    async def make():
        echo, kb = FakeEchoBrain(), FakeKB()
        await echo.start()
        await kb.start()
        kb.add_article("Sakura character sheet", SHEET, category="character")
        await kb.stop_listening()  # the KB is down when ComfyUI starts: its first report has to wait
        return echo, kb

    echo, kb = lt.run(make())
    comfy = ComfyServer(env={
        "ECHO_BRAIN_URL": echo.url, "TOWER_KB_URL": kb.base_url,
        "TOWER_ECHO_TIMEOUT_S": "1", "TOWER_KB_TIMEOUT_S": "1", "TOWER_ENHANCE_BUDGET_S": "3",
        "TOWER_BREAKER_OPEN_WAIT_S": "1", "TOWER_OUTBOX_BASE_DELAY_S": "0.2", "TOWER_OUTBOX_MAX_DELAY_S": "1",
        "TOWER_OUTBOX_POLL_S": "0.3", "TOWER_KB_REPORT_FIRST_RUN_S": "0.5", "TOWER_KB_REPORT_INTERVAL_S": "3600",
    })
    comfy.start()
    ws = WebSocketListener(lt, comfy.url.replace("http", "ws") + "/ws?clientId=tower-test", ("tower.breaker",))
    try:
        yield {"comfy": comfy, "echo": echo, "kb": kb, "lt": lt, "ws": ws}
    finally:
        ws.close()
        comfy.stop()
        lt.run(echo.close())
        lt.run(kb.close())
        lt.stop()


def _graph(tag: str | None = None) -> dict[str, Any]:
    """Testing nodes only: an image saved under a templated prefix, and the (enhanced) prompt shown as text."""
    g = Graph()
    img = g.add("TowerTestImage", width=8, height=8, batch_size=1, kind="gradient", seed=0)
    g.add("SaveImage", images=g.out(img), filename_prefix=f"tower_gen_{tag or uuid.uuid4().hex[:8]}_{{{{steps}}}}")
    g.add("TowerTestText", text="{{prompt}}")
    return g.prompt()


def _gen(comfy: ComfyServer, prompt: str = "a quiet harbour", **body: Any) -> Any:
    body = {"prompt": prompt, "workflow": _graph(), "quality_level": "low", **body}
    return comfy.post("/tower/generate", body, timeout=60)


def _check(comfy: ComfyServer, name: str) -> dict[str, Any]:
    return comfy.get("/tower/health").json()["checks"][name]


def _until(fn, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


def _recover(env: dict[str, Any], dep: str = "echo_brain") -> None:
    """Drive requests (the probes) until the dependency's breaker is closed and a generation is not degraded."""
    comfy = env["comfy"]
    body = {"character": "Sakura"} if dep == "kb" else {}

    def healthy() -> bool:
        r = _gen(comfy, **body)
        assert r.status == 200, r.body
        return dep not in r.json()["degraded"] and _check(comfy, dep)["state"] == "closed"

    _until(healthy, 60, f"{dep} recovered", every=0.2)


def _outbox(comfy: ComfyServer, status: str) -> list[dict[str, Any]]:
    r = comfy.get(f"/tower/outbox?status={status}")
    assert r.status == 200, r.body
    return r.json()["items"]


def test_kb_report_waits_while_kb_refuses_and_is_delivered_after(env):
    """The daily failure report is stored first and waits while the KB refuses connections (health shows the KB
    breaker open and the item pending); once the KB listens again it arrives exactly once, as a learning-analysis
    article with the seed's tags and an Idempotency-Key."""
    comfy, kb, lt = env["comfy"], env["kb"], env["lt"]
    pending = _until(lambda: [i for i in _outbox(comfy, "pending") if i["kind"] == "kb_article" and i["attempts"]],
                     30, "a failed report delivery")
    assert pending[0]["idempotency_key"].startswith("kb_failure_report:")
    assert pending[0]["last_error"]
    _until(lambda: _check(comfy, "kb")["state"] in ("open", "half_open"), 30, "kb breaker open")
    assert _check(comfy, "kb")["status"] == "degraded"
    assert _check(comfy, "outbox")["pending"] >= 1

    lt.run(kb.resume_listening())
    _until(lambda: not [i for i in _outbox(comfy, "pending") if i["kind"] == "kb_article"], 60, "outbox drained")
    reports = [a for a in kb.articles if a["category"] == "learning-analysis"]
    assert len(reports) == 1
    assert reports[0]["tags"] == ["anime-production", "failure-analysis", "learning"]
    assert reports[0]["content"].startswith("# ComfyUI failure analysis")
    posts = [r for r in kb.requests if r.method == "POST"]
    assert {r.headers.get("Idempotency-Key") for r in posts} == {pending[0]["idempotency_key"]}
    _recover(env, "kb")


def test_generate_enhances_with_the_character_sheet_and_queues_here(env):
    """With both services up, the prompt is rewritten by Echo Brain (the KB's sheet in the question), the filled
    graph is queued in this ComfyUI with the request's correlation id, recorded, and the calls are recorded as
    echo_brain_request/kb_request operations."""
    comfy, echo = env["comfy"], env["echo"]
    cid = uuid.uuid4().hex
    r = comfy.post("/tower/generate", {"prompt": "a quiet harbour", "character": "Sakura", "quality_level": "high",
                                       "workflow": _graph(), "user_id": "u1"},
                   headers={"X-Correlation-ID": cid})
    assert r.status == 200, r.body
    body = r.json()
    assert body["correlation_id"] == cid and body["degraded"] == []
    assert body["enhanced_prompt"] == fake_enhance("a quiet harbour")
    asked = [q for q in echo.requests if q.path == "/api/echo/ask" and q.headers.get("X-Correlation-ID") == cid]
    assert asked and SHEET in asked[-1].body["question"]
    rec = comfy.wait_recorded(body["prompt_id"])
    assert rec["status"] == "success" and rec["correlation_id"] == cid
    assert rec["inputs"]["TowerTestText.text"] == body["enhanced_prompt"]
    assert rec["inputs"]["SaveImage.filename_prefix"].endswith("_25")  # high = 25 steps
    ops = comfy.get("/tower/metrics/success-rate?window=1h").json()["operation_types"]
    assert {"echo_brain_request", "kb_request"} <= {o["operation_type"] for o in ops}


def test_legacy_echo_brain_enhances_through_the_older_api(env):
    """A server that speaks only the older API (404 on /api/echo/ask) is detected and used: its refine endpoint's
    prompt and negative prompt come back; the 404s do not count against the breaker."""
    comfy, echo, lt = env["comfy"], env["echo"], env["lt"]
    lt.call(lambda: setattr(echo, "legacy", True))
    try:
        r = _gen(comfy, "a rooftop chase", character="Sakura")
        assert r.status == 200, r.body
        body = r.json()
        assert body["degraded"] == []
        assert body["enhanced_prompt"] == "a rooftop chase, Sakura, refined anime style"
        assert body["negative_prompt"] == "legacy negative, lowres"
        assert _check(comfy, "echo_brain")["api"] == "legacy"
        assert _check(comfy, "echo_brain")["state"] == "closed"
    finally:
        lt.call(lambda: setattr(echo, "legacy", False))
    _recover(env)


def _misbehave(mode: str, **kw: Any):
    return lambda e: e["lt"].call(lambda: e["echo"].misbehave(mode, **kw))


FAULTS = [
    ("503 with Retry-After", _misbehave("status", status=503, retry_after=3), None),
    ("timeout", _misbehave("hang"), None),
    ("refused", lambda e: e["lt"].run(e["echo"].stop_listening()), lambda e: e["lt"].run(e["echo"].resume_listening())),
    ("slow", _misbehave("slow", delay=0.9), None),
    ("error-fallback with 200", _misbehave("error"), None),
    ("garbage", _misbehave("garbage"), None),
]


@pytest.mark.parametrize("name,fault,heal", FAULTS, ids=[f[0] for f in FAULTS])
def test_echo_brain_fault_degrades_opens_breaker_and_recovers(env, name, fault, heal):
    """Every generation request succeeds while Echo Brain misbehaves (degraded lists it, except slow answers that
    still arrive); the breaker opens within a few requests (health and a websocket tower.breaker event show it);
    an open breaker rejects at once; after the fake recovers the breaker closes through HALF_OPEN."""
    comfy, ws = env["comfy"], env["ws"]
    seen = len(ws.of("tower.breaker"))
    fault(env)
    try:
        answers = []
        for _ in range(8):
            r = _gen(comfy)
            assert r.status == 200, r.body
            answers.append(r.json())
            if _check(comfy, "echo_brain")["state"] == "open":
                break
        check = _check(comfy, "echo_brain")
        assert check["state"] == "open" and check["status"] == "degraded", (name, check)
        assert len(answers) <= 5, f"{name}: breaker opened only after {len(answers)} requests"
        if name != "slow":
            assert all("echo_brain" in a["degraded"] for a in answers)
        if name == "503 with Retry-After":
            assert check["retry_after"] > 1.5  # the service's Retry-After (3 s) is the floor of a 1 s wait
        t0 = time.perf_counter()
        r = _gen(comfy)
        route_s = time.perf_counter() - t0
        rejected = r.json()
        assert rejected["degraded"] == ["echo_brain"]
        assert rejected["dependencies"]["echo_brain"]["status"] == "unavailable"
        assert rejected["dependencies"]["echo_brain"]["duration_s"] < 0.05
        print(f"\n{name}: opened after {len(answers)} requests; rejected in "
              f"{rejected['dependencies']['echo_brain']['duration_s'] * 1e3:.2f} ms (whole route {route_s * 1e3:.1f} ms)")
        _until(lambda: any(m["name"] == "echo_brain" and m["state"] == "open"
                           for m in ws.of("tower.breaker")[seen:]), 10, "tower.breaker open on the websocket")
    finally:
        env["lt"].call(env["echo"].behave)
        if heal:
            heal(env)
    _recover(env)
    states = [m["state"] for m in ws.of("tower.breaker")[seen:] if m["name"] == "echo_brain"]
    assert states[-2:] == ["half_open", "closed"], states


def test_feedback_waits_in_the_outbox_while_echo_brain_is_down_and_none_is_lost(env):
    """Ratings forwarded to Echo Brain while it refuses connections are kept in the outbox; after it returns, all
    of them are delivered exactly once and nothing stays pending."""
    comfy, echo, lt = env["comfy"], env["echo"], env["lt"]
    pid = comfy.run(_graph_plain())["prompt_id"]
    before = len(echo.learned)
    lt.run(echo.stop_listening())
    try:
        for rating in (1, 3, 5):
            r = comfy.post("/tower/feedback", {"prompt_id": pid, "rating": rating, "comment": f"rated {rating}"})
            assert r.status in (200, 201), r.body
        _until(lambda: len([i for i in _outbox(comfy, "pending") if i["kind"] == "echo_feedback"]) >= 3, 20,
               "3 feedback items pending")
    finally:
        lt.run(echo.resume_listening())
    _until(lambda: not [i for i in _outbox(comfy, "pending") if i["kind"] == "echo_feedback"], 60, "outbox drained")
    learned = echo.learned[before:]
    assert sorted(f"rated {n}" in str(x) for n in (1, 3, 5) for x in learned).count(True) == 3
    assert len(learned) == 3
    _recover(env)


def _graph_plain() -> dict[str, Any]:
    g = Graph()
    g.add("TowerTestSucceed", value=int(time.time() * 1000) % 10**9)
    return g.prompt()


def test_refused_feedback_becomes_a_dead_letter_and_retry_delivers_it(env):
    """An item the service refuses with a 4xx is a dead letter at once (health: outbox degraded); POST
    /tower/outbox/{id}/retry delivers it after the service is fixed, a second retry is 409, an unknown id 404."""
    comfy, echo, lt = env["comfy"], env["echo"], env["lt"]
    pid = comfy.run(_graph_plain())["prompt_id"]
    lt.call(lambda: echo.misbehave("status", status=400))
    try:
        assert comfy.post("/tower/feedback", {"prompt_id": pid, "rating": 2, "comment": "dead letter"}).status < 300
        dead = _until(lambda: [i for i in _outbox(comfy, "dead") if "dead letter" in str(i["payload"])], 20,
                      "a dead letter")[0]
    finally:
        lt.call(echo.behave)
    check = _check(comfy, "outbox")
    assert check["status"] == "degraded" and check["dead"] >= 1
    assert comfy.post(f"/tower/outbox/{uuid.uuid4().hex}/retry", {}).status == 404
    r = comfy.post(f"/tower/outbox/{dead['id']}/retry", {})
    assert r.status == 202, r.body
    _until(lambda: any(i["id"] == dead["id"] for i in _outbox(comfy, "delivered")), 20, "redelivered")
    r = comfy.post(f"/tower/outbox/{dead['id']}/retry", {})
    assert r.status == 409 and r.json()["error"]["type"] == "already_delivered"
    assert comfy.get("/tower/outbox?status=bogus").status == 400


def test_missing_template_is_404_naming_it(env):
    """A workflow name with no template in the user or shipped folders is a 404 that names it."""
    r = env["comfy"].post("/tower/generate", {"prompt": "x", "workflow": "no_such_template"})
    assert r.status == 404, r.body
    err = r.json()["error"]
    assert err["type"] == "template_not_found" and "no_such_template" in err["message"]
    assert isinstance(err["degraded"], list)


def test_missing_model_is_422_naming_the_checkpoint_and_still_lists_degraded(env):
    """The shipped txt2img template on a ComfyUI without checkpoints is a 422 naming the missing checkpoint, and
    still lists Echo Brain as degraded when it was down for this request."""
    comfy, echo, lt = env["comfy"], env["echo"], env["lt"]
    lt.call(lambda: echo.misbehave("status", status=503, times=3))
    try:
        r = comfy.post("/tower/generate", {"prompt": "a forest shrine"})
    finally:
        lt.call(echo.behave)
    assert r.status == 422, r.body
    err = r.json()["error"]
    assert err["type"] == "missing_model"
    assert "epicrealism_v5.safetensors" in err["message"]
    assert err["missing"][0]["kind"] == "checkpoint"
    assert err["missing"][0]["name"] == "epicrealism_v5.safetensors"
    assert err["degraded"] == ["echo_brain"]


def test_generate_enhanced_alias_waits_and_answers_the_real_output_file(env):
    """The seed's POST /api/generate-enhanced waits for the outcome and answers the file ComfyUI really saved
    (as in /history and on disk), with the enhanced prompt and timings."""
    comfy = env["comfy"]
    tag = uuid.uuid4().hex[:8]
    r = comfy.post("/api/generate-enhanced", {"prompt": "magical battle scene", "character": "Sakura",
                                              "scene_type": "battle", "style": "cel shading", "duration": 3,
                                              "quality_level": "high", "user_id": "test_user",
                                              "workflow": _graph(tag)}, timeout=120)
    assert r.status == 200, r.body
    body = r.json()
    assert body["status"] == "completed"
    assert body["prompt"] == "magical battle scene, battle, cel shading"
    assert body["metadata"]["enhanced_prompt"] == fake_enhance(body["prompt"])
    hist = comfy.get(f"/history/{body['generation_id']}").json()[body["generation_id"]]
    saved = [im for o in hist["outputs"].values() for im in o.get("images", [])]
    assert body["output_file"] == saved[0]["filename"]
    assert body["output_file"].startswith(f"tower_gen_{tag}_25")
    assert (comfy.base_dir / "output" / body["output_file"]).is_file()
    assert body["generation_time"] is not None and body["correlation_id"]


def test_echo_brain_prompt_node_enhances_inside_a_graph(env):
    """TowerEchoBrainPrompt hands Echo Brain's rewrite on (enhanced true) from inside a running prompt."""
    comfy = env["comfy"]
    g = Graph()
    n = g.add("TowerEchoBrainPrompt", prompt=f"a lighthouse at dusk {uuid.uuid4().hex[:6]}", character="")
    g.add("TowerTestText", text=g.out(n, 0), flag=g.out(n, 2))
    prompt = g.prompt()
    rec = comfy.run(prompt)
    assert rec["status"] == "success", rec
    out = http("GET", f"{comfy.url}/history/{rec['prompt_id']}").json()[rec["prompt_id"]]["outputs"]
    shown = next(o for o in out.values() if "text" in o)
    assert shown["text"] == [fake_enhance(prompt["1"]["inputs"]["prompt"])]
    assert shown["flag"] == [True]
