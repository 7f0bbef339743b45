"""The worker-thread hooks without a server: what they hand the writer, and what the writer builds from it.

Inside ComfyUI these run on the prompt worker for every prompt, so they must allocate as little as they can: each
object that outlives a few milliseconds pushes the process (hundreds of thousands of objects with torch loaded)
toward a full garbage collection. The end-to-end behaviour is covered in tests/comfy/test_capture.py."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest
from tower_sentinel.telemetry import context
from tower_sentinel.telemetry.capture import Capture
from tower_sentinel.telemetry.events import EXPANDERS, ErrorEvent, OperationEvent, PromptEvent

from ._recorders import FakeRecorder


class _Registry:
    def __init__(self, graph) -> None:
        self.dynprompt = SimpleNamespace(get_node=lambda nid: graph[nid])


@pytest.fixture()
def rec():
    r = FakeRecorder()
    context.set_recorder(r)
    yield r
    context.set_recorder(None)
    context.set_current_prompt(None)


def _expand(items):
    return [ev for it in items for ev in EXPANDERS[it[0]](*it[1:])]


def _status(outcome: str, **error):
    msgs = [("execution_start", {"timestamp": 1_000}), ("execution_cached", {"nodes": []})]
    if outcome == "success":
        msgs.append(("execution_success", {"timestamp": 1_500}))
    else:
        msgs.append(("execution_error", {"timestamp": 1_250, **error}))
    return SimpleNamespace(status_str=outcome, messages=msgs)


def test_hooks_hand_over_flat_tuples_and_reuse_their_state(rec):
    """A successful prompt: `running`, one node timing and the outcome reach the writer as (code, *args) tuples;
    those with only clock readings and ids are untracked by the garbage collector; the per-prompt state objects
    are the same ones for the next prompt; the writer builds the usual events from them."""
    cap = Capture(instance_id="i-1", comfyui_version="0.3.75", extension_version="t")
    graph = {"1": {"class_type": "TowerTestSucceed", "inputs": {"value": 3}}}
    run, starts, done = cap._run, cap._node_starts, cap._node_done
    for pid in ("p-1", "p-2"):
        rec.events.clear()
        item = (0, pid, graph, {"correlation_id": f"c-{pid}", "client_id": "cl-1"}, ["1"])
        cap._started(item)
        ctx = context.current_prompt()
        assert (ctx.prompt_id, ctx.correlation_id, ctx.instance_id, ctx.client_id) == (pid, f"c-{pid}", "i-1", "cl-1")
        reg = _Registry(graph)
        cap._node_start("1", pid, reg)
        cap._node_finish("1", pid, reg)
        cap._finished(item, _status("success"), {"outputs": {}})
        assert cap._run is run and cap._node_starts is starts and cap._node_done is done
        assert len(rec.events) == 3 and all(type(it) is tuple for it in rec.events)
        gc.collect()
        running, node, _outcome = rec.events
        assert not gc.is_tracked(running) and not gc.is_tracked(node)
        evs = _expand(rec.events)
        prompts = [e for e in evs if isinstance(e, PromptEvent)]
        ops = {e.operation_type: e for e in evs if isinstance(e, OperationEvent)}
        assert [p.status for p in prompts] == ["running", "success"]
        assert all(p.correlation_id == f"c-{pid}" and p.client_id == "cl-1" for p in prompts)
        assert prompts[1].execution_seconds == pytest.approx(0.5)
        assert ops["node_execution"].node_class == "TowerTestSucceed" and ops["node_execution"].duration_seconds >= 0
        assert ops["comfyui_execution"].success is True and ops["comfyui_execution"].prompt_id == pid


def test_failing_node_gets_its_timing_and_the_error_its_inputs(rec):
    """A node that started and raised: the outcome carries its timing (success false) and the error row the
    prompt's scalar inputs, both taken from what the hooks handed over."""
    cap = Capture(instance_id="i-1", comfyui_version="0.3.75", extension_version="t")
    graph = {"1": {"class_type": "TowerTestSucceed", "inputs": {"value": 3}},
             "2": {"class_type": "TowerTestFail", "inputs": {"message": "boom", "x": ["1", 0]}}}
    item = (0, "p-9", graph, {"correlation_id": "c-9"}, ["2"])
    cap._started(item)
    reg = _Registry(graph)
    cap._node_start("1", "p-9", reg)
    cap._node_finish("1", "p-9", reg)
    cap._node_start("2", "p-9", reg)
    cap._finished(item, _status("error", node_id="2", node_type="TowerTestFail", exception_type="RuntimeError",
                                exception_message="boom"), {"outputs": {}})
    evs = _expand(rec.events)
    err = next(e for e in evs if isinstance(e, ErrorEvent))
    failed = [e for e in evs if isinstance(e, OperationEvent) and e.operation_type == "node_execution" and not e.success]
    assert err.node_id == "2" and err.exception_type == "RuntimeError" and err.correlation_id == "c-9"
    assert err.context["inputs"] is not None
    assert len(failed) == 1 and failed[0].node_id == "2" and failed[0].node_class == "TowerTestFail"
    assert failed[0].error_details["error_id"] == err.event_id
    final = [e for e in evs if isinstance(e, PromptEvent)][-1]
    assert (final.status, final.failing_node_id, final.error_id) == ("error", "2", err.event_id)


def test_a_prompt_started_before_the_post_is_answered_keeps_its_correlation_and_wait(rec):
    """The worker may take a prompt before the event loop has built the answer to its POST: what the worker needs
    (correlation id, queue time) is noted when the prompt is submitted, and a rejected prompt leaves nothing
    behind."""
    import time

    cap = Capture(instance_id="i-1", comfyui_version="0.3.64", extension_version="t")
    cap._server = SimpleNamespace(prompt_queue=SimpleNamespace(queue=[], currently_running={}))
    state = {"cid": "c-early", "t0": time.time()}
    cap._req.set(state)
    graph = {"1": {"class_type": "TowerTestSucceed", "inputs": {"value": 1}}}
    cap._on_prompt({"prompt": graph, "extra_data": {}})
    pid = state["prompt_id"]
    cap._started((0, pid, graph, {}, ["1"]))  # 0.3.64: no create_time in extra_data
    running = _expand([rec.events[-1]])[0]
    assert running.correlation_id == "c-early" and running.queue_wait_seconds is not None
    cap._after_post(state, 200, {"prompt_id": pid})
    assert cap._pending == {}

    bad = {"cid": "c-bad", "t0": time.time()}
    cap._req.set(bad)
    cap._on_prompt({"prompt": {"1": {"class_type": "Nope", "inputs": {}}}})
    assert bad["prompt_id"] in cap._pending
    cap._after_post(bad, 400, {"error": {"type": "invalid_prompt", "message": "no"}, "node_errors": {}})
    assert cap._pending == {}
