"""Telemetry: capture (ComfyUI hooks), events, recorder, store, analytics.

The public surface for the rest of the extension is small: ``emit(event)`` hands an event to the running
recorder (a no-op before the extension started, so pure code and tests can call it freely) and
``current_prompt()`` tells which prompt the worker thread is executing right now.
"""

from __future__ import annotations

from .context import PromptContext, current_prompt, emit, set_recorder

__all__ = ["emit", "current_prompt", "PromptContext", "set_recorder"]
