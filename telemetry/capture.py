"""Capture: the ComfyUI hooks that turn prompts into events. The only telemetry module that touches ComfyUI.

Hooks (feature-detected; each attaches or reports why not, see ``Capture.hooks``). They only take notes (ids,
references to what ComfyUI keeps anyway, clock readings); the recorder's writer thread builds every event from them:
- ``POST /prompt`` handler wrapper (its route, or a middleware where ComfyUI's routes are already added): correlation
  id in (``X-Correlation-ID``/``X-Request-ID``/``traceparent``) and out (response header); builds ``rejected`` (per-node
  errors); answers non-JSON bodies with a 400.
- ``PromptQueue.put`` wrapper: puts the correlation id (and, where ComfyUI does not, the submit time) into the item's
  ``extra_data``, which travels with it to the worker and the writer, and notes ``queued`` with the queue position.
- ``PromptQueue.get`` wrapper: which prompt runs (``poll_running`` lets the writer record ``running``);
  ``PromptQueue.task_done`` wrapper: the outcome, from ComfyUI's own history entry of the prompt.
- ``ProgressRegistry.start_progress``/``finish_progress`` wrappers: per-node start/finish times.
- ``PromptQueue.delete_queue_item``/``wipe_queue`` wrappers: ``cancelled`` for prompts removed before they ran.

Every hook body is wrapped: a bug here is logged once per kind, counted, shown in health, and never reaches
ComfyUI (a raising progress hook or task_done kills ComfyUI's worker thread).
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import time
import traceback
import uuid
from typing import Any

from ..reliability.errors import classify_execution_error, classify_rejection
from . import context as _ctx
from .context import PromptContext, emit, set_prompt_provider
from .derive import extract_inputs
from .events import ErrorEvent, OperationEvent, PromptEvent, new_id, register_expander
from .fingerprint import fingerprint

__all__ = ["Capture", "comfy_facts", "sanitize_correlation_id", "correlation_from_headers", "extract_inputs"]

log = logging.getLogger("tower_sentinel.capture")

_CID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")  # fullmatch: "$" would let a trailing newline through
_TRACEPARENT_RE = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
# a prompt running longer than this hands over each node's timing as the node finishes (a short one's go with its
# outcome): the writer can then record them before the prompt ends, and a crash keeps them
STREAM_AFTER_S = 0.05
CORRELATION_KEY = "correlation_id"


def sanitize_correlation_id(value: Any) -> str | None:
    """The id if it matches ``[A-Za-z0-9._-]{1,128}``, else None (a bad id is replaced, never echoed)."""
    if isinstance(value, str) and len(value) <= 128 and value.isascii():
        # the common ids (ComfyUI's uuid4 prompt ids, hex trace ids) pass two C string calls; the rest the pattern
        if value.replace("-", "").isalnum() or _CID_RE.fullmatch(value):
            return value
    return None


try:  # multidict's case-insensitive keys, made once: a lookup with one skips folding the name's case every time
    from multidict import istr as _istr
except ImportError:  # pragma: no cover - aiohttp always brings multidict
    _istr = str
_H_CORRELATION, _H_REQUEST, _H_TRACEPARENT = _istr("X-Correlation-ID"), _istr("X-Request-ID"), _istr("traceparent")


def correlation_from_headers(headers: Any) -> str | None:
    for name in (_H_CORRELATION, _H_REQUEST):
        cid = sanitize_correlation_id(headers.get(name))
        if cid:
            return cid
    tp = headers.get(_H_TRACEPARENT)
    if isinstance(tp, str):
        m = _TRACEPARENT_RE.fullmatch(tp.strip().lower())
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
        # per POST /prompt request, for the put wrapper: [correlation id from its headers, start, correlation id used]
        self._req: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("tower_req", default=None)
        # the prompt the worker thread is executing: (queue item, task id, started at, perf_counter at start), one
        # tuple assigned at once so another thread never sees half of it; None between prompts
        self._cur: tuple[Any, Any, float, float] | None = None
        self._announced: tuple[Any, ...] | None = None  # the last ``_cur`` the writer recorded as ``running``
        # its nodes' start and finish times, flat: node id, then perf_counter (> 0: started, < 0: finished at -t,
        # None: finished and already handed over); one list, reused, copied into the outcome tuple
        self._marks: list[Any] = []
        self._eph_cls: dict[str, str | None] = {}  # classes of nodes made while the prompt ran (not in its graph)
        self._note_create_time = True  # see attach()
        self.post_hook: str | None = None  # how POST /prompt is wrapped: "route" (its handler) or "middleware"
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
        return {"hooks": dict(self.hooks), "errors": dict(self.errors),
                "lifecycle_api": self.lifecycle_api, "post_hook": self.post_hook}

    # --- attach -----------------------------------------------------------------------------------------------
    def attach(self, server: Any) -> dict[str, str]:
        import execution  # ComfyUI's module: only imported inside the running server

        self._server = server
        try:  # ComfyUI notes a prompt's submit time in extra_data (create_time) since 0.3.6x; else the put wrapper does
            import inspect

            self._note_create_time = '"create_time"' not in inspect.getsource(type(server))
        except Exception:  # noqa: BLE001 - no source: note it (ComfyUI overwrites ours if it sets its own)
            self._note_create_time = True
        self._attach("post_prompt", lambda: self._attach_post(server))
        pq = getattr(execution, "PromptQueue", None)
        self._attach("queue_put", lambda: self._wrap(pq, "put", self._wrap_put))
        self._attach("queue_get", lambda: self._wrap(pq, "get", self._wrap_get))
        self._attach("task_done", lambda: self._wrap(pq, "task_done", self._wrap_task_done))
        self._attach("queue_delete", lambda: (self._wrap(pq, "delete_queue_item", self._wrap_delete),
                                              self._wrap(pq, "wipe_queue", self._wrap_delete)))
        self._attach("node_timing", self._attach_progress)
        set_prompt_provider(self.current_context)
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

        _wrap_registry(self, progress.ProgressRegistry)

    # --- POST /prompt and the queue's put (event loop) ---------------------------------------------------------
    # Per accepted prompt: the handler wrapper reads the correlation headers, notes the request's start and sets
    # the response header; the put wrapper puts the correlation id into extra_data (it travels with the queue item
    # to the worker and the writer) and hands the writer one tuple. Nothing else runs per prompt here: ComfyUI
    # assigns the prompt id as usual, and only a rejected or unparsable request has its body read again.
    def _attach_post(self, server: Any) -> None:
        """Wrap ComfyUI's ``POST /prompt`` handler in its ``RouteDef`` before ComfyUI adds its routes to the app
        (``/api/prompt`` is made from the same one), so no other request passes through us; where the routes are
        already added, fall back to a middleware (innermost, so it sees what the handler answers)."""
        from aiohttp import web

        post = self._post_prompt()
        items = getattr(getattr(server, "routes", None), "_items", None)
        added = any(getattr(r, "canonical", None) in ("/prompt", "/api/prompt") for r in server.app.router.resources())
        if not added and type(items) is list:
            for i, d in enumerate(items):
                if isinstance(d, web.RouteDef) and d.method == "POST" and d.path == "/prompt":
                    if getattr(d.handler, "__tower_wrapped__", False):
                        return
                    # a positional partial: aiohttp's call then takes the partial's fast path (keywords in a
                    # partial cost a dict per call)
                    wrapped = functools.partial(post, d.handler)
                    wrapped.__tower_wrapped__ = True  # type: ignore[attr-defined]
                    items[i] = web.RouteDef(d.method, d.path, wrapped, d.kwargs)
                    self.post_hook = "route"
                    return
        paths = frozenset(("/prompt", "/api/prompt"))

        @web.middleware
        async def tower_prompt_middleware(request: Any, handler: Any) -> Any:
            if request.method != "POST" or request.path not in paths:
                return await handler(request)
            return await post(handler, request)

        server.app.middlewares.append(tower_prompt_middleware)
        self.post_hook = "middleware"

    def _post_prompt(self) -> Any:
        capture = self
        req = self._req
        clock = time.time

        async def post(handler: Any, request: Any) -> Any:
            # most requests carry none of the three: three membership tests, then the full parse only if needed
            h = request.headers
            cid = (correlation_from_headers(h) if _H_CORRELATION in h or _H_REQUEST in h or _H_TRACEPARENT in h
                   else None)
            state = [cid, clock(), None]
            token = req.set(state)
            try:
                resp = await handler(request)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # aiohttp's request.json() on a body that is
                # not JSON: a 400, not ComfyUI's 500
                from aiohttp import web

                body = {"error": {"type": "invalid_json", "message": "The request body is not valid JSON",
                                  "details": str(exc)[:200], "extra_info": {}}, "node_errors": {}}
                resp = web.json_response(body, status=400)
            except Exception as exc:  # ComfyUI's handler failed on this request (an extra_data that is not an
                # object, a "number" that is not one, a body over the size limit): its answer stays (aiohttp's 500, or
                # the HTTP error raised), and the attempt is recorded as rejected
                try:
                    await capture._post_failed(request, state, exc)
                except Exception as bug:  # noqa: BLE001
                    capture._fail("post_prompt", bug)
                raise
            finally:
                req.reset(token)
            cid = state[2]
            if cid is not None and resp.status == 200:  # queued, and handed over by the put wrapper
                resp.headers[_H_CORRELATION] = cid
                return resp
            try:
                cid, pid = await capture._post_not_queued(request, resp, state)
                if pid is not None and pid.isascii() and pid.isprintable():  # a client's id may not fit a header
                    resp.headers["X-Tower-Prompt-ID"] = pid
            except Exception as exc:  # noqa: BLE001
                capture._fail("post_prompt", exc)
                cid = state[0] or mint_correlation_id()
            resp.headers["X-Correlation-ID"] = cid
            return resp

        return post

    def _wrap_put(self, orig: Any) -> Any:
        capture = self
        req = self._req
        clock = time.time
        note_create_time = self._note_create_time  # attach() decides it before wrapping
        x_queued = self._x_queued
        valid = sanitize_correlation_id

        def put(self_q: Any, item: Any) -> Any:
            # one frame, no helpers: this runs for every prompt on ComfyUI's event loop
            try:
                # the correlation id (the request's header, else the client's in extra_data, else the prompt id,
                # which is unique per request) into the item's extra_data before ComfyUI queues it
                state = req.get()
                cid = state[0] if state is not None else None
                extra = item[3]
                if type(extra) is dict:
                    if cid is None:
                        client = extra.get(CORRELATION_KEY)
                        cid = ((valid(client) if client is not None else None) or valid(item[1])
                               or mint_correlation_id())
                    extra[CORRELATION_KEY] = cid
                    if note_create_time and "create_time" not in extra:  # ComfyUI's own, where it has none
                        extra["create_time"] = int(clock() * 1000)
                elif cid is None:
                    cid = valid(item[1]) or mint_correlation_id()
                # the queue position at submit: two len() reads, atomic under the GIL, without the queue's lock (off
                # by one at worst)
                position = len(self_q.queue) + len(self_q.currently_running) + 1
            except Exception as exc:  # noqa: BLE001
                capture._fail("queue_put", exc)
                return orig(self_q, item)
            result = orig(self_q, item)
            try:
                t = clock()
                record = _ctx.record
                if record is not None:  # the writer builds the queued record from this one tuple
                    record((x_queued, item[1], cid, t if state is None else state[1], t, position, item[2], extra))
                if state is not None:
                    state[2] = cid  # for the handler wrapper's response header
            except Exception as exc:  # noqa: BLE001
                capture._fail("queue_put", exc)
            return result

        return put

    async def _post_failed(self, request: Any, state: list[Any], exc: BaseException) -> None:
        """(event loop, rare) ComfyUI's handler raised on this request: recorded as rejected (with the HTTP status
        the answer gets), under the client's prompt id or a new one, with the exception's type and message."""
        sent, extra, cid = await self._sent(request, state)
        pid, cid = self._unqueued_ids(sent, cid)
        body = {"error": {"type": "server_error",
                          "message": f"ComfyUI failed on this request: {type(exc).__name__}: {str(exc)[:300]}"}}
        from aiohttp import web

        status = exc.status if isinstance(exc, web.HTTPException) else 500
        self._rejected(pid, cid, state[1], status, body, sent.get("prompt"), extra)

    @staticmethod
    async def _sent(request: Any, state: list[Any]) -> tuple[dict[str, Any], Any, str | None]:
        """(rare) The request's JSON body read again from aiohttp's copy ({} when it is not an object), its
        extra_data, and the correlation id from the headers or else from extra_data."""
        sent: Any = None
        try:
            sent = json.loads(await request.read())
        except Exception:  # noqa: BLE001 - not JSON: recorded without its graph
            pass
        sent = sent if type(sent) is dict else {}
        extra = sent.get("extra_data")
        cid = state[0] or (sanitize_correlation_id(extra.get(CORRELATION_KEY)) if type(extra) is dict else None)
        return sent, extra, cid

    @staticmethod
    def _unqueued_ids(sent: dict[str, Any], cid: str | None) -> tuple[str, str]:
        """(prompt id, correlation id) to record a prompt ComfyUI did not queue under: the client's prompt id or a
        new one; the correlation id found, else that prompt id where it is a valid one, else a new one."""
        pid = sent.get("prompt_id")
        pid = str(pid)[:128] if pid is not None else str(uuid.uuid4())
        return pid, cid or sanitize_correlation_id(pid) or mint_correlation_id()

    async def _post_not_queued(self, request: Any, resp: Any, state: list[Any]) -> tuple[str, str | None]:
        """(event loop, rare) A POST our put wrapper did not see: a rejection (recorded with its per-node errors,
        under the client's prompt id or a new one, returned as the second value), ComfyUI's own failure (nothing
        recorded), or an accepted prompt queued past our wrapper (recorded from the answer). The request's body is
        read again from aiohttp's copy."""
        status = resp.status
        sent, extra, cid = await self._sent(request, state)
        raw = getattr(resp, "body", None)
        try:
            body = json.loads(raw) if isinstance(raw, (bytes, str)) else None
        except ValueError:
            body = None
        if status == 200:
            pid = body.get("prompt_id") if isinstance(body, dict) else None
            if pid is None:
                return cid or mint_correlation_id(), None
            pid = str(pid)
            cid = cid or sanitize_correlation_id(pid) or mint_correlation_id()
            now = time.time()
            emit((self._x_queued, pid, cid, state[1], now, None, sent.get("prompt"), extra))
            return cid, None
        if status >= 500:  # ComfyUI's own failure, not a rejection of the prompt
            return cid or mint_correlation_id(), None
        pid, cid = self._unqueued_ids(sent, cid)
        self._rejected(pid, cid, state[1], status, body, sent.get("prompt"), extra)
        return cid, pid

    def _rejected(self, pid: str, cid: str, started: float, status: int, body: Any, graph: Any, extra: Any) -> None:
        now = time.time()
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
        client_id = _client_id(extra)
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

    def _queued_events(self, pid: Any, cid: str, started: float, now: float, position: int | None,
                       graph: Any, extra: Any) -> list[Any]:
        """(writer thread) The accepted prompt's record and its comfyui_queue operation."""
        pid = str(pid)
        client_id = _client_id(extra)
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
    # While a prompt runs, the hooks only note references and clock readings: which prompt (one tuple), when each
    # node started and finished (one reused list). The writer thread builds every event from that: ``running``
    # when it finds a prompt in progress (``poll_running``), the outcome with its node timings when the prompt is
    # filed. Only a prompt that runs longer than STREAM_AFTER_S hands over each node's timing as the node finishes
    # (so a crash keeps the timings of the nodes before it).
    def _wrap_get(self, orig: Any) -> Any:
        capture = self
        marks = self._marks  # one list for the capture's life (cleared, never replaced)
        clock, perf = time.time, time.perf_counter

        if _params(orig) == ["self", "timeout"]:  # ComfyUI's own signature: no argument tuple and dict per call
            def get(self_q: Any, timeout: Any = None) -> Any:
                result = orig(self_q, timeout)
                if result is not None:
                    try:
                        capture._cur = (result[0], result[1], clock(), perf())
                        if marks:  # left over from a prompt whose task_done we did not see
                            marks.clear()
                    except Exception as exc:  # noqa: BLE001
                        capture._fail("queue_get", exc)
                return result
        else:  # another version, or a peer's wrapper
            def get(self_q: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                result = orig(self_q, *args, **kwargs)
                if result is not None:
                    try:
                        capture._cur = (result[0], result[1], clock(), perf())
                        if marks:
                            marks.clear()
                    except Exception as exc:  # noqa: BLE001
                        capture._fail("queue_get", exc)
                return result

        return get

    @staticmethod
    def _prompt_facts(item: Any) -> tuple[str, str | None, float | None, str | None]:
        """(prompt id, correlation id, submitted at, client id) of a queue item, from its extra_data (where the put
        wrapper put the correlation id, and ComfyUI or the put wrapper the submit time)."""
        pid = str(item[1])
        extra = item[3] if len(item) > 3 and type(item[3]) is dict else {}
        return (pid, sanitize_correlation_id(extra.get(CORRELATION_KEY)), _epoch_from_ms(extra.get("create_time")),
                _client_id(extra))

    def current_context(self) -> PromptContext | None:
        """The prompt the worker is executing (for nodes and outbound calls), built only when asked."""
        cur = self._cur
        if cur is None:
            return None
        pid, cid, _, client_id = self._prompt_facts(cur[0])
        return PromptContext(pid, cid, self.instance_id, client_id)

    def poll_running(self) -> tuple[Any, ...]:
        """(writer thread, before each batch and when it wakes) The prompt in progress, once: its ``running``."""
        cur = self._cur
        if cur is None or cur is self._announced:
            return ()
        self._announced = cur
        return ((self._x_running, cur),)

    def _running_event(self, cur: tuple[Any, Any, float, float]) -> list[Any]:
        """(writer thread) The prompt's ``running`` update (dropped by the store when its outcome is in the batch)."""
        pid, cid, queued_at, client_id = self._prompt_facts(cur[0])
        started = cur[2]
        wait = max(0.0, started - queued_at) if queued_at else None
        return [PromptEvent(new_id(), prompt_id=pid, status="running", at=started, correlation_id=cid,
                            instance_id=self.instance_id, started_at=started, queue_wait_seconds=wait,
                            client_id=client_id)]

    def _node_class(self, node_id: str, registry: Any) -> str | None:
        try:
            return registry.dynprompt.get_node(node_id)["class_type"]
        except Exception:  # noqa: BLE001
            cur = self._cur
            prompt = cur[0][2] if cur is not None else None
            if isinstance(prompt, dict) and isinstance(prompt.get(node_id), dict):
                return prompt[node_id].get("class_type")
            return None

    def _stream_node(self, node_id: str, t: float, cur: tuple[Any, Any, float, float], registry: Any) -> None:
        """(worker thread, long prompts only) Hand over a finished node's timing now."""
        m = self._marks
        t0 = None
        for i in range(0, len(m) - 1, 2):
            if m[i] == node_id:
                v = m[i + 1]
                if v is None or v < 0:
                    return  # finished before: keep the first
                if t0 is None:
                    t0 = v  # lazy nodes start twice: keep the first
        if t0 is None:
            return  # a staged cached output node: counted from execution_cached at the end
        m.append(node_id)
        m.append(None)
        emit((self._x_node, cur, node_id, t0, t, self._node_class(node_id, registry)))

    def _node_event(self, cur: tuple[Any, Any, float, float], node_id: str, t0: float, t1: float,
                    cls: str | None) -> list[Any]:
        """(writer thread) One executed node's timing, handed over as it finished (a long prompt)."""
        pid, cid, _, _ = self._prompt_facts(cur[0])
        return [self._node_op(pid, cid, cur[2], cur[3], node_id, t0, t1, cls)]

    def _node_op(self, pid: str, cid: str | None, run_started_at: float, run_t0: float, node_id: str, t0: float,
                 t1: float, cls: str | None) -> OperationEvent:
        wall0 = run_started_at + (t0 - run_t0)  # the node's start on the wall clock, from the prompt's start
        return OperationEvent(new_id(), operation_type="node_execution", start_time=wall0,
                              duration_seconds=t1 - t0, end_time=wall0 + (t1 - t0), success=True,
                              correlation_id=cid, prompt_id=pid, instance_id=self.instance_id, node_id=str(node_id),
                              node_class=cls, status="success", cached=False, comfyui_version=self.comfyui_version)

    def _wrap_task_done(self, orig: Any) -> Any:
        capture = self
        marks = self._marks  # one list for the capture's life (cleared, never replaced)
        clock, perf = time.time, time.perf_counter

        def taken(self_q: Any, item_id: Any) -> tuple[Any, Any]:
            """(before ComfyUI files it) The queue item and what our get() noted about it."""
            cur = capture._cur
            try:
                if cur is not None and cur[1] == item_id:
                    return cur[0], cur  # what our get() saw: no need to take the queue's lock (the event loop holds
                    # it while it queues a prompt, and a second taker per prompt doubles the waits)
                with self_q.mutex:
                    return self_q.currently_running.get(item_id), None
            except Exception as exc:  # noqa: BLE001
                capture._fail("task_done_read", exc)
                return None, None

        def filed(self_q: Any, item: Any, cur: Any, status: Any, history_result: Any) -> None:
            """(after ComfyUI filed it) One tuple to the writer: the item, ComfyUI's history entry, the node marks."""
            try:
                capture._cur = None
                if item is None:
                    return
                started, t0 = (cur[2], cur[3]) if cur is not None else (None, None)
                # ComfyUI's own record of the prompt, which it keeps in its history anyway (with a copy of the status
                # messages and the outputs): handing the writer that instead of the objects task_done was given lets
                # those die now, as they would without us, instead of keeping a dozen objects per prompt alive until
                # the writer runs (each one brings ComfyUI's garbage collections nearer)
                entry = self_q.history.get(item[1])
                record = _ctx.record
                if record is not None:
                    if type(entry) is dict and type(entry.get("status")) is dict:
                        record((capture._x_outcome, entry.get("prompt", item), started, t0, None, entry, clock(),
                                perf(), capture._eph_cls or None, *marks))  # the node marks inline: one object
                    else:
                        record((capture._x_outcome, item, started, t0, status, history_result, clock(), perf(),
                                capture._eph_cls or None, *marks))
                marks.clear()
                if capture._eph_cls:
                    capture._eph_cls = {}
            except Exception as exc:  # noqa: BLE001
                capture._fail("task_done", exc)

        if _params(orig) == ["self", "item_id", "history_result", "status", "process_item"]:  # ComfyUI 0.3.75's own
            # signature, which main.py calls with keywords: bound as they are, no argument dict per call
            def task_done(self_q: Any, item_id: Any, history_result: Any, status: Any = None,
                          process_item: Any = None) -> Any:
                item, cur = taken(self_q, item_id)
                result = orig(self_q, item_id, history_result, status, process_item)
                filed(self_q, item, cur, status, history_result)
                return result
        else:  # 0.3.64 (no process_item), another version, or a peer's wrapper
            def task_done(self_q: Any, item_id: Any, history_result: Any, *args: Any,  # type: ignore[misc]
                          **kwargs: Any) -> Any:
                item, cur = taken(self_q, item_id)
                result = orig(self_q, item_id, history_result, *args, **kwargs)
                filed(self_q, item, cur, kwargs.get("status", args[0] if args else None), history_result)
                return result

        return task_done

    @staticmethod
    def _pair_marks(marks: tuple[Any, ...]) -> tuple[dict[str, float], dict[str, float | None]]:
        """(writer thread) Each node's first start, and its first finish after it (None: already handed over)."""
        starts: dict[str, float] = {}
        ends: dict[str, float | None] = {}
        for i in range(0, len(marks) - 1, 2):
            nid, v = marks[i], marks[i + 1]
            if v is not None and v > 0:
                starts.setdefault(nid, v)
            elif nid in starts and nid not in ends:  # a finish without a start: a staged cached output node
                ends[nid] = None if v is None else -v
        return starts, ends

    def _outcome_events(self, item: Any, run_started_at: float | None, run_t0: float | None, status: Any,
                        history_result: Any, now: float, perf_now: float, eph: dict[str, str | None] | None,
                        *marks: Any) -> list[Any]:
        """(writer thread) The prompt's outcome from ComfyUI's status messages: its nodes' timings (cached ones
        marked), the failing node's time, the error (classified and fingerprinted), the prompt record and its
        comfyui_execution operation. ``status`` None: ``history_result`` is ComfyUI's history entry of the prompt
        (its status as a dict, its outputs)."""
        pid, cid, queued_at, client_id = self._prompt_facts(item)
        prompt = item[2] if len(item) > 2 else None
        wait = max(0.0, run_started_at - queued_at) if run_started_at and queued_at else None
        exec_s = perf_now - run_t0 if run_t0 is not None else None
        out: list[Any] = []
        emit = out.append
        if status is None and isinstance(history_result, dict) and isinstance(history_result.get("status"), dict):
            messages = history_result["status"].get("messages") or []
            status_str = history_result["status"].get("status_str")
        else:
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
        node_starts, node_ends = self._pair_marks(marks) if marks and run_t0 is not None else ({}, {})
        for nid, t1 in node_ends.items():
            if t1 is not None:
                emit(self._node_op(pid, cid, run_started_at, run_t0, nid, node_starts[nid], t1,
                                   self._class_of(nid, prompt, eph)))
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
            t0 = node_starts.get(failing_id) if failing_id and failing_id not in node_ends else None
            if t0 is not None:  # the failing node started and did not finish: its time until the outcome
                ncls = self._class_of(failing_id, prompt, eph)
                emit(OperationEvent(new_id(), operation_type="node_execution",
                                    start_time=run_started_at + (t0 - run_t0),
                                    end_time=now, duration_seconds=perf_now - t0, success=False, correlation_id=cid,
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

    @staticmethod
    def _class_of(node_id: str, prompt: Any, eph: dict[str, str | None] | None) -> str | None:
        node = prompt.get(node_id) if isinstance(prompt, dict) else None
        if isinstance(node, dict):
            return node.get("class_type")
        return eph.get(node_id) if eph else None

    def _wrap_delete(self, orig: Any) -> Any:
        capture = self

        def wrapper(self_q: Any, *args: Any, **kwargs: Any) -> Any:
            before: dict[str, dict[str, Any]] = {}
            try:
                with self_q.mutex:
                    before = {str(it[1]): it[3] if len(it) > 3 and type(it[3]) is dict else {} for it in self_q.queue}
            except Exception as exc:  # noqa: BLE001
                capture._fail("queue_delete", exc)
            result = orig(self_q, *args, **kwargs)
            try:
                with self_q.mutex:
                    after = {str(it[1]) for it in self_q.queue}
                now = time.time()
                for pid in before.keys() - after:
                    extra = before[pid]
                    emit(PromptEvent(new_id(), prompt_id=pid, status="cancelled", at=now, finished_at=now,
                                     correlation_id=sanitize_correlation_id(extra.get(CORRELATION_KEY)),
                                     instance_id=capture.instance_id))
            except Exception as exc:  # noqa: BLE001
                capture._fail("queue_delete", exc)
            return result

        return wrapper


def _params(fn: Any) -> list[str] | None:
    """The parameter names of ``fn`` (None when they cannot be read): picks a wrapper that passes arguments on
    as they are, without building an argument tuple and dict on every call."""
    try:
        import inspect

        ps = inspect.signature(fn).parameters.values()
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY) for p in ps):
            return None
        return [p.name for p in ps]
    except (TypeError, ValueError):
        return None


def _wrap_registry(capture: Capture, reg_cls: type) -> None:
    """Note each node's start and finish on the worker thread by wrapping ``start_progress``/``finish_progress`` of
    ComfyUI's ``ProgressRegistry`` class (ComfyUI makes a registry per prompt; a class attribute covers them all
    without registering anything per prompt): a node id and a clock reading appended to one reused list (see
    ``Capture._marks``), taken before ComfyUI's own handlers run; nothing more while the prompt is short."""
    orig_start, orig_finish = reg_cls.start_progress, reg_cls.finish_progress
    if getattr(orig_start, "__tower_wrapped__", False):
        return
    perf = time.perf_counter
    marks = capture._marks  # one list for the capture's life (cleared, never replaced)

    # the bodies are written out in the wrappers, not called as helpers: they run twice per node on the worker
    # thread, and a Python call is most of what they cost. Where ComfyUI's own signature is not what is wrapped
    # (another version, or a peer's wrapper), generic wrappers call these with ComfyUI's part left out.
    generic = not (_params(orig_start) == _params(orig_finish) == ["self", "node_id"])
    then_start, then_finish = (_nothing, _nothing) if generic else (orig_start, orig_finish)

    def start_progress(self: Any, node_id: str) -> Any:
        try:
            marks.append(node_id)
            marks.append(perf())
            if "." in node_id:  # a node made while the prompt ran (graph expansion): not in its graph
                capture._eph_cls[node_id] = capture._node_class(node_id, self)
        except Exception as exc:  # noqa: BLE001
            capture._fail("node_start", exc)
        return then_start(self, node_id)

    def finish_progress(self: Any, node_id: str) -> Any:
        try:
            t = perf()
            cur = capture._cur
            if cur is not None and t - cur[3] > STREAM_AFTER_S:  # a long prompt: hand the timing over now
                capture._stream_node(node_id, t, cur, self)
            else:
                marks.append(node_id)
                marks.append(-t)
        except Exception as exc:  # noqa: BLE001
            capture._fail("node_finish", exc)
        return then_finish(self, node_id)

    if generic:
        noted_start, noted_finish = start_progress, finish_progress

        def start_progress(self: Any, node_id: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            noted_start(self, node_id)
            return orig_start(self, node_id, *args, **kwargs)

        def finish_progress(self: Any, node_id: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            noted_finish(self, node_id)
            return orig_finish(self, node_id, *args, **kwargs)

    for fn, orig in ((start_progress, orig_start), (finish_progress, orig_finish)):
        fn.__tower_wrapped__ = True
        fn.__wrapped__ = orig
        setattr(reg_cls, fn.__name__, fn)


def _nothing(*_args: Any) -> None:
    return None


def _client_id(extra: Any) -> str | None:
    """The websocket client id ComfyUI copies into a prompt's extra_data, when it is a string."""
    client_id = extra.get("client_id") if type(extra) is dict else None
    return client_id if type(client_id) is str else None


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
