"""The process-wide hand-off points: the running recorder, and the prompt the worker thread is executing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from .events import Event

__all__ = ["PromptContext", "emit", "current_prompt", "set_recorder", "set_current_prompt", "get_recorder"]


class _Recorder(Protocol):
    def record(self, event: Event) -> bool: ...


@dataclass(slots=True, eq=False)
class PromptContext:
    prompt_id: str
    correlation_id: str | None
    instance_id: str | None
    client_id: str | None = None
    extra: dict[str, Any] | None = None


_recorder: _Recorder | None = None
_lock = threading.Lock()
# ComfyUI runs one prompt at a time in one worker thread; the capture layer sets this at start and clears it at
# the end. A plain global (not a contextvar) because the worker calls asyncio.run per prompt, so contextvars set
# in our queue hook would not reach node code.
_current: PromptContext | tuple[Any, ...] | None = None


def set_recorder(recorder: _Recorder | None) -> None:
    global _recorder
    with _lock:
        _recorder = recorder


def get_recorder() -> _Recorder | None:
    return _recorder


def emit(event: Event) -> bool:
    """Hand an event to the recorder without blocking; False if it was dropped or no recorder runs."""
    rec = _recorder
    if rec is None:
        return False
    try:
        return rec.record(event)
    except Exception:  # noqa: BLE001 - the hot path never raises into ComfyUI
        return False


def set_current_prompt(ctx: PromptContext | tuple[Any, ...] | None) -> None:
    """The prompt being executed: a PromptContext, or its fields as a tuple (prompt_id, correlation_id,
    instance_id, client_id), which the capture hook uses so that no object is built unless a node asks."""
    global _current
    _current = ctx


def current_prompt() -> PromptContext | None:
    cur = _current
    if type(cur) is tuple:
        return PromptContext(*cur)
    return cur
