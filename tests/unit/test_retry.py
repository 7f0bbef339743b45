"""Retry: bounded attempts, total deadline, full-jitter backoff, Retry-After, and what is (not) retryable."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import pytest
from tower_sentinel.reliability.breaker import BreakerConfig, CircuitBreaker
from tower_sentinel.reliability.errors import DependencyUnavailable, EchoBrainError, KBError
from tower_sentinel.reliability.retry import Retrying, RetryPolicy, backoff_delay, is_retryable
from tower_sentinel.tests.fakes.clock import FakeClock


class Flaky:
    """An async callable that raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def retrying(policy: RetryPolicy, clock: FakeClock | None = None, **kw) -> tuple[Retrying, list[float]]:
    clock = clock or FakeClock()
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        clock.advance(s)

    return Retrying(policy, sleep=sleep, clock=clock, rng=random.Random(7), **kw), slept


def e503(**kw) -> EchoBrainError:
    return EchoBrainError("unavailable", status_code=503, **kw)


async def test_retries_transient_errors_until_success_with_full_jitter():
    """Two 503s then success: three calls, and each wait lies in [0, min(max, base*2^(n-1))]."""
    r, slept = retrying(RetryPolicy(attempts=5, deadline_s=60, base_delay_s=1, max_delay_s=30))
    fn = Flaky(e503(), e503())
    assert await r.call(fn) == "ok"
    assert fn.calls == 3
    assert len(slept) == 2
    assert 0 <= slept[0] <= 1 and 0 <= slept[1] <= 2


def test_backoff_ceiling_grows_then_caps():
    """The jitter ceiling doubles per attempt and stops at max_delay; with full jitter the draws spread below it."""
    p = RetryPolicy(base_delay_s=1, max_delay_s=8)
    rng = random.Random(0)
    draws = {n: [backoff_delay(n, p, rng) for _ in range(500)] for n in (1, 2, 3, 4, 6)}
    for n, ceiling in ((1, 1), (2, 2), (3, 4), (4, 8), (6, 8)):
        assert max(draws[n]) <= ceiling
        assert max(draws[n]) > 0.9 * ceiling and min(draws[n]) < 0.1 * ceiling


async def test_attempts_are_bounded():
    """A service that always answers 503 is called exactly `attempts` times and its last error surfaces."""
    r, slept = retrying(RetryPolicy(attempts=4, deadline_s=1000))
    fn = Flaky(*(e503() for _ in range(10)))
    with pytest.raises(EchoBrainError):
        await r.call(fn)
    assert fn.calls == 4 and len(slept) == 3


@pytest.mark.parametrize("exc", [KBError("nope", status_code=404), KBError("bad", status_code=422), ValueError("x"),
                                 EchoBrainError("garbage", transient=False)])
async def test_non_retryable_errors_are_raised_at_once(exc):
    """Caller errors (4xx), programming errors and errors marked non-transient are not retried."""
    r, slept = retrying(RetryPolicy(attempts=5))
    fn = Flaky(exc)
    with pytest.raises(type(exc)):
        await r.call(fn)
    assert fn.calls == 1 and slept == []


async def test_breaker_rejection_is_never_retried():
    """DependencyUnavailable (even with a short retry_after) ends the retrying immediately."""
    r, slept = retrying(RetryPolicy(attempts=5))
    fn = Flaky(DependencyUnavailable("echo_brain", retry_after=0.1))
    with pytest.raises(DependencyUnavailable):
        await r.call(fn)
    assert fn.calls == 1 and slept == []


@pytest.mark.parametrize("exc", [asyncio.TimeoutError(), TimeoutError(), ConnectionRefusedError(),
                                 aiohttp.ServerDisconnectedError(), KBError("x", status_code=429),
                                 KBError("x", status_code=408), KBError("x", status_code=500),
                                 EchoBrainError("error-fallback", transient=True)])
def test_what_is_retryable(exc):
    """Timeouts, connection errors, 5xx, 408, 429 and errors marked transient are retryable."""
    assert is_retryable(exc)


async def test_retry_after_is_honoured():
    """A 429 with Retry-After 7 s waits 7 s, longer than the backoff would."""
    r, slept = retrying(RetryPolicy(attempts=3, deadline_s=60, base_delay_s=0.5))
    fn = Flaky(KBError("slow down", status_code=429, retry_after=7))
    assert await r.call(fn) == "ok"
    assert slept == [7]


async def test_retry_after_past_the_deadline_gives_up_without_sleeping():
    """A Retry-After longer than the time left is clamped: no sleep into a deadline we cannot meet, the error
    (carrying retry_after for the caller) is raised at once."""
    r, slept = retrying(RetryPolicy(attempts=5, deadline_s=10))
    fn = Flaky(e503(retry_after=30))
    with pytest.raises(EchoBrainError) as ei:
        await r.call(fn)
    assert ei.value.retry_after == 30
    assert fn.calls == 1 and slept == []


async def test_total_deadline_bounds_the_sleeping():
    """With a 10 s deadline and 4 s waits, the sum of waits never passes the deadline, whatever attempts allow."""
    r, slept = retrying(RetryPolicy(attempts=100, deadline_s=10, base_delay_s=4, max_delay_s=4, multiplier=1))
    fn = Flaky(*(e503(retry_after=4) for _ in range(100)))
    with pytest.raises(EchoBrainError):
        await r.call(fn)
    assert slept == [4, 4] and fn.calls == 3


async def test_per_call_deadline_narrows_the_policy():
    """call(..., deadline_s=5) uses the smaller of the two budgets."""
    r, slept = retrying(RetryPolicy(attempts=10, deadline_s=100))
    fn = Flaky(*(e503(retry_after=3) for _ in range(10)))
    with pytest.raises(EchoBrainError):
        await r.call(fn, deadline_s=5)
    assert slept == [3] and fn.calls == 2


async def test_an_attempt_cannot_outlive_the_deadline():
    """A hanging attempt is cut at the deadline (real time, 50 ms) instead of waiting forever."""
    r = Retrying(RetryPolicy(attempts=3, deadline_s=0.05))

    async def hang():
        await asyncio.Event().wait()

    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(r.call(hang), timeout=5)


async def test_cancellation_propagates_without_retry():
    """CancelledError from the callee is not an error to retry: it propagates on the first attempt."""
    r, slept = retrying(RetryPolicy(attempts=5))
    fn = Flaky(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await r.call(fn)
    assert fn.calls == 1 and slept == []


async def test_on_retry_hook_sees_each_wait_and_cannot_break_the_call():
    """on_retry gets (attempt, error, delay); a raising hook is contained."""
    seen = []

    def hook(a):
        seen.append((a.attempt, a.delay_s))
        raise RuntimeError("hook bug")

    r, slept = retrying(RetryPolicy(attempts=3, deadline_s=60), on_retry=hook)
    assert await r.call(Flaky(e503(retry_after=2), e503(retry_after=3))) == "ok"
    assert seen == [(1, 2), (2, 3)]


async def test_retry_around_breaker_stops_when_the_breaker_opens():
    """retry(breaker(call)) against a dead service: the breaker opens after its minimum calls and the next
    attempt's rejection ends the retrying, so the service sees exactly minimum_number_of_calls requests."""
    clock = FakeClock()
    breaker = CircuitBreaker("echo_brain", BreakerConfig(sliding_window_size=3, minimum_number_of_calls=3),
                             clock=clock)
    r, slept = retrying(RetryPolicy(attempts=10, deadline_s=1000, base_delay_s=0.01), clock=clock)
    fn = Flaky(*(e503() for _ in range(10)))
    with pytest.raises(DependencyUnavailable):
        await r.call(breaker.call, fn)
    assert fn.calls == 3
