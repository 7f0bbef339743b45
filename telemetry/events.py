"""Events: the only thing capture, nodes and clients hand to the recorder.

Every event has an ``event_id`` (the idempotency key: writing it twice leaves one row) and a ``kind`` that names
the table it lands in. Times are UTC ``datetime``s or epoch seconds (floats, what the capture hooks use). Events
are plain slotted dataclasses so the hot path only allocates and enqueues; the writer thread turns them into rows with ``to_row()``. Treat them as immutable; they are
not frozen dataclasses only because a frozen one costs five times as much to build (``object.__setattr__`` per
field), and they are built on ComfyUI's threads.

| kind        | table                         | written when |
|-------------|-------------------------------|--------------|
| operation   | anime_operation_metrics       | a prompt queued/rejected/ran, a node ran, a dependency call, a quality assessment |
| error       | anime_error_logs              | a prompt failed or was rejected, a node raised, a gate failed |
| prompt      | tower_prompts (merged)        | each state change of a prompt: queued, running, success, error, interrupted, crashed, rejected |
| quality     | tower_quality_scores          | one per assessed image |
| feedback    | tower_feedback                | a user rating |
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "Event",
    "OperationEvent",
    "ErrorEvent",
    "PromptEvent",
    "QualityEvent",
    "FeedbackEvent",
    "utcnow",
    "new_id",
    "PROMPT_STATUS_RANK",
    "Deferred",
    "EXPANDERS",
    "register_expander",
    "event_from_record",
]

# A prompt's status only moves forward: a late "queued" never overwrites "success".
PROMPT_STATUS_RANK = {
    "queued": 1,
    "running": 2,
    "success": 3,
    "error": 3,
    "interrupted": 3,
    "rejected": 3,
    "crashed": 3,
    "cancelled": 3,
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


_rng = random.Random(os.urandom(32))  # ids need uniqueness, not secrecy: no syscall per id on the hot path


def new_id() -> str:
    """32 hex chars, time-ordered (nanoseconds, then 64 random bits): appends at the end of the key indexes."""
    return "%016x%016x" % (time.time_ns(), _rng.getrandbits(64))  # noqa: UP031 - the fastest formatting here


_SECOND: tuple[int, str] = (-1, "")  # the last whole second formatted: timestamps of a batch share it


def _ts(dt: datetime | float | None) -> str | None:
    """UTC timestamps as ISO text without offset: sorts lexically in SQLite, parses as TIMESTAMP in PostgreSQL.
    Takes an aware ``datetime`` or epoch seconds (``time.time()``: what the capture hooks take, as it is the
    cheapest clock to read on ComfyUI's threads)."""
    global _SECOND
    if dt is None:
        return None
    if type(dt) is float:
        sec = int(dt)
        cached = _SECOND
        if cached[0] != sec:
            cached = (sec, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec)))
            _SECOND = cached
        us = int((dt - sec) * 1_000_000 + 0.5)  # rounded like datetime.fromtimestamp
        if us >= 1_000_000:
            return _ts(float(sec + 1))
        return f"{cached[1]}.{us:06d}"
    if isinstance(dt, (int, float)):
        return _ts(float(dt))
    if dt.tzinfo is timezone.utc:  # the common case, without a second datetime object
        return dt.isoformat(sep=" ", timespec="microseconds")[:26]
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.isoformat(sep=" ", timespec="microseconds")


_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return _ENCODE(value)


@dataclass(slots=True, eq=False)
class Event:
    event_id: str

    kind = "event"

    def to_row(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict (the spool's payload) that ``event_from_record`` turns back into a row."""
        return {"kind": self.kind, "row": self.to_row()}


@dataclass(slots=True, eq=False)
class OperationEvent(Event):
    operation_type: str
    start_time: datetime
    end_time: datetime | None = None
    success: bool | None = None
    error_details: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    correlation_id: str | None = None
    prompt_id: str | None = None
    instance_id: str | None = None
    node_id: str | None = None
    node_class: str | None = None
    status: str | None = None
    category: str | None = None
    cached: bool | None = None
    comfyui_version: str | None = None
    duration_seconds: float | None = None

    kind = "operation"
    COLUMNS = ("operation_id", "operation_type", "start_time", "end_time", "duration_seconds", "success",
               "error_details", "context", "correlation_id", "prompt_id", "instance_id", "node_id", "node_class",
               "status", "category", "cached", "comfyui_version")

    def duration(self) -> float | None:
        """``duration_seconds``, else end minus start (both datetimes or both epoch seconds), else None."""
        if self.duration_seconds is not None or self.end_time is None:
            return self.duration_seconds
        end, start = self.end_time, self.start_time
        if isinstance(end, datetime) and isinstance(start, datetime):
            return (end - start).total_seconds()
        if not isinstance(end, datetime) and not isinstance(start, datetime):
            return float(end) - float(start)
        return None

    def to_params(self) -> tuple[Any, ...]:
        """``to_row()``'s values in ``COLUMNS`` order, without the dict (the writer's hot loop)."""
        return (self.event_id, self.operation_type, _ts(self.start_time), _ts(self.end_time), self.duration(),
                self.success, _json(self.error_details), _json(self.context), self.correlation_id, self.prompt_id,
                self.instance_id, self.node_id, self.node_class, self.status, self.category, self.cached,
                self.comfyui_version)

    def to_row(self) -> dict[str, Any]:
        return {
            "operation_id": self.event_id,
            "operation_type": self.operation_type,
            "start_time": _ts(self.start_time),
            "end_time": _ts(self.end_time),
            "duration_seconds": self.duration(),
            "success": self.success,
            "error_details": _json(self.error_details),
            "context": _json(self.context),
            "correlation_id": self.correlation_id,
            "prompt_id": self.prompt_id,
            "instance_id": self.instance_id,
            "node_id": self.node_id,
            "node_class": self.node_class,
            "status": self.status,
            "category": self.category,
            "cached": self.cached,
            "comfyui_version": self.comfyui_version,
        }


@dataclass(slots=True, eq=False)
class ErrorEvent(Event):
    message: str
    category: str
    severity: str
    timestamp: datetime
    context: dict[str, Any] | None = None
    stack_trace: str | None = None
    correlation_id: str | None = None
    prompt_id: str | None = None
    instance_id: str | None = None
    exception_type: str | None = None
    node_id: str | None = None
    node_class: str | None = None
    fingerprint: str | None = None
    template: str | None = None
    comfyui_version: str | None = None
    extension_version: str | None = None

    kind = "error"

    def to_row(self) -> dict[str, Any]:
        return {
            "error_id": self.event_id,
            "message": self.message,
            "category": self.category,
            "severity": self.severity,
            "context": _json(self.context),
            "stack_trace": self.stack_trace,
            "timestamp": _ts(self.timestamp),
            "correlation_id": self.correlation_id,
            "prompt_id": self.prompt_id,
            "instance_id": self.instance_id,
            "exception_type": self.exception_type,
            "node_id": self.node_id,
            "node_class": self.node_class,
            "fingerprint": self.fingerprint,
            "template": self.template,
            "comfyui_version": self.comfyui_version,
            "extension_version": self.extension_version,
        }


@dataclass(slots=True, eq=False)
class PromptEvent(Event):
    """A partial update of one prompt's record; ``None`` fields leave the stored value alone."""

    prompt_id: str
    status: str
    at: datetime
    correlation_id: str | None = None
    client_id: str | None = None
    instance_id: str | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    queue_wait_seconds: float | None = None
    execution_seconds: float | None = None
    queue_position: int | None = None
    node_count: int | None = None
    error_id: str | None = None
    category: str | None = None
    failing_node_id: str | None = None
    failing_node_class: str | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    comfyui_version: str | None = None
    extension_version: str | None = None
    workflow_hash: str | None = None
    prompt: Any = None  # ComfyUI's graph by reference: the writer derives inputs, node count and hash from it

    kind = "prompt"

    def to_row(self) -> dict[str, Any]:
        inputs, node_count, whash = self.inputs, self.node_count, self.workflow_hash
        if self.prompt is not None:
            from .derive import describe_prompt

            d_inputs, d_count, d_hash = describe_prompt(self.prompt)
            inputs = inputs if inputs is not None else d_inputs
            node_count = node_count if node_count is not None else d_count
            whash = whash or d_hash
        return {
            "event_id": self.event_id,
            "prompt_id": self.prompt_id,
            "status": self.status,
            "status_rank": PROMPT_STATUS_RANK.get(self.status, 0),
            "updated_at": _ts(self.at),
            "correlation_id": self.correlation_id,
            "client_id": self.client_id,
            "instance_id": self.instance_id,
            "queued_at": _ts(self.queued_at),
            "started_at": _ts(self.started_at),
            "finished_at": _ts(self.finished_at),
            "queue_wait_seconds": self.queue_wait_seconds,
            "execution_seconds": self.execution_seconds,
            "queue_position": self.queue_position,
            "node_count": node_count,
            "error_id": self.error_id,
            "category": self.category,
            "failing_node_id": self.failing_node_id,
            "failing_node_class": self.failing_node_class,
            "inputs": _json(inputs),
            "outputs": _json(self.outputs),
            "comfyui_version": self.comfyui_version,
            "extension_version": self.extension_version,
            "workflow_hash": whash,
        }


@dataclass(slots=True, eq=False)
class QualityEvent(Event):
    prompt_id: str | None
    node_id: str | None
    image_index: int
    score: float
    passed: bool | None
    at: datetime
    metrics: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    mode: str | None = None
    correlation_id: str | None = None
    instance_id: str | None = None

    kind = "quality"

    def to_row(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "prompt_id": self.prompt_id,
            "node_id": self.node_id,
            "image_index": self.image_index,
            "score": self.score,
            "passed": self.passed,
            "created_at": _ts(self.at),
            "metrics": _json(self.metrics),
            "flags": _json(self.flags),
            "mode": self.mode,
            "correlation_id": self.correlation_id,
            "instance_id": self.instance_id,
        }


@dataclass(slots=True, eq=False)
class FeedbackEvent(Event):
    prompt_id: str
    rating: int
    at: datetime
    image: dict[str, Any] | None = None
    comment: str | None = None
    issues: list[str] | None = None
    user_id: str | None = None
    correlation_id: str | None = None
    instance_id: str | None = None

    kind = "feedback"

    def to_row(self) -> dict[str, Any]:
        img = self.image or {}
        return {
            "feedback_id": self.event_id,
            "prompt_id": self.prompt_id,
            "rating": self.rating,
            "created_at": _ts(self.at),
            "image_filename": img.get("filename"),
            "image_subfolder": img.get("subfolder"),
            "image_type": img.get("type"),
            "comment": self.comment,
            "issues": _json(self.issues),
            "user_id": self.user_id,
            "correlation_id": self.correlation_id,
            "instance_id": self.instance_id,
        }


class Deferred:
    """Work a hook hands to the writer thread instead of doing it on ComfyUI's thread: ``fn(*args)`` returns the
    events to write (it runs on the writer, before the batch's transaction). The hook only captures references
    and clock readings; parsing ComfyUI's status messages and building the events happen off the critical path."""

    __slots__ = ("fn", "args")
    kind = "deferred"

    def __init__(self, fn: Any, args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args

    def expand(self) -> list[Event]:
        return list(self.fn(*self.args) or ())


# The cheaper form of Deferred, for hooks that run on every prompt: a plain tuple ``(code, *args)``, where ``code``
# indexes EXPANDERS. A tuple holding only strings, numbers and None is dropped from the garbage collector's
# tracking at its first collection, and no Deferred object or bound method is allocated per item.
EXPANDERS: list[Any] = []


def register_expander(fn: Any) -> int:
    """Register ``fn(*args) -> events`` for ``(code, *args)`` items; returns the code."""
    EXPANDERS.append(fn)
    return len(EXPANDERS) - 1


EVENT_KINDS = ("operation", "error", "prompt", "quality", "feedback")


def event_from_record(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, row) from a spool payload written by ``Event.to_record``."""
    kind = record["kind"]
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    return kind, record["row"]
