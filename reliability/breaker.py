"""A circuit breaker with Resilience4j semantics, safe across asyncio tasks and threads.

States and transitions (time-based ones are taken lazily, on the next acquire/state/stats read)::

    CLOSED ──(failure or slow rate ≥ threshold, ≥ minimum calls in the window)──► OPEN
    OPEN ──(open wait elapsed)──► HALF_OPEN
    HALF_OPEN ──(all permitted probes recorded, rates below thresholds)──► CLOSED
    HALF_OPEN ──(rates ≥ threshold, or max wait in half-open elapsed)──► OPEN
    any ──disable()──► DISABLED (everything passes, nothing recorded)
    any ──force_open()──► FORCED_OPEN (everything rejected)
    any ──reset()──► CLOSED (fresh window, backoff reset)

The open wait is ``wait_in_open_s * multiplier**(n-1)`` for the n-th consecutive opening, jittered by
``±jitter`` and capped at ``max_wait_in_open_s``; it resets when the breaker closes. A ``retry_after`` carried by
a failure (the service's ``Retry-After``) is a floor for the wait, itself bounded by ``max_retry_after_s``.

A call is a *permit*: ``acquire()`` either raises :class:`DependencyUnavailable` at once or returns a permit that
must be settled exactly once with ``success()``, ``failure(exc)`` or ``release()`` (cancelled: neither). Results of
permits issued in an earlier state are ignored (a call that started before the breaker opened does not count
again), except that their ``retry_after`` still extends an open wait. All state lives behind one
``threading.Lock``; listeners run after the lock is released.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import DependencyUnavailable

__all__ = [
    "State",
    "Outcome",
    "BreakerConfig",
    "StateChange",
    "CircuitBreaker",
    "Permit",
    "default_classify",
]

_log = logging.getLogger("tower_sentinel.reliability.breaker")
T = TypeVar("T")


class State(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    DISABLED = "disabled"
    FORCED_OPEN = "forced_open"


class Outcome(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    IGNORE = "ignore"


def default_classify(exc: BaseException) -> Outcome:
    """Cancellation is nobody's fault; a 4xx other than 408/429 is the caller's fault; anything else is a failure."""
    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, GeneratorExit)):
        return Outcome.IGNORE
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
        return Outcome.SUCCESS
    return Outcome.FAILURE


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Thresholds are percentages (0-100); durations are seconds."""

    failure_rate_threshold: float = 50.0
    slow_call_rate_threshold: float = 100.0
    slow_call_duration_s: float = 10.0
    sliding_window_size: int = 20
    minimum_number_of_calls: int = 10
    permitted_calls_in_half_open: int = 3
    max_wait_in_half_open_s: float = 60.0  # 0 = wait for the probes however long they take
    wait_in_open_s: float = 5.0
    wait_multiplier: float = 2.0
    max_wait_in_open_s: float = 300.0
    jitter: float = 0.2  # ±20 % of the wait
    max_retry_after_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.sliding_window_size < 1 or self.minimum_number_of_calls < 1 or self.permitted_calls_in_half_open < 1:
            raise ValueError("window size, minimum calls and half-open permits must be >= 1")
        if not (0 < self.failure_rate_threshold <= 100 and 0 < self.slow_call_rate_threshold <= 100):
            raise ValueError("rate thresholds are percentages in (0, 100]")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")


@dataclass(frozen=True, slots=True)
class StateChange:
    """Handed to listeners on every transition."""

    name: str
    from_state: State
    to_state: State
    at: float  # the breaker's clock
    reason: str
    failure_rate: float
    slow_call_rate: float
    retry_after: float | None  # seconds until the next probe is admitted, when the new state is OPEN


class _Window:
    """Count-based ring of the last ``size`` outcomes with running totals (O(1) per record)."""

    __slots__ = ("size", "minimum", "_ring", "failures", "slow")

    def __init__(self, size: int, minimum: int) -> None:
        self.size = size
        self.minimum = min(minimum, size)
        self._ring: deque[tuple[bool, bool]] = deque()
        self.failures = 0
        self.slow = 0

    def record(self, failed: bool, slow: bool) -> None:
        if len(self._ring) == self.size:
            old_failed, old_slow = self._ring.popleft()
            self.failures -= old_failed
            self.slow -= old_slow
        self._ring.append((failed, slow))
        self.failures += failed
        self.slow += slow

    def __len__(self) -> int:
        return len(self._ring)

    def rates(self) -> tuple[float, float]:
        """(failure %, slow %), or (-1, -1) below the minimum number of calls, as Resilience4j reports it."""
        n = len(self._ring)
        if n < self.minimum:
            return -1.0, -1.0
        return self.failures * 100.0 / n, self.slow * 100.0 / n


class Permit:
    """One admitted call; settle it exactly once. Later settlements are ignored."""

    __slots__ = ("_breaker", "_epoch", "_start", "_done", "_counted")

    def __init__(self, breaker: CircuitBreaker, epoch: int, start: float, counted: bool) -> None:
        self._breaker = breaker
        self._epoch = epoch
        self._start = start
        self._done = False
        self._counted = counted  # holds a half-open probe slot

    def success(self) -> None:
        self._settle(Outcome.SUCCESS, None)

    def failure(self, exc: BaseException | None = None) -> None:
        """Record ``exc`` as classified by the breaker (so a 4xx may still count as success)."""
        outcome = self._breaker._classify(exc) if exc is not None else Outcome.FAILURE
        self._settle(outcome, exc)

    def release(self) -> None:
        """The caller gave up (cancelled): neither success nor failure; a probe slot is given back."""
        self._settle(Outcome.IGNORE, None)

    def _settle(self, outcome: Outcome, exc: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        self._breaker._on_result(self, outcome, exc)


class CircuitBreaker:
    """Guards one dependency. ``await call(fn)`` for coroutines; ``with guard():`` or ``acquire()`` from threads."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        classify: Callable[[BaseException], Outcome] = default_classify,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._rng = rng or random.Random()
        self._classify = classify
        self._lock = threading.Lock()
        self._listeners: list[Callable[[StateChange], None]] = []
        self._state = State.CLOSED
        self._epoch = 0
        self._since = clock()
        self._window = self._closed_window()
        self._open_until = 0.0
        self._open_count = 0  # consecutive openings since last CLOSED, drives the exponential wait
        self._half_open_issued = 0
        self._hint_until = 0.0  # latest Retry-After deadline reported by a failure since the breaker closed
        self._counters = dict.fromkeys(
            ("successful", "failed", "slow", "not_permitted", "cancelled", "ignored_stale", "transitions"), 0
        )

    # ---- public API ----------------------------------------------------------------------------------------------

    def add_listener(self, fn: Callable[[StateChange], None]) -> None:
        """Call ``fn(StateChange)`` after every transition (outside the lock; exceptions are logged, never raised)."""
        self._listeners.append(fn)

    @property
    def state(self) -> State:
        with self._lock:
            events = self._tick(self._clock())
            state = self._state
        self._emit(events)
        return state

    def acquire(self) -> Permit:
        """Admit a call or raise :class:`DependencyUnavailable` immediately."""
        now = self._clock()
        with self._lock:
            events = self._tick(now)
            state = self._state
            if state is State.CLOSED or state is State.DISABLED:
                permit = Permit(self, self._epoch, now, False)
            elif state is State.HALF_OPEN and self._half_open_issued < self.config.permitted_calls_in_half_open:
                self._half_open_issued += 1
                permit = Permit(self, self._epoch, now, True)
            else:
                self._counters["not_permitted"] += 1
                retry_after = max(0.0, self._open_until - now) if state is State.OPEN else None
                permit = None
        self._emit(events)
        if permit is None:
            raise DependencyUnavailable(self.name, retry_after=retry_after)
        return permit

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` through the breaker."""
        permit = self.acquire()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            permit.failure(exc)
            raise
        permit.success()
        return result

    @contextmanager
    def guard(self) -> Iterator[Permit]:
        """Synchronous form: ``with breaker.guard(): do_call()``; raising inside records the exception."""
        permit = self.acquire()
        try:
            yield permit
        except BaseException as exc:
            permit.failure(exc)
            raise
        permit.success()

    def disable(self) -> None:
        self._force(State.DISABLED, "disabled")

    def force_open(self) -> None:
        self._force(State.FORCED_OPEN, "forced_open")

    def reset(self) -> None:
        """Back to CLOSED with an empty window and the open-wait backoff reset."""
        self._force(State.CLOSED, "reset")

    def get_stats(self) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            events = self._tick(now)
            fr, sr = self._window.rates()
            stats = {
                "name": self.name,
                "state": self._state.value,
                "failure_rate": fr,
                "slow_call_rate": sr,
                "buffered_calls": len(self._window),
                "failed_calls": self._window.failures,
                "slow_calls": self._window.slow,
                "half_open_permits_issued": self._half_open_issued if self._state is State.HALF_OPEN else 0,
                "retry_after": max(0.0, self._open_until - now) if self._state is State.OPEN else None,
                "state_age_s": now - self._since,
                "consecutive_openings": self._open_count,
                **self._counters,
            }
        self._emit(events)
        return stats

    # ---- internals: everything below runs with the lock held, except _emit ---------------------------------------

    def _closed_window(self) -> _Window:
        return _Window(self.config.sliding_window_size, self.config.minimum_number_of_calls)

    def _on_result(self, permit: Permit, outcome: Outcome, exc: BaseException | None) -> None:
        now = self._clock()
        retry_after = getattr(exc, "retry_after", None) if exc is not None else None
        with self._lock:
            events = self._tick(now)
            if outcome is Outcome.FAILURE and isinstance(retry_after, (int, float)) and self._state is not State.DISABLED:
                self._hint_until = max(self._hint_until, now + min(float(retry_after), self.config.max_retry_after_s))
                if self._state is State.OPEN:
                    self._open_until = max(self._open_until, self._hint_until)
            if self._state is State.DISABLED:
                pass  # DISABLED records nothing
            elif permit._epoch != self._epoch or self._state is State.FORCED_OPEN:
                # a call admitted in an earlier state: its verdict belongs to that state
                if outcome is not Outcome.IGNORE:
                    self._counters["ignored_stale"] += 1
            elif outcome is Outcome.IGNORE:
                self._counters["cancelled"] += 1
                if permit._counted and self._state is State.HALF_OPEN:
                    self._half_open_issued -= 1
            else:
                failed = outcome is Outcome.FAILURE
                slow = now - permit._start >= self.config.slow_call_duration_s
                self._counters["failed" if failed else "successful"] += 1
                self._counters["slow"] += slow
                self._window.record(failed, slow)
                events += self._evaluate(now)
        self._emit(events)

    def _evaluate(self, now: float) -> list[StateChange]:
        fr, sr = self._window.rates()
        tripped = fr >= self.config.failure_rate_threshold or sr >= self.config.slow_call_rate_threshold
        if self._state is State.CLOSED:
            if fr >= 0 and tripped:
                reason = "failure_rate" if fr >= self.config.failure_rate_threshold else "slow_call_rate"
                return self._to_open(now, reason)
        elif self._state is State.HALF_OPEN:
            if len(self._window) >= self.config.permitted_calls_in_half_open:
                if tripped:
                    return self._to_open(now, "probes_failed")
                return self._transition(State.CLOSED, now, "probes_succeeded")
        return []

    def _tick(self, now: float) -> list[StateChange]:
        """Take the time-based transitions that are due."""
        if self._state is State.OPEN and now >= self._open_until:
            return self._transition(State.HALF_OPEN, now, "open_wait_elapsed")
        if (
            self._state is State.HALF_OPEN
            and self.config.max_wait_in_half_open_s > 0
            and now - self._since >= self.config.max_wait_in_half_open_s
        ):
            return self._to_open(now, "half_open_timeout")
        return []

    def _to_open(self, now: float, reason: str) -> list[StateChange]:
        cfg = self.config
        self._open_count += 1
        wait = cfg.wait_in_open_s * cfg.wait_multiplier ** (self._open_count - 1)
        if cfg.jitter:
            wait *= 1.0 + self._rng.uniform(-cfg.jitter, cfg.jitter)
        self._open_until = max(now + min(wait, cfg.max_wait_in_open_s), self._hint_until)
        return self._transition(State.OPEN, now, reason)

    def _transition(self, to: State, now: float, reason: str) -> list[StateChange]:
        frm = self._state
        fr, sr = self._window.rates()
        self._state = to
        self._epoch += 1
        self._since = now
        self._half_open_issued = 0
        if to is State.CLOSED:
            self._open_count = 0
            self._hint_until = 0.0
            self._window = self._closed_window()
        elif to is State.HALF_OPEN:
            n = self.config.permitted_calls_in_half_open
            self._window = _Window(n, n)
        elif to in (State.DISABLED, State.FORCED_OPEN):
            self._window = self._closed_window()
        self._counters["transitions"] += 1
        retry_after = self._open_until - now if to is State.OPEN else None
        return [StateChange(self.name, frm, to, now, reason, fr, sr, retry_after)]

    def _force(self, to: State, reason: str) -> None:
        now = self._clock()
        with self._lock:
            events = self._transition(to, now, reason) if self._state is not to or to is State.CLOSED else []
        self._emit(events)

    def _emit(self, events: list[StateChange]) -> None:
        for ev in events:
            _log.info(
                "breaker_state_change",
                extra={"breaker": ev.name, "from_state": ev.from_state.value, "to_state": ev.to_state.value,
                       "reason": ev.reason, "failure_rate": ev.failure_rate, "retry_after": ev.retry_after},
            )
            for fn in list(self._listeners):
                try:
                    fn(ev)
                except Exception:  # noqa: BLE001 - a listener's bug never breaks a call
                    _log.exception("breaker_listener_failed", extra={"breaker": self.name})
