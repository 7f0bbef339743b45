"""The flight recorder inside a real ComfyUI: every prompt's fate, correlation ids, node timings, garbage."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

import pytest
from harness import ComfyServer, Graph


def _db(comfy) -> sqlite3.Connection:
    conn = sqlite3.connect(comfy.data_dir / "tower_sentinel.sqlite3")
    conn.row_factory = sqlite3.Row
    return conn


def _ok_graph(value: int) -> dict:
    g = Graph()
    g.add("TowerTestSucceed", value=value)
    return g.prompt()


def _raise_graph(value: int) -> dict:
    g = Graph()
    g.add("TowerTestRaise", message="boom from the testing pack", value=value)
    return g.prompt()


def _sleep_graph(seconds: float, value: int) -> dict:
    g = Graph()
    g.add("TowerTestSleep", seconds=seconds, value=value)
    return g.prompt()


def _wait_status(comfy, pid: str, status: str, timeout: float = 30.0) -> dict:
    return comfy.wait_recorded(pid, timeout=timeout, statuses={status})


def test_mix_of_outcomes_gives_exactly_one_record_each(comfy):
    """N successes, M failures, K rejections and one interrupt give exactly N+M+K+1 prompt records, right status,
    category and failing node each, and a seed-table row per outcome."""
    tag = f"mix-{uuid.uuid4().hex[:8]}"
    ids = {"success": [], "error": [], "rejected": [], "interrupted": []}
    for i in range(4):
        r = comfy.queue(_ok_graph(1000 + i), headers={"X-Correlation-ID": f"{tag}-ok-{i}"})
        assert r.status == 200
        ids["success"].append(r.json()["prompt_id"])
    for i in range(3):
        r = comfy.queue(_raise_graph(i), headers={"X-Correlation-ID": f"{tag}-err-{i}"})
        assert r.status == 200
        ids["error"].append(r.json()["prompt_id"])
    bad_class = {"1": {"class_type": "NoSuchNodeAnywhere", "inputs": {}}}
    bad_input = {"1": {"class_type": "TowerTestSleep", "inputs": {"seconds": -5.0, "value": 1}}}
    no_output = {"1": {"class_type": "TowerTestImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                                  "kind": "flat", "seed": 0}}}
    for i, p in enumerate((bad_class, bad_input, no_output)):
        r = comfy.queue(p, headers={"X-Correlation-ID": f"{tag}-rej-{i}"})
        assert r.status == 400, r.body
        ids["rejected"].append(r.headers["X-Tower-Prompt-ID"])
    r = comfy.queue(_sleep_graph(30, 7), headers={"X-Correlation-ID": f"{tag}-int-0"})
    pid = r.json()["prompt_id"]
    ids["interrupted"].append(pid)
    _wait_status(comfy, pid, "running")
    assert comfy.post("/interrupt", {}).status == 200
    for status, pids in ids.items():
        for p in pids:
            rec = comfy.wait_recorded(p)
            assert rec["status"] == status, (status, rec)

    with _db(comfy) as db:
        rows = db.execute("SELECT * FROM tower_prompts WHERE correlation_id LIKE ?", (f"{tag}-%",)).fetchall()
        assert len(rows) == 4 + 3 + 3 + 1
        by_status = {}
        for row in rows:
            by_status.setdefault(row["status"], []).append(row)
        assert {k: len(v) for k, v in by_status.items()} == {"success": 4, "error": 3, "rejected": 3, "interrupted": 1}
        for row in by_status["error"]:
            assert row["failing_node_id"] == "1" and row["failing_node_class"] == "TowerTestRaise"
            assert row["category"] == "generation"
        assert {row["category"] for row in by_status["rejected"]} == {"validation"}
        assert by_status["interrupted"][0]["category"] == "interrupted"
        errors = db.execute("SELECT category, node_class, exception_type, message FROM anime_error_logs "
                            "WHERE correlation_id LIKE ?", (f"{tag}-%",)).fetchall()
        assert len(errors) == 3 + 3 + 1  # one per failed, rejected or interrupted prompt
        raised = [e for e in errors if e["node_class"] == "TowerTestRaise"]
        assert len(raised) == 3 and all(e["exception_type"] == "RuntimeError" for e in raised)
        assert all("boom from the testing pack" in e["message"] for e in raised)
        ops = db.execute("SELECT operation_type, success, COUNT(*) n FROM anime_operation_metrics WHERE correlation_id "
                         "LIKE ? AND operation_type IN ('comfyui_queue','comfyui_execution') GROUP BY 1, 2",
                         (f"{tag}-%",)).fetchall()
        counts = {(o["operation_type"], bool(o["success"])): o["n"] for o in ops}
        assert counts == {("comfyui_queue", True): 8, ("comfyui_queue", False): 3,
                          ("comfyui_execution", True): 4, ("comfyui_execution", False): 4}


def test_error_route_shows_node_and_traceback_to_loopback(comfy):
    """A failing prompt's record names the failing node, exception and message; loopback sees the traceback."""
    r = comfy.queue(_raise_graph(42))
    rec = comfy.wait_recorded(r.json()["prompt_id"])
    assert rec["status"] == "error"
    err = rec["error"]
    assert err["exception_type"] == "RuntimeError"
    assert err["node_id"] == "1" and err["node_class"] == "TowerTestRaise"
    assert "value 42" in err["message"]
    assert "Traceback" in (err["stack_trace"] or "") or "RuntimeError" in (err["stack_trace"] or "")


def test_node_timings_and_cached_nodes(comfy):
    """Per-node durations are recorded; a rerun of the same prompt marks its nodes as cached."""
    g = Graph()
    img = g.add("TowerTestImage", width=64, height=64, batch_size=1, kind="gradient", seed=4242)
    g.add("TowerTestSleep", seconds=0.05, value=4242)
    g.add("PreviewImage", images=g.out(img))
    first = comfy.run(g.prompt())
    assert first["status"] == "success"
    timed = {n["node_id"]: n for n in first["nodes"]}
    assert set(timed) == {"1", "2", "3"}
    assert all(not n["cached"] for n in timed.values())
    assert timed["2"]["duration_seconds"] >= 0.05
    assert timed["2"]["node_class"] == "TowerTestSleep"
    second = comfy.run(g.prompt())
    cached = {n["node_id"] for n in second["nodes"] if n["cached"]}
    assert {"1", "2"} <= cached
    assert second["queue_wait_seconds"] is not None and second["execution_seconds"] is not None


def test_correlation_id_flows_to_records_logs_and_response(comfy):
    """X-Correlation-ID: abc-123 comes back in the header and is in the prompt's records and its JSON log line."""
    cid = f"abc-123-{uuid.uuid4().hex[:6]}"
    r = comfy.queue(_ok_graph(123), headers={"X-Correlation-ID": cid})
    assert r.headers["X-Correlation-ID"] == cid
    rec = comfy.wait_recorded(r.json()["prompt_id"])
    assert rec["correlation_id"] == cid
    with _db(comfy) as db:
        n_ops = db.execute("SELECT COUNT(*) FROM anime_operation_metrics WHERE correlation_id = ?", (cid,)).fetchone()[0]
    assert n_ops >= 2
    log = comfy.data_dir / "tower_sentinel.log.jsonl"
    deadline = time.monotonic() + 10
    lines = []
    while time.monotonic() < deadline:
        lines = [json.loads(ln) for ln in log.read_text().splitlines() if cid in ln]
        if lines:
            break
        time.sleep(0.05)
    events = {ln["event"] for ln in lines}
    assert "tower.prompt.finished" in events
    assert all(ln["correlation_id"] == cid and ln["prompt_id"] == rec["prompt_id"] for ln in lines)


@pytest.mark.parametrize("header,expect_same", [("traceparent", True), ("X-Request-ID", True)])
def test_other_correlation_sources(comfy, header, expect_same):
    """traceparent's trace id and X-Request-ID are accepted as the correlation id."""
    if header == "traceparent":
        trace = uuid.uuid4().hex
        value, expected = f"00-{trace}-{uuid.uuid4().hex[:16]}-01", trace
    else:
        value = expected = f"req-{uuid.uuid4().hex[:8]}"
    r = comfy.queue(_ok_graph(5), headers={header: value})
    assert r.headers["X-Correlation-ID"] == expected
    assert comfy.wait_recorded(r.json()["prompt_id"])["correlation_id"] == expected


def test_garbage_gets_normal_answers_and_clean_records(comfy):
    """Malformed extra_data, a huge or hostile correlation id, a non-JSON body and a 10,000-node prompt get
    ComfyUI's answer (or a 400), a clean record, and ComfyUI keeps serving."""
    hostile = "x" * 5_000  # aiohttp itself refuses header lines over 8190 bytes
    r = comfy.queue(_ok_graph(9), headers={"X-Correlation-ID": hostile})
    assert r.status == 200
    assert r.headers["X-Correlation-ID"] != hostile and len(r.headers["X-Correlation-ID"]) <= 128
    r = comfy.queue(_ok_graph(10), headers={"X-Correlation-ID": "<script>alert(1)</script>"})
    assert "<" not in r.headers["X-Correlation-ID"]
    assert comfy.wait_recorded(r.json()["prompt_id"])["status"] == "success"
    r = comfy.post("/prompt", {"prompt": _ok_graph(11), "extra_data": {"correlation_id": {"nested": [1, 2]}}})
    assert r.status == 200
    assert comfy.wait_recorded(r.json()["prompt_id"])["status"] == "success"
    r = comfy.post("/prompt", {"prompt": _ok_graph(12), "extra_data": {"correlation_id": "mine-12",
                                                                       "api_key_comfy_org": "sk-secret-value"}})
    assert r.headers["X-Correlation-ID"] == "mine-12"
    rec = comfy.wait_recorded(r.json()["prompt_id"])
    # an extra_data that is not an object makes ComfyUI's own handler raise: its answer (a 500) stays, and the
    # attempt is recorded as rejected under the prompt id the client sent
    r = comfy.post("/prompt", {"prompt": _ok_graph(14), "prompt_id": "tower-bad-extra-14", "client_id": "c",
                               "extra_data": ["not", "an", "object"]})
    assert r.status == 500
    assert comfy.wait_recorded("tower-bad-extra-14")["status"] == "rejected"
    raw = comfy.post("/prompt", raw=b"this is not json {", headers={"Content-Type": "application/json"})
    assert raw.status == 400 and raw.json()["error"]["type"] == "invalid_json"
    assert comfy.wait_recorded(raw.headers["X-Tower-Prompt-ID"])["status"] == "rejected"
    big = Graph()  # 9,999 nodes ComfyUI validates but need not run, and one output node
    for i in range(9_999):
        big.add("TowerTestImage", width=8, height=8, batch_size=1, kind="flat", seed=i)
    big.add("TowerTestSucceed", value=10_000)
    t0 = time.monotonic()
    r = comfy.queue(big.prompt())
    assert r.status == 200
    rec = comfy.wait_recorded(r.json()["prompt_id"], timeout=120)
    assert rec["status"] == "success" and rec["node_count"] == 10_000
    assert time.monotonic() - t0 < 120
    assert comfy.run(_ok_graph(13))["status"] == "success"
    db_text = (comfy.data_dir / "tower_sentinel.sqlite3").read_bytes()
    assert b"sk-secret-value" not in db_text
    assert "sk-secret-value" not in comfy.log_text()
    assert "sk-secret-value" not in (comfy.data_dir / "tower_sentinel.log.jsonl").read_text()


def test_sigkill_mid_prompt_marks_it_crashed_after_restart(tmp_path):
    """ComfyUI killed with SIGKILL while a slow prompt runs: after restart it is `crashed`; earlier records stay,
    and so does the timing of the node that finished before the kill (a prompt past 50 ms hands its node timings
    over as they finish)."""
    server = ComfyServer(base_dir=tmp_path / "base").start()
    try:
        done = server.run(_ok_graph(1))
        assert done["status"] == "success"
        g = Graph()
        first = g.add("TowerTestSleep", seconds=0.3, value=2)
        g.add("TowerTestSleep", seconds=120, value=Graph.out(first))
        r = server.queue(g.prompt(), headers={"X-Correlation-ID": "crash-me"})
        slow = r.json()["prompt_id"]
        deadline = time.monotonic() + 30
        while True:  # running, with the first node's timing stored
            rec = server.get(f"/tower/generations/{slow}").json()
            if rec.get("status") == "running" and any(n["node_id"] == first for n in rec.get("nodes") or []):
                break
            assert time.monotonic() < deadline, rec
            time.sleep(0.05)
        server.kill()
        server.start()
        rec = server.wait_recorded(slow)
        assert rec["status"] == "crashed" and rec["category"] == "crashed"
        assert rec["correlation_id"] == "crash-me"
        timed = [n for n in rec["nodes"] if n["node_id"] == first]
        assert len(timed) == 1 and timed[0]["duration_seconds"] >= 0.3 and timed[0]["node_class"] == "TowerTestSleep"
        assert server.get(f"/tower/generations/{done['prompt_id']}").json()["status"] == "success"
    finally:
        server.stop()


def test_prompt_deleted_from_the_queue_is_cancelled(comfy):
    """A prompt removed from the queue before it ran (`POST /queue {"delete": [...]}`) is recorded `cancelled` with
    its correlation id, and the prompt that was running is unaffected."""
    tag = uuid.uuid4().hex[:8]
    slow = comfy.queue(_sleep_graph(30, 7), headers={"X-Correlation-ID": f"{tag}-slow"}).json()["prompt_id"]
    _wait_status(comfy, slow, "running")
    waiting = comfy.queue(_ok_graph(4242), headers={"X-Correlation-ID": f"{tag}-gone"}).json()["prompt_id"]
    assert comfy.post("/queue", {"delete": [waiting]}).status == 200
    rec = _wait_status(comfy, waiting, "cancelled")
    assert rec["correlation_id"] == f"{tag}-gone"
    assert comfy.post("/interrupt", {}).status == 200
    assert _wait_status(comfy, slow, "interrupted")["correlation_id"] == f"{tag}-slow"


def test_api_prompt_path_is_captured_like_prompt(comfy):
    """ComfyUI's frontend posts to /api/prompt (ComfyUI copies each route under /api): same header, same record,
    and a rejection there is recorded too."""
    tag = f"api-{uuid.uuid4().hex[:8]}"
    r = comfy.post("/api/prompt", {"prompt": _ok_graph(77)}, headers={"X-Correlation-ID": tag})
    assert r.status == 200 and r.headers["X-Correlation-ID"] == tag
    assert comfy.wait_recorded(r.json()["prompt_id"])["correlation_id"] == tag
    bad = comfy.post("/api/prompt", {"prompt": {"1": {"class_type": "NoSuchNode", "inputs": {}}}},
                     headers={"X-Correlation-ID": f"{tag}-bad"})
    assert bad.status == 400
    rec = comfy.wait_recorded(bad.headers["X-Tower-Prompt-ID"])
    assert (rec["status"], rec["correlation_id"]) == ("rejected", f"{tag}-bad")
