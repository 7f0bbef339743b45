"""The worker-thread hooks without a server: what they hand the writer, and what the writer builds from it.

Inside ComfyUI these run on the prompt worker for every prompt, so they only note references and clock readings:
the writer thread builds every event from them. The end-to-end behaviour is covered in tests/comfy/test_capture.py."""

from __future__ import annotations

import copy
import threading
from collections import namedtuple
from types import SimpleNamespace

import pytest
from tower_sentinel.telemetry import capture as capture_mod
from tower_sentinel.telemetry import context
from tower_sentinel.telemetry.capture import Capture, _wrap_registry
from tower_sentinel.telemetry.events import EXPANDERS, ErrorEvent, OperationEvent, PromptEvent


class _Registry:
    """The part of ComfyUI's ProgressRegistry the hooks wrap (a class of its own per test: the wrap is per class)."""

    def __init__(self, graph) -> None:
        self.dynprompt = SimpleNamespace(get_node=lambda nid: graph[nid])
        self.calls: list = []

    def start_progress(self, node_id):
        self.calls.append(("start", node_id))

    def finish_progress(self, node_id):
        self.calls.append(("finish", node_id))


class _Queue:
    """The part of ComfyUI's PromptQueue the hooks wrap: get() hands out (item, task id), task_done files it."""

    def __init__(self, keeps_history: bool = True) -> None:
        self.queue: list = []
        self.currently_running: dict = {}
        self.history: dict = {}
        self.keeps_history = keeps_history
        self.mutex = threading.RLock()
        self.n = 0

    def get(self, timeout=None):
        item = self.queue.pop(0)
        self.n += 1
        self.currently_running[self.n] = item
        return item, self.n

    def task_done(self, item_id, history_result, status=None, process_item=None):
        item = self.currently_running.pop(item_id)
        if self.keeps_history:  # as ComfyUI does: a copy of the status, the item without its sensitive part
            self.history[item[1]] = {"prompt": item[:5], "outputs": {}, "status": copy.deepcopy(status._asdict())}
            self.history[item[1]].update(history_result)


def _generic(fn):
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


class _Hooks:
    """A Capture with its worker hooks wrapped around a _Queue, and its progress handler, as ComfyUI calls them."""

    def __init__(self, version: str = "0.3.75", keeps_history: bool = True, peer: bool = False) -> None:
        self.cap = Capture(instance_id="i-1", comfyui_version=version, extension_version="t")
        self.q = _Queue(keeps_history)
        self.reg_cls = type("Registry", (_Registry,), {})
        get, done = _Queue.get, _Queue.task_done
        if peer:  # another extension wrapped them first, with a generic signature
            get, done = _generic(_Queue.get), _generic(_Queue.task_done)
            self.reg_cls.start_progress = _generic(_Registry.start_progress)
            self.reg_cls.finish_progress = _generic(_Registry.finish_progress)
        self.get = self.cap._wrap_get(get)
        self.done = self.cap._wrap_task_done(done)
        _wrap_registry(self.cap, self.reg_cls)

    def start(self, item):
        self.q.queue.append(item)
        _, task_id = self.get(self.q)
        return task_id

    def node(self, nid, graph, finish=True):
        reg = self.reg_cls(graph)
        reg.start_progress(nid)
        if finish:
            reg.finish_progress(nid)
        assert reg.calls == [("start", nid)] + ([("finish", nid)] if finish else [])  # ComfyUI's own still run

    def finish(self, task_id, status, history=None):
        self.done(self.q, task_id, history if history is not None else {"outputs": {}}, status=status)


def _expand(items):
    return [ev for it in items for ev in EXPANDERS[it[0]](*it[1:])]


_ExecutionStatus = namedtuple("_ExecutionStatus", ["status_str", "completed", "messages"])  # ComfyUI's


def _status(outcome: str, **error):
    msgs = [("execution_start", {"timestamp": 1_000}), ("execution_cached", {"nodes": []})]
    if outcome == "success":
        msgs.append(("execution_success", {"timestamp": 1_500}))
    else:
        msgs.append(("execution_error", {"timestamp": 1_250, **error}))
    return _ExecutionStatus(outcome, outcome == "success", msgs)


@pytest.mark.parametrize(("keeps_history", "peer"), [(True, False), (False, False), (True, True)],
                         ids=["from-comfyui-history", "from-task-done-args", "after-a-peers-wrappers"])
def test_a_short_prompt_hands_over_one_tuple_and_the_writer_builds_its_events(rec, keeps_history, peer):
    """A successful prompt: while it runs the hooks only note references and clock readings (one reused list for
    its nodes); its outcome reaches the writer as one (code, *args) tuple, from which the writer builds the
    prompt record, the node's timing (class from the graph) and the comfyui_execution operation. While it runs,
    the writer's poll finds it once (``running``) and nodes asking for the current prompt get its ids. The outcome
    refers to ComfyUI's own history entry where there is one, not to what task_done was given (which would then
    outlive the call only because of us)."""
    h = _Hooks(keeps_history=keeps_history, peer=peer)
    context.set_prompt_provider(h.cap.current_context)
    graph = {"1": {"class_type": "TowerTestSucceed", "inputs": {"value": 3}}}
    marks = h.cap._marks
    for pid in ("p-1", "p-2"):
        rec.events.clear()
        tid = h.start((0, pid, graph, {"correlation_id": f"c-{pid}", "client_id": "cl-1"}, ["1"]))
        ctx = context.current_prompt()
        assert (ctx.prompt_id, ctx.correlation_id, ctx.instance_id, ctx.client_id) == (pid, f"c-{pid}", "i-1", "cl-1")
        polled = h.cap.poll_running()
        assert len(polled) == 1 and h.cap.poll_running() == ()  # announced once
        running = _expand(polled)[0]
        assert (running.status, running.prompt_id, running.correlation_id) == ("running", pid, f"c-{pid}")
        h.node("1", graph)
        assert rec.events == []  # nothing handed over while a short prompt runs
        h.finish(tid, _status("success"))
        assert context.current_prompt() is None and h.cap.poll_running() == ()
        assert h.cap._marks is marks and marks == []  # reused, emptied
        assert len(rec.events) == 1 and type(rec.events[0]) is tuple
        if keeps_history:
            assert rec.events[0][5] is h.q.history[pid] and rec.events[0][4] is None
        evs = _expand(rec.events)
        prompts = [e for e in evs if isinstance(e, PromptEvent)]
        ops = {e.operation_type: e for e in evs if isinstance(e, OperationEvent)}
        assert [p.status for p in prompts] == ["success"]
        assert prompts[0].correlation_id == f"c-{pid}" and prompts[0].client_id == "cl-1"
        assert prompts[0].execution_seconds == pytest.approx(0.5) and prompts[0].started_at is not None
        node = ops["node_execution"]
        assert node.node_class == "TowerTestSucceed" and node.node_id == "1" and node.duration_seconds >= 0
        assert node.correlation_id == f"c-{pid}"
        assert ops["comfyui_execution"].success is True and ops["comfyui_execution"].prompt_id == pid


def test_a_long_prompt_hands_over_each_node_as_it_finishes(rec, monkeypatch):
    """Past STREAM_AFTER_S a finished node's timing goes to the writer at once (a crash then keeps it), and the
    outcome does not repeat it; a lazy node's second start and a second finish are ignored."""
    monkeypatch.setattr(capture_mod, "STREAM_AFTER_S", -1.0)
    h = _Hooks()
    graph = {"1": {"class_type": "A", "inputs": {}}, "2": {"class_type": "B", "inputs": {}}}
    tid = h.start((0, "p-long", graph, {"correlation_id": "c-long"}, ["2"]))
    h.node("1", graph)
    assert len(rec.events) == 1
    node = _expand(rec.events)[0]
    assert (node.operation_type, node.node_id, node.node_class, node.prompt_id, node.correlation_id) == (
        "node_execution", "1", "A", "p-long", "c-long")
    h.node("1", graph)  # started again (lazy) and finished again: not a second timing
    h.node("2", graph)
    assert len(rec.events) == 2
    h.finish(tid, _status("success"))
    nodes = [e.node_id for e in _expand(rec.events) if getattr(e, "operation_type", None) == "node_execution"]
    assert sorted(nodes) == ["1", "2"]


def test_failing_node_gets_its_timing_and_the_error_its_inputs(rec):
    """A node that started and raised: the outcome carries its timing (success false) and the error row the
    prompt's scalar inputs, both taken from what the hooks handed over."""
    h = _Hooks()
    graph = {"1": {"class_type": "TowerTestSucceed", "inputs": {"value": 3}},
             "2": {"class_type": "TowerTestFail", "inputs": {"message": "boom", "x": ["1", 0]}}}
    tid = h.start((0, "p-9", graph, {"correlation_id": "c-9"}, ["2"]))
    h.node("1", graph)
    h.node("2", graph, finish=False)
    h.finish(tid, _status("error", node_id="2", node_type="TowerTestFail", exception_type="RuntimeError",
                          exception_message="boom"))
    evs = _expand(rec.events)
    err = next(e for e in evs if isinstance(e, ErrorEvent))
    nodes = {e.node_id: e for e in evs if isinstance(e, OperationEvent) and e.operation_type == "node_execution"}
    assert err.node_id == "2" and err.exception_type == "RuntimeError" and err.correlation_id == "c-9"
    assert err.context["inputs"] is not None
    assert nodes["1"].success is True and nodes["1"].node_class == "TowerTestSucceed"
    assert nodes["2"].success is False and nodes["2"].node_class == "TowerTestFail"
    assert nodes["2"].error_details["error_id"] == err.event_id
    final = [e for e in evs if isinstance(e, PromptEvent)][-1]
    assert (final.status, final.failing_node_id, final.error_id) == ("error", "2", err.event_id)


def _put_wrapped(cap):
    """ComfyUI's PromptQueue.put, wrapped by the capture: the item goes to the queue."""
    def put(self_q, item):
        self_q.queue.append(item)

    return cap._wrap_put(put)


def test_a_prompt_started_before_the_post_is_answered_keeps_its_correlation_and_wait(rec):
    """The worker may take a prompt before the event loop has answered its POST: what the writer needs (correlation
    id, submit time) travels in the item's extra_data, put there by the put wrapper before ComfyUI queues it; on a
    ComfyUI that does not note the submit time (0.3.64) the wrapper notes it. The queued record comes from the one
    tuple put hands over, with the queue position at submit and the request's start."""
    import time

    h = _Hooks(version="0.3.64")
    cap = h.cap
    put = _put_wrapped(cap)
    h.q.currently_running[99] = ("busy",)  # one prompt running: the new one is second
    state = ["c-early", time.time() - 0.25, None]
    cap._req.set(state)
    graph = {"1": {"class_type": "TowerTestSucceed", "inputs": {"value": 1}}}
    extra = {"client_id": "cl-1"}
    put(h.q, (0, "p-early", graph, extra, ["1"], {}))
    assert state[2] == "c-early"  # the handler wrapper's response header
    assert extra["correlation_id"] == "c-early" and extra["create_time"] >= int(state[1] * 1000)
    del h.q.currently_running[99]
    item = h.q.queue.pop()
    tid = h.start(item)
    running = _expand(cap.poll_running())[0]
    assert running.correlation_id == "c-early" and running.queue_wait_seconds >= 0
    h.finish(tid, _status("success"))
    prompts = [e for e in _expand(rec.events) if isinstance(e, PromptEvent)]
    assert [(p.status, p.correlation_id) for p in prompts] == [("queued", "c-early"), ("success", "c-early")]
    assert prompts[0].queue_position == 2 and prompts[0].client_id == "cl-1" and prompts[0].prompt == graph
    queue_op = next(e for e in _expand(rec.events) if isinstance(e, OperationEvent)
                    and e.operation_type == "comfyui_queue")
    assert queue_op.start_time == state[1] and queue_op.success is True

    # ComfyUI's own create_time (0.3.75 sets it before it queues) is left alone; an extra_data that is not a dict is
    # left as it is, and the prompt still queued and recorded
    cap._req.set([None, time.time(), None])
    extra = {"create_time": 5}
    put(h.q, (1, "p-2", graph, extra, ["1"], {}))
    assert extra["create_time"] == 5 and extra["correlation_id"] == "p-2"
    cap._req.set([None, time.time(), None])
    put(h.q, (2, "p-3", graph, None, ["1"], {}))
    assert h.q.queue[-1][3] is None and len(h.q.queue) == 2
    assert [e.prompt_id for e in _expand(rec.events[-2:]) if isinstance(e, PromptEvent)] == ["p-2", "p-3"]
    assert not cap.errors


def test_without_a_correlation_id_the_prompt_id_serves(rec):
    """No header and none in extra_data: ComfyUI's prompt id doubles as the correlation id (unique per request, and
    no second id to mint); a client's correlation id in extra_data wins over it; a client's own malformed prompt id
    is not used. A prompt queued without a request (another extension calling put) is recorded too."""
    import time

    cap = Capture(instance_id="i-1", comfyui_version="0.3.75", extension_version="t")
    q = _Queue()
    put = _put_wrapped(cap)
    cases = [("3f2a-uuid", {}, "3f2a-uuid"), ("p-1", {"correlation_id": "from-client"}, "from-client"),
             ("p-2", {"correlation_id": "bad id"}, "p-2")]
    for pid, extra, want in cases:
        state = [None, time.time(), None]
        cap._req.set(state)
        put(q, (0, pid, {}, extra, [], {}))
        assert state[2] == extra["correlation_id"] == want
    state = [None, time.time(), None]
    cap._req.set(state)
    extra = {}
    put(q, (0, "bad id with spaces", {}, extra, [], {}))
    assert state[2] == extra["correlation_id"] != "bad id with spaces"
    assert capture_mod.sanitize_correlation_id(state[2])
    cap._req.set(None)
    extra = {}
    put(q, (0, "from-a-peer", {}, extra, [], {}))
    assert extra["correlation_id"] == "from-a-peer"
    queued = [e for e in _expand(rec.events) if isinstance(e, PromptEvent)]
    assert [e.prompt_id for e in queued] == ["3f2a-uuid", "p-1", "p-2", "bad id with spaces", "from-a-peer"]
    assert all(e.status == "queued" for e in queued) and len(q.queue) == 5


def test_a_bug_in_the_put_wrapper_still_queues_the_prompt(rec):
    """A bug in our part (here: an item too short) is counted and the prompt still goes to ComfyUI's queue."""
    cap = Capture(instance_id="i-1", comfyui_version="0.3.75", extension_version="t")
    q = _Queue()
    put = _put_wrapped(cap)
    put(q, ("short",))
    assert q.queue == [("short",)] and cap.errors == {"queue_put": 1}
