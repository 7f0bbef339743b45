"""Retry with full-jitter exponential backoff, a bounded number of attempts and a total deadline.

The order around a dependency is ``retry(breaker(timeout(call)))``: each attempt goes through the breaker, so a
rejection (:class:`DependencyUnavailable`) ends the retrying at once — the breaker already knows the service is
down, and hammering it is what the breaker exists to prevent.

What is retried (:func:`is_retryable`): timeouts, connection errors, HTTP 5xx, 408 and 429, and any error that says
``transient = True``. A ``retry_after`` on the error (the service's ``Retry-After``) is a floor for the next
delay; when it would end past the deadline we stop waiting and re-raise at once rather than sleep into a deadline
we cannot meet. Each attempt also runs under the time left in the deadline.

Sleep, clock and randomness are injected so tests never sleep.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import DependencyUnavailable

try:  # aiohttp is a dependency of the extension, but this module stays importable without it
    from aiohttp import ClientConnectionError as _AiohttpConnectionError
except ImportError:  # pragma: no cover
    _AiohttpConnectionError = ConnectionError  # type: ignore[assignment,misc]

__all__ = ["RetryPolicy", "Retrying", "RetryAttempt", "is_retryable", "backoff_delay"]

_log = logging.getLogger("tower_sentinel.reliability.retry")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    deadline_s: float = 20.0
    base_delay_s: float = 0.25
    max_delay_s: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.deadline_s <= 0 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("attempts >= 1, deadline > 0, delays >= 0")


@dataclass(frozen=True, slots=True)
class RetryAttempt:
    """Handed to ``on_retry`` before each wait: which attempt failed, why, and how long we wait."""

    attempt: int
    error: BaseException
    delay_s: float
    elapsed_s: float


def is_retryable(exc: BaseException) -> bool:
    """Timeouts, connection errors, 5xx, 408 and 429 are worth another try; a breaker rejection never is."""
    if isinstance(exc, DependencyUnavailable):
        return False
    transient = getattr(exc, "transient", None)
    if transient is not None:
        return bool(transient)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status >= 500 or status in (408, 429)
    return isinstance(exc, (TimeoutError, asyncio.TimeoutError, ConnectionError, _AiohttpConnectionError))


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(max_delay, base * multiplier**(attempt-1))]."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * policy.multiplier ** (attempt - 1))
    return rng.uniform(0.0, ceiling)


class Retrying:
    """``await Retrying(policy).call(fn, *args)``: call ``fn`` until it succeeds, fails for good, or time runs out."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        retry_on: Callable[[BaseException], bool] = is_retryable,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_retry: Callable[[RetryAttempt], None] | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._retry_on = retry_on
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_retry = on_retry

    async def call(
        self, fn: Callable[..., Awaitable[T]], *args: Any, deadline_s: float | None = None, **kwargs: Any
    ) -> T:
        """``deadline_s`` narrows the policy's deadline for this call (a caller with a smaller budget)."""
        policy = self.policy
        budget = policy.deadline_s if deadline_s is None else min(deadline_s, policy.deadline_s)
        start = self._clock()
        attempt = 0
        while True:
            attempt += 1
            remaining = budget - (self._clock() - start)
            try:
                return await asyncio.wait_for(fn(*args, **kwargs), timeout=max(remaining, 0.001))
            except Exception as exc:  # CancelledError is a BaseException and always propagates
                elapsed = self._clock() - start
                if attempt >= policy.attempts or not self._retry_on(exc):
                    raise
                delay = backoff_delay(attempt, policy, self._rng)
                retry_after = getattr(exc, "retry_after", None)
                if isinstance(retry_after, (int, float)) and retry_after > delay:
                    delay = float(retry_after)
                if elapsed + delay >= budget:
                    _log.info("retry_deadline", extra={"attempt": attempt, "delay_s": delay, "budget_s": budget})
                    raise
                if self._on_retry is not None:
                    try:
                        self._on_retry(RetryAttempt(attempt, exc, delay, elapsed))
                    except Exception:  # noqa: BLE001 - a hook's bug never changes the outcome
                        _log.exception("retry_hook_failed")
                await self._sleep(delay)
