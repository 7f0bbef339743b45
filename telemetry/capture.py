"""Capture: the ComfyUI hooks that turn prompts into events. The only telemetry module that touches ComfyUI.

Hooks (feature-detected; each attaches or reports why not, see ``Capture.hooks``):
- ``POST /prompt`` middleware: correlation id in (``X-Correlation-ID``/``X-Request-ID``/``traceparent``) and out
  (response header); records ``queued`` or ``rejected`` (per-node errors); answers non-JSON bodies with a 400.
- on-prompt handler: assigns the prompt id early, puts the correlation id into ``extra_data``, keeps the scalar
  workflow inputs (for failure drivers) — on the event loop, so it only does O(nodes) dict work.
- ``PromptQueue.get`` wrapper: ``running``; ``PromptQueue.task_done`` wrapper: the outcome from the status messages.
- a ``ProgressHandler`` registered into every ``ProgressRegistry``: per-node start/finish times.
- ``PromptQueue.delete_queue_item``/``wipe_queue`` wrappers: ``cancelled`` for prompts removed before they ran.

Every hook body is wrapped: a bug here is logged once per kind, counted, shown in health, and never reaches
ComfyUI (a raising progress handler or task_done kills ComfyUI's worker thread).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import threading
import time
import traceback
import uuid
from typing import Any

from ..reliability.errors import classify_execution_error, classify_rejection
from .context import emit, set_current_prompt
from .derive import extract_inputs
from .events import ErrorEvent, OperationEvent, PromptEvent, new_id, new_uuid, register_expander
from .fingerprint import fingerprint

__all__ = ["Capture", "comfy_facts", "sanitize_correlation_id", "correlation_from_headers", "extract_inputs"]

log = logging.getLogger("tower_sentinel.capture")

_CID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_MAX_PENDING = 10_000
CORRELATION_KEY = "correlation_id"


def sanitize_correlation_id(value: Any) -> str | None:
    """The id if it matches ``[A-Za-z0-9._-]{1,128}``, else None (a bad id is replaced, never echoed)."""
    if isinstance(value, str) and _CID_RE.match(value):
        return value
    return None


def correlation_from_headers(headers: Any) -> str | None:
    for name in ("X-Correlation-ID", "X-Request-ID"):
        cid = sanitize_correlation_id(headers.get(name))
        if cid:
            return cid
    tp = headers.get("traceparent")
    if isinstance(tp, str):
        m = _TRACEPARENT_RE.match(tp.strip().lower())
        if m and m.group(1) != "0" * 32:
            return m.group(1)
    return None


def mint_correlation_id() -> str:
    return new_id()


def comfy_facts() -> tuple[str | None, str | None, int | None]:
    """(ComfyUI version, user directory, listen port) of the running ComfyUI, each None when unknown."""
    version = user_dir = port = None
    try:
        import comfyui_version

        version = comfyui_version.__version__
    except Exception:  # noqa: BLE001
        pass
    try:
        import folder_paths

        user_dir = folder_paths.get_user_directory()
    except Exception:  # noqa: BLE001
        pass
    try:
        from comfy.cli_args import args

        port = args.port
    except Exception:  # noqa: BLE001
        pass
    return version, user_dir, port


def _epoch_from_ms(ms: Any) -> float | None:
    try:
        t = float(ms) / 1000.0
    except (TypeError, ValueError, OverflowError):
        return None
    return t if 0 < t < 32503680000 else None  # before year 3000: a sane create_time


class _Run:
    """The prompt the worker thread is executing. One instance, reused for every prompt (the worker runs one at a
    time): the hooks allocate as little as they can, since every object that outlives a few milliseconds pushes
    ComfyUI's process toward a full garbage collection (with torch loaded, a few hundred milliseconds)."""

    __slots__ = ("prompt_id", "cid", "t0", "started_at", "wait", "client_id", "prompt", "item", "task_id")

    def __init__(self) -> None:
        self.prompt_id: str | None = None
        self.cid: str | None = None
        self.t0 = 0.0
        self.started_at = 0.0
        self.wait: float | None = None
        self.client_id: str | None = None
        self.prompt: Any = None
        self.item: Any = None  # the queue item and task id our get() returned, for task_done
        self.task_id: Any = None


class Capture:
    """Attaches to one ComfyUI process. ``attach(server)`` returns the hook status dict."""

    def __init__(self, *, instance_id: str, comfyui_version: str | None, extension_version: str) -> None:
        self.instance_id = instance_id
        self.comfyui_version = comfyui_version
        self.extension_version = extension_version
        self.hooks: dict[str, str] = {}
        self.lifecycle_api = False
        self.errors: dict[str, int] = {}
        self._logged: set[str] = set()
        # queued prompts not yet started: prompt id -> (correlation id, queued at); plain strings and floats, so
        # the tuple is not even tracked by the garbage collector
        self._pending: dict[str, tuple[str, float]] = {}
        self._pending_lock = threading.Lock()
        self._req: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("tower_req", default=None)
        # worker-thread state for the prompt being executed
        self._run = _Run()
        self._node_starts: dict[str, tuple[float, float, str | None]] = {}  # cleared per prompt, never replaced
        self._node_done: set[str] = set()
        # what the hooks hand to the writer: flat tuples (code, *clock readings and references), expanded into
        # events on the writer thread (see events.register_expander)
        self._x_queued = register_expander(self._queued_events)
        self._x_running = register_expander(self._running_event)
        self._x_node = register_expander(self._node_event)
        self._x_outcome = register_expander(self._outcome_events)

    # --- bookkeeping ------------------------------------------------------------------------------------------
    def _fail(self, where: str, exc: BaseException) -> None:
        self.errors[where] = self.errors.get(where, 0) + 1
        if where not in self._logged:
            self._logged.add(where)
            log.error("tower.capture.hook_failed", extra={"hook": where, "error": repr(exc),
                                                           "traceback": traceback.format_exc(limit=5)})

    def get_stats(self) -> dict[str, Any]:
        return {"hooks": dict(self.hooks), "errors": dict(self.errors), "pending": len(self._pending),
                "lifecycle_api": self.lifecycle_api}

    # --- attach -----------------------------------------------------------------------------------------------
    def attach(self, server: Any) -> dict[str, str]:
        import execution  # ComfyUI's module: only imported inside the running server

        self._server = server
        self._attach("middleware", lambda: server.app.middlewares.append(self._middleware()))
        self._attach("on_prompt", lambda: server.add_on_prompt_handler(self._on_prompt))
        pq = getattr(execution, "PromptQueue", None)
        self._attach("queue_get", lambda: self._wrap(pq, "get", self._wrap_get))
        self._attach("task_done", lambda: self._wrap(pq, "task_done", self._wrap_task_done))
        self._attach("queue_delete", lambda: (self._wrap(pq, "delete_queue_item", self._wrap_delete),
                                              self._wrap(pq, "wipe_queue", self._wrap_delete)))
        self._attach("node_timing", self._attach_progress)
        try:  # the official lifecycle API (ComfyUI PR #15342) is not in 0.3.64/0.3.75; report whether it is here
            from comfy_api.latest import ExecutionLifecycle  # noqa: F401

            self.lifecycle_api = True
        except Exception:  # noqa: BLE001
            self.lifecycle_api = False
        return dict(self.hooks)

    def _attach(self, name: str, fn: Any) -> None:
        try:
            fn()
            self.hooks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - a missing hook degrades, never stops ComfyUI
            self.hooks[name] = f"failed: {type(exc).__name__}: {exc}"
            log.warning("tower.capture.hook_unavailable", extra={"hook": name, "error": repr(exc)})

    @staticmethod
    def _wrap(cls: Any, name: str, factory: Any) -> None:
        orig = getattr(cls, name)
        if getattr(orig, "__tower_wrapped__", False):
            return
        wrapped = factory(orig)
        wrapped.__tower_wrapped__ = True
        wrapped.__wrapped__ = orig
        setattr(cls, name, wrapped)

    def _attach_progress(self) -> None:
        from comfy_execution import progress

        capture = self

        class TowerProgressHandler(progress.ProgressHandler):
            def __init__(self) -> None:
                super().__init__("tower_sentinel")
                self.registry = None

            def set_registry(self, registry: Any) -> None:
                self.registry = registry

            def start_handler(self, node_id: str, state: Any, prompt_id: str) -> None:
                try:
                    capture._node_start(node_id, prompt_id, self.registry)
                except Exception as exc:  # noqa: BLE001
                    capture._fail("node_start", exc)

            def finish_handler(self, node_id: str, state: Any, prompt_id: str) -> None:
                try:
                    capture._node_finish(node_id, prompt_id, self.registry)
                except Exception as exc:  # noqa: BLE001
                    capture._fail("node_finish", exc)

        reg_cls = progress.ProgressRegistry
        orig_init = reg_cls.__init__
        if getattr(orig_init, "__tower_wrapped__", False):
            return

        shared: list[Any] = []  # one handler for every registry (ComfyUI makes a registry per prompt)

        def __init__(self: Any, *a: Any, **kw: Any) -> None:
            orig_init(self, *a, **kw)
            try:
                if not shared:
                    shared.append(TowerProgressHandler())
                h = shared[0]
                h.set_registry(self)
                self.register_handler(h)
            except Exception as exc:  # noqa: BLE001
                capture._fail("progress_register", exc)

        __init__.__tower_wrapped__ = True
        reg_cls.__init__ = __init__

    # --- POST /prompt (event loop) ----------------------------------------------------------------------------
    def _middleware(self) -> Any:
        from aiohttp import web

        capture = self

        @web.middleware
        async def tower_prompt_middleware(request: Any, handler: Any) -> Any:
            if request.method != "POST" or request.path not in ("/prompt", "/api/prompt"):
                return await handler(request)
            state: dict[str, Any] = {"cid": correlation_from_headers(request.headers), "t0": time.time()}
            token = capture._req.set(state)
            try:
                try:
                    resp = await handler(request)
                except ValueError as exc:  # aiohttp's request.json() on a non-JSON body
                    cid = state.get("cid") or mint_correlation_id()
                    body = {"error": {"type": "invalid_json", "message": "The request body is not valid JSON",
                                      "details": str(exc)[:200], "extra_info": {}}, "node_errors": {}}
                    resp = web.json_response(body, status=400)
                    state["cid"] = cid
                    state["prompt_id"] = str(uuid.uuid4())
                    capture._after_post(state, 400, body)
                    resp.headers["X-Correlation-ID"] = cid
                    resp.headers["X-Tower-Prompt-ID"] = state["prompt_id"]
                    return resp
                cid = state.get("cid") or mint_correlation_id()
                state["cid"] = cid
                try:
                    body = None
                    raw = getattr(resp, "body", None)
                    pid = state.get("prompt_id")
                    if resp.status == 200 and pid and isinstance(raw, bytes) and f'"{pid}"'.encode() in raw:
                        body = {"prompt_id": pid}  # the id we assigned came back: no need to parse the answer
                    elif isinstance(raw, (bytes, str)):
                        body = json.loads(raw)
                    capture._after_post(state, resp.status, body)
                except Exception as exc:  # noqa: BLE001
                    capture._fail("middleware", exc)
                resp.headers["X-Correlation-ID"] = cid
                if state.get("prompt_id"):
                    resp.headers["X-Tower-Prompt-ID"] = str(state["prompt_id"])[:128]
                return resp
            finally:
                capture._req.reset(token)

        return tower_prompt_middleware

    def _on_prompt(self, json_data: Any) -> Any:
        try:
            state = self._req.get()
            if state is None:  # a POST that did not come through our middleware (another path or a test)
                state = {"cid": None, "t0": time.time()}
                self._req.set(state)
            if not isinstance(json_data, dict):
                return json_data
            extra = json_data.get("extra_data")
            cid = state.get("cid")
            if not cid and isinstance(extra, dict):
                cid = sanitize_correlation_id(extra.get(CORRELATION_KEY))
            cid = cid or mint_correlation_id()
            state["cid"] = cid
            if isinstance(extra, dict):
                extra[CORRELATION_KEY] = cid
            elif "extra_data" not in json_data:
                json_data["extra_data"] = {CORRELATION_KEY: cid}
            pid = json_data.get("prompt_id")
            if pid is None:
                pid = new_uuid()
                json_data["prompt_id"] = pid
            pid = str(pid)
            state["prompt_id"] = pid
            client_id = json_data.get("client_id")
            state["graph"] = json_data.get("prompt")
            state["client_id"] = client_id if isinstance(client_id, str) else None
            # for the worker's hooks, before ComfyUI queues the prompt (the worker may start it before our answer
            # to the POST is built); removed again if the prompt is rejected
            with self._pending_lock:
                self._pending[pid] = (cid, time.time())
                if len(self._pending) > _MAX_PENDING:  # prompts removed by routes we do not see
                    del self._pending[next(iter(self._pending))]
        except Exception as exc:  # noqa: BLE001
            self._fail("on_prompt", exc)
        return json_data

    def _after_post(self, state: dict[str, Any], status: int, body: Any) -> None:
        now = time.time()
        started = state["t0"]
        cid = state["cid"]
        graph = state.get("graph")
        client_id = state.get("client_id")
        pid = state.get("prompt_id")
        if status == 200 and isinstance(body, dict) and body.get("prompt_id"):
            pid = str(body["prompt_id"])
            position = None
            try:  # get_tasks_remaining() without its lock (the worker holds it while it files a finished
                # prompt): two len() reads are atomic under the GIL, and a position off by one is still useful
                pq = self._server.prompt_queue
                position = len(pq.queue) + len(pq.currently_running)
            except Exception:  # noqa: BLE001
                try:
                    position = int(self._server.prompt_queue.get_tasks_remaining())
                except Exception:  # noqa: BLE001
                    pass
            emit((self._x_queued, pid, cid, started, now, position, graph, client_id))
            return
        if pid is not None:
            with self._pending_lock:
                self._pending.pop(pid, None)  # rejected (or ComfyUI failed): it will never start
        if status >= 500:
            return  # ComfyUI's own failure, not a rejection of the prompt
        pid = pid or str(uuid.uuid4())
        err = body.get("error") if isinstance(body, dict) else None
        err_type = err.get("type") if isinstance(err, dict) else None
        message = (err.get("message") if isinstance(err, dict) else None) or f"prompt rejected (HTTP {status})"
        node_errors = body.get("node_errors") if isinstance(body, dict) else None
        nodes_summary = _summarize_node_errors(node_errors)
        first_node = next(iter(nodes_summary), None)
        failing_class = nodes_summary[first_node]["class_type"] if first_node else None
        detail = "; ".join(e["message"] for n in nodes_summary.values() for e in n["errors"][:1])[:500]
        full_message = f"{message}: {detail}" if detail else message
        cls = classify_rejection(err_type)
        error_id = new_id()
        fp, template = fingerprint(cls.category.value, err_type, failing_class, full_message)
        emit(ErrorEvent(error_id, message=full_message, category=cls.category.value, severity=cls.severity.value,
                        timestamp=now, context={"stage": "validation", "error_type": err_type,
                                                "node_errors": nodes_summary, "http_status": status},
                        correlation_id=cid, prompt_id=pid, instance_id=self.instance_id, exception_type=err_type,
                        node_id=first_node, node_class=failing_class, fingerprint=fp, template=template,
                        comfyui_version=self.comfyui_version, extension_version=self.extension_version))
        emit(PromptEvent(new_id(), prompt_id=pid, status="rejected", at=now, correlation_id=cid,
                         client_id=client_id, instance_id=self.instance_id,
                         queued_at=now, finished_at=now, error_id=error_id, category=cls.category.value,
                         failing_node_id=first_node, failing_node_class=failing_class,
                         comfyui_version=self.comfyui_version, extension_version=self.extension_version,
                         prompt=graph))
        emit(OperationEvent(new_id(), operation_type="comfyui_queue", start_time=started, end_time=now,
                            success=False, correlation_id=cid, prompt_id=pid, instance_id=self.instance_id,
                            status="rejected", category=cls.category.value, comfyui_version=self.comfyui_version,
                            error_details={"error_id": error_id, "type": err_type, "message": full_message}))

    def _queued_events(self, pid: str, cid: str, started: float, now: float, position: int | None,
                       graph: Any, client_id: str | None) -> list[Any]:
        """(writer thread) The accepted prompt's record and its comfyui_queue operation."""
        return [
            PromptEvent(new_id(), prompt_id=pid, status="queued", at=now, correlation_id=cid,
                        client_id=client_id, instance_id=self.instance_id,
                        queued_at=now, queue_position=position, comfyui_version=self.comfyui_version,
                        extension_version=self.extension_version, prompt=graph),
            OperationEvent(new_id(), operation_type="comfyui_queue", start_time=started, end_time=now, success=True,
                           correlation_id=cid, prompt_id=pid, instance_id=self.instance_id, status="queued",
                           comfyui_version=self.comfyui_version, context={"queue_position": position}),
        ]

    # --- worker thread ----------------------------------------------------------------------------------------
    def _wrap_get(self, orig: Any) -> Any:
        capture = self

        def get(self_q: Any, *args: Any, **kwargs: Any) -> Any:
            result = orig(self_q, *args, **kwargs)
            if result is not None:
                try:
                    capture._started(result[0])
                    capture._run.item, capture._run.task_id = result[0], result[1]
                except Exception as exc:  # noqa: BLE001
                    capture._fail("queue_get", exc)
            return result

        return get

    def _started(self, item: Any) -> None:
        pid = str(item[1])
        extra = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
        with self._pending_lock:
            pending = self._pending.pop(pid, None)
        if pending is not None:
            cid, queued_at = pending
        else:
            cid = sanitize_correlation_id(extra.get(CORRELATION_KEY))
            queued_at = _epoch_from_ms(extra.get("create_time"))
        now = time.time()
        wait = max(0.0, now - queued_at) if queued_at else None
        client_id = extra.get("client_id")
        client_id = client_id if isinstance(client_id, str) else None
        run = self._run
        run.prompt_id, run.cid, run.t0, run.started_at, run.wait = pid, cid, time.perf_counter(), now, wait
        run.client_id, run.prompt = client_id, (item[2] if len(item) > 2 else None)
        self._node_starts.clear()
        self._node_done.clear()
        set_current_prompt((pid, cid, self.instance_id, client_id))
        emit((self._x_running, pid, cid, now, wait, client_id))

    def _running_event(self, pid: str, cid: str | None, now: float, wait: float | None, client_id: Any) -> list[Any]:
        """(writer thread) The prompt's ``running`` update (dropped by the store when its outcome is in the batch)."""
        return [PromptEvent(new_id(), prompt_id=pid, status="running", at=now, correlation_id=cid,
                            instance_id=self.instance_id, started_at=now, queue_wait_seconds=wait,
                            client_id=client_id)]

    def _node_class(self, node_id: str, registry: Any) -> str | None:
        try:
            return registry.dynprompt.get_node(node_id)["class_type"]
        except Exception:  # noqa: BLE001
            prompt = self._run.prompt
            if isinstance(prompt, dict) and isinstance(prompt.get(node_id), dict):
                return prompt[node_id].get("class_type")
            return None

    def _node_start(self, node_id: str, prompt_id: str, registry: Any) -> None:
        if node_id in self._node_starts:  # lazy nodes start twice: keep the first
            return
        self._node_starts[node_id] = (time.perf_counter(), time.time(), self._node_class(node_id, registry))

    def _node_finish(self, node_id: str, prompt_id: str, registry: Any) -> None:
        start = self._node_starts.get(node_id)
        if start is None or node_id in self._node_done:
            return  # a staged cached output node: counted from execution_cached at the end
        self._node_done.add(node_id)
        run = self._run
        t0, started_at, cls = start
        emit((self._x_node, t0, started_at, cls, time.perf_counter(), time.time(), run.cid,
              prompt_id or run.prompt_id, node_id))

    def _node_event(self, t0: float, started_at: float, cls: str | None, perf_end: float, end: float,
                    cid: str | None, prompt_id: str | None, node_id: Any) -> list[Any]:
        """(writer thread) One executed node's timing."""
        return [OperationEvent(new_id(), operation_type="node_execution", start_time=started_at,
                               duration_seconds=perf_end - t0, end_time=end, success=True, correlation_id=cid,
                               prompt_id=prompt_id, instance_id=self.instance_id, node_id=str(node_id),
                               node_class=cls, status="success", cached=False,
                               comfyui_version=self.comfyui_version)]

    def _wrap_task_done(self, orig: Any) -> Any:
        capture = self

        def task_done(self_q: Any, item_id: Any, history_result: Any, *args: Any, **kwargs: Any) -> Any:
            item = None
            try:
                run = capture._run
                if run.task_id == item_id and run.item is not None:
                    item = run.item  # what our get() saw: no need to take the queue's lock (the event loop
                    # holds it while it queues a prompt, and a second taker per prompt doubles the waits)
                else:
                    with self_q.mutex:
                        item = self_q.currently_running.get(item_id)
                run.item = run.task_id = None
            except Exception as exc:  # noqa: BLE001
                capture._fail("task_done_read", exc)
            result = orig(self_q, item_id, history_result, *args, **kwargs)
            try:
                status = kwargs.get("status", args[0] if args else None)
                capture._finished(item, status, history_result)
            except Exception as exc:  # noqa: BLE001
                capture._fail("task_done", exc)
            finally:
                set_current_prompt(None)
            return result

        return task_done

    def _finished(self, item: Any, status: Any, history_result: Any) -> None:
        """(worker thread) Capture what the outcome needs, by reference and clock reading; the writer builds it."""
        run = self._run
        pid = str(item[1]) if item is not None else run.prompt_id
        if pid is None:
            return
        same = run.prompt_id == pid
        run.prompt_id = None
        exec_s = time.perf_counter() - run.t0 if same else None
        # nodes that started but did not finish (the failing one): their timing for the outcome
        starts = self._node_starts
        unfinished = None
        if len(starts) != len(self._node_done):
            unfinished = tuple((nid, *start) for nid, start in starts.items() if nid not in self._node_done) or None
        prompt = item[2] if item is not None and len(item) > 2 else (run.prompt if same else None)
        run.prompt = None
        cid, started_at, wait, client_id = (run.cid, run.started_at, run.wait, run.client_id) if same else (None,) * 4
        emit((self._x_outcome, pid, status, history_result, prompt, cid, started_at, wait, client_id, time.time(),
              exec_s, unfinished, time.perf_counter()))

    def _outcome_events(self, pid: str, status: Any, history_result: Any, prompt: Any, cid: str | None,
                        run_started_at: float | None, wait: float | None, client_id: str | None, now: float,
                        exec_s: float | None, unfinished: tuple[tuple[str, float, float, str | None], ...] | None,
                        perf_now: float) -> list[Any]:
        """(writer thread) The prompt's outcome from ComfyUI's status messages: cached nodes, the failing node's
        time, the error (classified and fingerprinted), the prompt record and its comfyui_execution operation."""
        out: list[Any] = []
        emit = out.append
        messages = getattr(status, "messages", None) or []
        status_str = getattr(status, "status_str", None)
        msgs = {}
        for m in messages:
            try:
                msgs[m[0]] = m[1]
            except Exception:  # noqa: BLE001
                continue
        start_msg = msgs.get("execution_start")
        if start_msg and isinstance(start_msg, dict):
            for key in ("execution_success", "execution_error", "execution_interrupted"):
                if isinstance(msgs.get(key), dict) and "timestamp" in msgs[key] and "timestamp" in start_msg:
                    exec_s = (msgs[key]["timestamp"] - start_msg["timestamp"]) / 1000.0
        # cached nodes: ComfyUI lists them once in execution_cached
        cached = msgs.get("execution_cached", {}).get("nodes", []) if isinstance(msgs.get("execution_cached"), dict) else []
        started_at = run_started_at or now
        for nid in cached or []:
            cls = prompt.get(nid, {}).get("class_type") if isinstance(prompt, dict) else None
            emit(OperationEvent(new_id(), operation_type="node_execution", start_time=started_at, end_time=started_at,
                                duration_seconds=0.0, success=True, correlation_id=cid, prompt_id=pid,
                                instance_id=self.instance_id, node_id=str(nid), node_class=cls, status="cached",
                                cached=True, comfyui_version=self.comfyui_version))
        outputs = None
        if isinstance(history_result, dict) and isinstance(history_result.get("outputs"), dict):
            outputs = _summarize_outputs(history_result["outputs"])

        if "execution_interrupted" in msgs:
            outcome = "interrupted"
        elif status_str == "success" or "execution_success" in msgs:
            outcome = "success"
        else:
            outcome = "error"
        error_id = category = failing_id = failing_cls = None
        if outcome != "success":
            data = msgs.get("execution_error") or msgs.get("execution_interrupted") or {}
            failing_id = str(data.get("node_id")) if data.get("node_id") is not None else None
            failing_cls = data.get("node_type")
            et = data.get("exception_type") or ("InterruptProcessingException" if outcome == "interrupted" else None)
            msg = (data.get("exception_message") or ("Prompt interrupted" if outcome == "interrupted" else "unknown error"))
            msg = str(msg).strip()
            cls = classify_execution_error(et, msg, failing_cls, interrupted=(outcome == "interrupted"))
            category = cls.category.value
            error_id = new_id()
            tb = data.get("traceback")
            tb_text = "".join(tb) if isinstance(tb, list) else (tb if isinstance(tb, str) else None)
            fp, template = fingerprint(category, et, failing_cls, msg)
            emit(ErrorEvent(error_id, message=msg[:4000], category=category, severity=cls.severity.value,
                            timestamp=now, stack_trace=tb_text,
                            context={"stage": "execution", "executed": data.get("executed"),
                                     "inputs": _inputs_of(prompt),
                                     "current_inputs_keys": sorted(data.get("current_inputs") or {})[:50]
                                     if isinstance(data.get("current_inputs"), dict) else None},
                            correlation_id=cid, prompt_id=pid, instance_id=self.instance_id, exception_type=et,
                            node_id=failing_id, node_class=failing_cls, fingerprint=fp, template=template,
                            comfyui_version=self.comfyui_version, extension_version=self.extension_version))
            start = next((u for u in unfinished or () if u[0] == failing_id), None) if failing_id else None
            if start is not None:
                _, t0, n_started, ncls = start
                emit(OperationEvent(new_id(), operation_type="node_execution", start_time=n_started, end_time=now,
                                    duration_seconds=perf_now - t0, success=False, correlation_id=cid,
                                    prompt_id=pid, instance_id=self.instance_id, node_id=failing_id,
                                    node_class=ncls or failing_cls, status=outcome, category=category,
                                    cached=False, comfyui_version=self.comfyui_version,
                                    error_details={"error_id": error_id, "exception_type": et}))
        emit(PromptEvent(new_id(), prompt_id=pid, status=outcome, at=now, correlation_id=cid, client_id=client_id,
                         instance_id=self.instance_id, started_at=run_started_at, finished_at=now,
                         queue_wait_seconds=wait, execution_seconds=exec_s, error_id=error_id,
                         category=category, failing_node_id=failing_id, failing_node_class=failing_cls,
                         outputs=outputs))
        emit(OperationEvent(new_id(), operation_type="comfyui_execution", start_time=started_at, end_time=now,
                            duration_seconds=exec_s, success=(outcome == "success"), correlation_id=cid,
                            prompt_id=pid, instance_id=self.instance_id, status=outcome, category=category,
                            node_id=failing_id, node_class=failing_cls, comfyui_version=self.comfyui_version,
                            error_details={"error_id": error_id} if error_id else None,
                            context={"queue_wait_seconds": wait, "cached_nodes": len(cached or [])}))
        return out

    def _wrap_delete(self, orig: Any) -> Any:
        capture = self

        def wrapper(self_q: Any, *args: Any, **kwargs: Any) -> Any:
            before = set()
            try:
                with self_q.mutex:
                    before = {str(it[1]) for it in self_q.queue}
            except Exception as exc:  # noqa: BLE001
                capture._fail("queue_delete", exc)
            result = orig(self_q, *args, **kwargs)
            try:
                with self_q.mutex:
                    after = {str(it[1]) for it in self_q.queue}
                now = time.time()
                for pid in before - after:
                    with capture._pending_lock:
                        pending = capture._pending.pop(pid, None)
                    emit(PromptEvent(new_id(), prompt_id=pid, status="cancelled", at=now, finished_at=now,
                                     correlation_id=pending[0] if pending else None,
                                     instance_id=capture.instance_id))
            except Exception as exc:  # noqa: BLE001
                capture._fail("queue_delete", exc)
            return result

        return wrapper


def _inputs_of(prompt: Any) -> dict[str, Any] | None:
    try:
        return extract_inputs(prompt)[0]
    except Exception:  # noqa: BLE001
        return None


def _summarize_node_errors(node_errors: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(node_errors, dict):
        return out
    for nid, ne in list(node_errors.items())[:50]:
        if not isinstance(ne, dict):
            continue
        errs = []
        for e in (ne.get("errors") or [])[:5]:
            if isinstance(e, dict):
                errs.append({"type": e.get("type"), "message": str(e.get("message", ""))[:300],
                             "details": str(e.get("details", ""))[:300]})
        out[str(nid)] = {"class_type": ne.get("class_type"), "errors": errs}
    return out


def _summarize_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for nid, o in list(outputs.items())[:50]:
        if not isinstance(o, dict):
            continue
        images = o.get("images")
        if isinstance(images, list):
            out[str(nid)] = {"images": [{k: im.get(k) for k in ("filename", "subfolder", "type")}
                                        for im in images[:32] if isinstance(im, dict)]}
    return out
