"""The process-wide hand-off points: the running recorder, and the prompt the worker thread is executing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .events import Event

__all__ = ["PromptContext", "emit", "current_prompt", "set_recorder", "set_current_prompt", "set_prompt_provider",
           "get_recorder"]


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
# the running recorder's ``record`` (None when none runs), for the capture hooks: one call per hand-off instead of
# emit() and then record()
record: Callable[[Any], bool] | None = None
_lock = threading.Lock()
# ComfyUI runs one prompt at a time in one worker thread; the capture layer sets this at start and clears it at
# the end. A plain global (not a contextvar) because the worker calls asyncio.run per prompt, so contextvars set
# in our queue hook would not reach node code.
_current: PromptContext | tuple[Any, ...] | None = None
# or, when nothing was set, a function that builds it on demand (the capture hooks only note references)
_provider: Callable[[], PromptContext | None] | None = None


def set_recorder(recorder: _Recorder | None) -> None:
    global _recorder, record
    with _lock:
        _recorder = recorder
        record = recorder.record if recorder is not None else None


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


def set_prompt_provider(fn: Callable[[], PromptContext | None] | None) -> None:
    """Where ``current_prompt()`` asks when no prompt was set: the capture layer's ``current_context``."""
    global _provider
    _provider = fn


def current_prompt() -> PromptContext | None:
    cur = _current
    if type(cur) is tuple:
        return PromptContext(*cur)
    if cur is None and _provider is not None:
        try:
            return _provider()
        except Exception:  # noqa: BLE001 - a node asking never fails because of us
            return None
    return cur
