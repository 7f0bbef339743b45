"""TowerEchoBrainPrompt: Echo Brain's enhancement (and the KB's character sheet) inside a graph, falling back to
the input prompt when either is down."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

from ..reliability.enhance import DEFAULT_NEGATIVE_PROMPT, EnhanceResult, enhance_prompt
from ..telemetry import current_prompt
from ..telemetry.runtime import get_runtime

log = logging.getLogger("tower_sentinel.nodes")

_GRACE_S = 5.0  # beyond the enhancement budget, for the server loop to pick the work up


def enhance_in_graph(prompt: str, character: str | None, *, deps: Any, correlation_id: str | None) -> EnhanceResult:
    """Run ``enhance_prompt`` on the server loop (where the clients and breakers live) from the worker thread."""
    fallback = EnhanceResult(prompt, DEFAULT_NEGATIVE_PROMPT, None, ["echo_brain"], {})
    loop = getattr(deps, "loop", None) if deps is not None else None
    if not prompt.strip() or loop is None or loop.is_closed() or not loop.is_running():
        return fallback
    try:
        if asyncio.get_running_loop() is loop:
            return fallback  # called on the server loop itself: waiting here would deadlock
    except RuntimeError:
        pass
    future = asyncio.run_coroutine_threadsafe(
        enhance_prompt(prompt, character, echo=deps.echo, kb=deps.kb, budget_s=deps.budget_s,
                       correlation_id=correlation_id), loop)
    try:
        return future.result(deps.budget_s + _GRACE_S)
    except concurrent.futures.TimeoutError:
        future.cancel()
        return fallback
    except Exception:  # noqa: BLE001 - enhancement never fails the prompt
        log.exception("tower.echo_prompt.failed")
        return fallback


class TowerEchoBrainPrompt:
    """Asks Echo Brain to enhance the prompt (with the KB's character sheet); falls back to the input prompt."""

    DESCRIPTION = ("Enhances a prompt through Echo Brain (with the character's sheet from the Tower KB). When either "
                   "service is down, slow or not configured, the input prompt passes through and 'enhanced' is false.")
    CATEGORY = "Tower/Prompt"
    FUNCTION = "execute"
    RETURN_TYPES = ("STRING", "STRING", "BOOLEAN")
    RETURN_NAMES = ("prompt", "negative_prompt", "enhanced")
    OUTPUT_TOOLTIPS = ("The enhanced prompt, or the input prompt when Echo Brain did not answer.",
                       "Echo Brain's negative prompt, or a standard anime negative prompt.",
                       "True when Echo Brain actually rewrote the prompt.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {"prompt": ("STRING", {"multiline": True, "default": "",
                                               "tooltip": "The prompt to enhance."})},
            "optional": {"character": ("STRING", {"default": "", "tooltip": "Character name to look up in the KB "
                                                  "(its sheet informs the rewrite); empty for none."})},
        }

    def execute(self, prompt: str, character: str = "") -> tuple[str, str, bool]:
        rt = get_runtime()
        deps = rt.components.get("reliability") if rt is not None else None
        ctx = current_prompt()
        result = enhance_in_graph(prompt, character or None, deps=deps,
                                  correlation_id=ctx.correlation_id if ctx else None)
        if result.degraded:
            log.info("tower.echo_prompt.degraded", extra={"degraded": result.degraded})
        return (result.enhanced_prompt, result.negative_prompt, result.enhanced)
