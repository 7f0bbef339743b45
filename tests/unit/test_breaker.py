"""The circuit breaker, read like its spec: window, thresholds, waits, half-open, cancellation, listeners."""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time

import pytest
from tower_sentinel.reliability.breaker import BreakerConfig, CircuitBreaker, Outcome, State, default_classify
from tower_sentinel.reliability.errors import DependencyUnavailable, EchoBrainError, KBError
from tower_sentinel.tests.fakes.clock import FakeClock


class Boom(Exception):
    def __init__(self, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"boom {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after


def make(clock: FakeClock, **kw) -> CircuitBreaker:
    cfg = dict(
        sliding_window_size=4, minimum_number_of_calls=4, failure_rate_threshold=50, slow_call_rate_threshold=100,
        slow_call_duration_s=5, permitted_calls_in_half_open=2, max_wait_in_half_open_s=30, wait_in_open_s=10,
        wait_multiplier=2, max_wait_in_open_s=35, jitter=0,
    )
    cfg.update(kw)
    return CircuitBreaker("dep", BreakerConfig(**cfg), clock=clock, rng=random.Random(1))


def fail(b: CircuitBreaker, exc: BaseException | None = None) -> None:
    b.acquire().failure(exc or Boom(503))


def ok(b: CircuitBreaker) -> None:
    b.acquire().success()


def trip(b: CircuitBreaker) -> None:
    for _ in range(b.config.minimum_number_of_calls):
        fail(b)
    assert b.state is State.OPEN


def test_opens_exactly_at_minimum_number_of_calls():
    """Failures below the minimum number of calls never open it; the call that reaches the minimum does."""
    b = make(FakeClock())
    for _ in range(3):
        fail(b)
    assert b.state is State.CLOSED
    assert b.get_stats()["failure_rate"] == -1.0
    fail(b)
    assert b.state is State.OPEN


def test_window_slides_and_threshold_is_inclusive():
    """Only the last N calls count, and a rate equal to the threshold opens (Resilience4j's >=)."""
    b = make(FakeClock())
    for _ in range(4):
        ok(b)
    fail(b)  # window S S S F -> 25 %
    assert b.state is State.CLOSED and b.get_stats()["failure_rate"] == 25.0
    for _ in range(4):
        ok(b)  # the failure slides out
    assert b.get_stats()["failed_calls"] == 0
    ok(b)
    ok(b)
    fail(b)
    assert b.state is State.CLOSED  # S S S F = 25 %
    fail(b)  # S S F F = 50 %
    assert b.state is State.OPEN


def test_slow_calls_open_even_when_they_succeed():
    """A window of successful calls that all took longer than the slow threshold opens on the slow-call rate."""
    clock = FakeClock()
    b = make(clock, slow_call_rate_threshold=75)
    for _ in range(4):
        p = b.acquire()
        clock.advance(5)
        p.success()
    assert b.state is State.OPEN
    assert b.get_stats()["slow"] == 4


@pytest.mark.parametrize("status,counts_as", [(400, Outcome.SUCCESS), (404, Outcome.SUCCESS), (422, Outcome.SUCCESS),
                                              (408, Outcome.FAILURE), (429, Outcome.FAILURE), (500, Outcome.FAILURE),
                                              (503, Outcome.FAILURE), (None, Outcome.FAILURE)])
def test_client_errors_are_the_callers_fault(status, counts_as):
    """4xx other than 408/429 counts as success for the breaker; 408, 429, 5xx and transport errors are failures."""
    assert default_classify(Boom(status)) is counts_as
    b = make(FakeClock())
    for _ in range(4):
        fail(b, Boom(status))
    assert (b.state is State.OPEN) == (counts_as is Outcome.FAILURE)


def test_our_dependency_errors_are_classified_by_status():
    """EchoBrainError/KBError carry status_code, so the classifier sees a KB 404 as the caller's fault."""
    assert default_classify(KBError("missing", status_code=404)) is Outcome.SUCCESS
    assert default_classify(EchoBrainError("down", status_code=502)) is Outcome.FAILURE
    assert default_classify(asyncio.CancelledError()) is Outcome.IGNORE


def test_rejection_is_immediate_with_remaining_wait():
    """While OPEN, acquire raises DependencyUnavailable whose retry_after is the remaining open wait."""
    clock = FakeClock()
    b = make(clock)
    trip(b)
    clock.advance(3)
    with pytest.raises(DependencyUnavailable) as ei:
        b.acquire()
    assert ei.value.dependency == "dep"
    assert ei.value.retry_after == pytest.approx(7)
    assert b.get_stats()["not_permitted"] == 1


def test_open_wait_grows_exponentially_caps_and_resets_after_closing():
    """Consecutive openings wait 10, 20, 35 (cap) s; after closing through HALF_OPEN the next opening waits 10 s."""
    clock = FakeClock()
    b = make(clock)
    trip(b)
    waits = []
    for _ in range(3):
        waits.append(b.get_stats()["retry_after"])
        clock.advance(waits[-1])
        assert b.state is State.HALF_OPEN
        fail(b)
        fail(b)
        assert b.state is State.OPEN
    assert waits == [10, 20, 35]
    clock.advance(35)
    ok(b)
    ok(b)
    assert b.state is State.CLOSED
    trip(b)
    assert b.get_stats()["retry_after"] == 10


def test_jitter_stays_within_its_band():
    """With jitter j, each open wait lies in [w(1-j), w(1+j)] and is not always the same number."""
    waits = set()
    for seed in range(30):
        clock = FakeClock()
        b = CircuitBreaker("dep", BreakerConfig(sliding_window_size=1, minimum_number_of_calls=1, wait_in_open_s=10,
                                                jitter=0.2), clock=clock, rng=random.Random(seed))
        fail(b)
        waits.add(b.get_stats()["retry_after"])
    assert all(8 <= w <= 12 for w in waits)
    assert len(waits) > 10


def test_retry_after_is_a_floor_for_the_open_wait():
    """A failure carrying the service's Retry-After (60 s) keeps the breaker open at least that long."""
    clock = FakeClock()
    b = make(clock)
    fail(b, Boom(503, retry_after=60))
    for _ in range(3):
        fail(b)
    assert b.state is State.OPEN
    assert b.get_stats()["retry_after"] == pytest.approx(60)
    clock.advance(59)
    assert b.state is State.OPEN
    clock.advance(1)
    assert b.state is State.HALF_OPEN


def test_retry_after_of_a_late_result_extends_the_open_wait():
    """A call admitted while CLOSED that fails after the breaker opened does not count again, but its
    Retry-After still pushes the open wait out."""
    clock = FakeClock()
    b = make(clock)
    late = b.acquire()
    trip(b)
    late.failure(Boom(503, retry_after=100))
    s = b.get_stats()
    assert s["retry_after"] == pytest.approx(100)
    assert s["ignored_stale"] == 1


def test_half_open_closes_after_permitted_successes_and_reopens_on_failure():
    """HALF_OPEN decides only when all permitted probes are recorded: both succeed -> CLOSED; one of two fails
    (50 % = threshold) -> OPEN."""
    clock = FakeClock()
    b = make(clock)
    trip(b)
    clock.advance(10)
    p1, p2 = b.acquire(), b.acquire()
    with pytest.raises(DependencyUnavailable):
        b.acquire()
    p1.success()
    assert b.state is State.HALF_OPEN
    p2.success()
    assert b.state is State.CLOSED
    trip(b)
    clock.advance(10)
    ok(b)
    fail(b)
    assert b.state is State.OPEN


def test_half_open_max_wait_goes_back_to_open():
    """Probes that never finish do not hold HALF_OPEN forever: after max_wait_in_half_open it is OPEN again,
    and the stuck probes' late results are ignored."""
    clock = FakeClock()
    b = make(clock)
    trip(b)
    clock.advance(10)
    stuck = b.acquire()
    clock.advance(30)
    assert b.state is State.OPEN
    stuck.success()
    assert b.state is State.OPEN
    assert b.get_stats()["ignored_stale"] == 1


async def test_cancellation_is_neither_success_nor_failure_and_releases_the_probe():
    """A probe whose caller is cancelled frees its slot: another caller is admitted; nothing was recorded."""
    clock = FakeClock()
    b = make(clock, permitted_calls_in_half_open=1)
    trip(b)
    clock.advance(10)
    started = asyncio.Event()

    async def hang():
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(b.call(hang))
    await started.wait()
    with pytest.raises(DependencyUnavailable):
        b.acquire()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    s = b.get_stats()
    assert s["cancelled"] == 1 and s["buffered_calls"] == 0 and s["state"] == "half_open"
    await b.call(asyncio.sleep, 0)
    assert b.state is State.CLOSED


async def test_async_call_records_success_and_failure():
    """call() passes the result through, records success, and re-raises (and records) the callee's exception."""
    b = make(FakeClock())

    async def good():
        return 42

    async def bad():
        raise Boom(500)

    assert await b.call(good) == 42
    with pytest.raises(Boom):
        await b.call(bad)
    s = b.get_stats()
    assert (s["successful"], s["failed"], s["buffered_calls"]) == (1, 1, 2)


def test_sync_guard_from_threads():
    """The context-manager API works from plain threads and records what was raised inside it."""
    b = make(FakeClock(), sliding_window_size=40, minimum_number_of_calls=40)

    def worker(i: int) -> None:
        try:
            with b.guard():
                if i % 2:
                    raise Boom(503)
        except Boom:
            pass

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = b.get_stats()
    assert (s["successful"], s["failed"]) == (10, 10)


def test_disabled_and_forced_open():
    """DISABLED admits everything and records nothing; FORCED_OPEN rejects everything; reset() closes."""
    b = make(FakeClock())
    b.disable()
    for _ in range(10):
        fail(b)
    s = b.get_stats()
    assert b.state is State.DISABLED and s["buffered_calls"] == 0 and s["failed"] == 0 and s["ignored_stale"] == 0
    b.force_open()
    with pytest.raises(DependencyUnavailable) as ei:
        b.acquire()
    assert ei.value.retry_after is None
    b.reset()
    ok(b)
    assert b.state is State.CLOSED


def test_listeners_see_every_transition_and_cannot_break_calls():
    """Listeners get CLOSED->OPEN->HALF_OPEN->CLOSED with reasons; a raising listener is contained."""
    clock = FakeClock()
    b = make(clock)
    seen = []

    def buggy(ev):
        raise RuntimeError("listener bug")

    b.add_listener(buggy)
    b.add_listener(seen.append)
    trip(b)
    clock.advance(10)
    ok(b)
    ok(b)
    assert [(e.from_state, e.to_state, e.reason) for e in seen] == [
        (State.CLOSED, State.OPEN, "failure_rate"),
        (State.OPEN, State.HALF_OPEN, "open_wait_elapsed"),
        (State.HALF_OPEN, State.CLOSED, "probes_succeeded"),
    ]
    assert seen[0].failure_rate == 100.0 and seen[0].retry_after == 10


def test_rejections_take_under_a_millisecond():
    """The median cost of a rejected call (acquire + DependencyUnavailable) is well under 1 ms."""
    b = make(FakeClock())
    trip(b)
    samples = []
    for _ in range(2000):
        t0 = time.perf_counter()
        try:
            b.acquire()
        except DependencyUnavailable:
            pass
        samples.append(time.perf_counter() - t0)
    median = statistics.median(samples)
    print(f"rejection median {median * 1e6:.1f} us, p99 {sorted(samples)[1980] * 1e6:.1f} us")
    assert median < 0.001


def test_stats_are_plain_data():
    """get_stats() reports state, rates, buffered calls, retry_after and counters as a plain dict."""
    b = make(FakeClock())
    s = b.get_stats()
    for key in ("state", "failure_rate", "slow_call_rate", "buffered_calls", "retry_after", "successful", "failed",
                "not_permitted", "cancelled"):
        assert key in s
    assert s["state"] == "closed"


def test_config_is_validated():
    """Nonsense settings are refused at construction."""
    with pytest.raises(ValueError):
        BreakerConfig(failure_rate_threshold=0)
    with pytest.raises(ValueError):
        BreakerConfig(sliding_window_size=0)
