"""Prompt enhancement for generation: Echo Brain rewrites the prompt, the KB supplies the character sheet.

Both run concurrently inside one budget. A dependency that is down, slow, rejected by its breaker, not configured
or answering nonsense never raises out of here: its name lands in ``degraded`` (``"echo_brain"``, ``"kb"``) with
the reason in ``details``, and generation goes on with the original prompt. Echo waits briefly for the sheet (a
cached or fast KB informs the rewrite; a slow one does not hold it up). Only the caller's own cancellation
propagates.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DependencyUnavailable, TowerError

__all__ = ["EnhanceResult", "enhance_prompt", "budget_from_env", "DEFAULT_NEGATIVE_PROMPT", "ECHO_BRAIN", "KB"]

_log = logging.getLogger("tower_sentinel.reliability.enhance")

ECHO_BRAIN = "echo_brain"
KB = "kb"
DEFAULT_NEGATIVE_PROMPT = (
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, "
    "worst quality, low quality, jpeg artifacts, signature, watermark, username, blurry"
)


@dataclass(frozen=True, slots=True)
class EnhanceResult:
    enhanced_prompt: str
    negative_prompt: str
    character_sheet: dict[str, Any] | None
    degraded: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def enhanced(self) -> bool:
        """Whether Echo Brain actually rewrote the prompt."""
        return self.details.get(ECHO_BRAIN, {}).get("status") == "ok"


def budget_from_env(env: Mapping[str, str] | None = None, default: float = 15.0) -> float:
    """``TOWER_ENHANCE_BUDGET_S``: the seconds a generation request waits for Echo Brain and the KB together."""
    env = os.environ if env is None else env
    try:
        value = float(env.get("TOWER_ENHANCE_BUDGET_S") or default)
    except ValueError:
        return default
    return value if value > 0 else default


def _failure(exc: BaseException, started: float) -> dict[str, Any]:
    if isinstance(exc, DependencyUnavailable):
        status = "not_configured" if "not configured" in exc.message else "unavailable"
        return {"status": status, "error": exc.message, "retry_after": exc.retry_after,
                "duration_s": time.monotonic() - started}
    if isinstance(exc, asyncio.TimeoutError):
        return {"status": "timeout", "error": "budget exhausted", "duration_s": time.monotonic() - started}
    message = exc.message if isinstance(exc, TowerError) else f"{type(exc).__name__}: {exc}"
    return {"status": "error", "error": message[:300], "duration_s": time.monotonic() - started}


def _sheet_text(sheet: dict[str, Any] | None) -> str | None:
    if not sheet:
        return None
    text = sheet.get("content") or sheet.get("canonical_description") or sheet.get("description")
    return str(text) if text else None


async def enhance_prompt(
    prompt: str,
    character: str | None = None,
    *,
    echo: Any,
    kb: Any,
    budget_s: float = 15.0,
    correlation_id: str | None = None,
    sheet_wait_s: float = 1.0,
) -> EnhanceResult:
    """Enhance ``prompt`` (and look up ``character``'s sheet) within ``budget_s``; never raises for a dependency.

    ``echo``/``kb`` are an :class:`EchoBrainClient`/:class:`KBClient` or ``None`` (not configured).
    """
    t0 = time.monotonic()
    details: dict[str, Any] = {}
    character = (character or "").strip() or None

    async def lookup() -> dict[str, Any] | None:
        if kb is None:
            raise DependencyUnavailable(KB, message="kb is not configured: TOWER_KB_URL is not set")
        return await kb.find_character_sheet(character, correlation_id=correlation_id, budget_s=budget_s)

    sheet_task = asyncio.ensure_future(lookup()) if character else None

    async def rewrite() -> Any:
        if echo is None:
            raise DependencyUnavailable(ECHO_BRAIN, message="echo_brain is not configured: ECHO_BRAIN_URL is not set")
        sheet = None
        if sheet_task is not None:
            done, _ = await asyncio.wait({sheet_task}, timeout=min(sheet_wait_s, budget_s / 4))
            if done and not sheet_task.cancelled() and sheet_task.exception() is None:
                sheet = sheet_task.result()
        remaining = budget_s - (time.monotonic() - t0)
        return await echo.refine_prompt(prompt, character_name=character, character_sheet=_sheet_text(sheet),
                                        correlation_id=correlation_id, budget_s=max(remaining, 0.001))

    echo_task = asyncio.ensure_future(rewrite())
    tasks = {echo_task} | ({sheet_task} if sheet_task is not None else set())
    try:
        await asyncio.wait(tasks, timeout=budget_s)
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
    if any(not t.done() for t in tasks):
        await asyncio.wait(tasks)  # let cancelled tasks finish so nothing outlives the call

    degraded: list[str] = []
    enhanced, negative, sheet = prompt, DEFAULT_NEGATIVE_PROMPT, None

    def outcome(task: asyncio.Future[Any]) -> tuple[Any, BaseException | None]:
        if task.cancelled():
            return None, asyncio.TimeoutError()
        return (task.result(), None) if task.exception() is None else (None, task.exception())

    refined, err = outcome(echo_task)
    if err is None and refined is not None:
        enhanced = refined.enhanced_prompt
        negative = refined.negative_prompt or DEFAULT_NEGATIVE_PROMPT
        details[ECHO_BRAIN] = {"status": "ok", "api": refined.api, "model": refined.model,
                               "duration_s": time.monotonic() - t0}
    else:
        degraded.append(ECHO_BRAIN)
        details[ECHO_BRAIN] = _failure(err or RuntimeError("no answer"), t0)

    if sheet_task is not None:
        sheet, err = outcome(sheet_task)
        if err is None:
            details[KB] = {"status": "ok" if sheet else "not_found", "duration_s": time.monotonic() - t0}
        else:
            degraded.append(KB)
            details[KB] = _failure(err, t0)

    if degraded:
        _log.info("enhance_degraded", extra={"degraded": degraded, "correlation_id": correlation_id,
                                             "reasons": {k: details[k]["status"] for k in degraded}})
    return EnhanceResult(enhanced, negative, sheet, degraded, details)
