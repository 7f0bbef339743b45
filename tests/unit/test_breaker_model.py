"""Model-based tests of the breaker: a hypothesis state machine against an independent model, and races."""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from tower_sentinel.reliability.breaker import BreakerConfig, CircuitBreaker, Permit, State
from tower_sentinel.reliability.errors import DependencyUnavailable
from tower_sentinel.tests.fakes.clock import FakeClock

N, MIN, FR, SR, SLOW, P, MAX_HALF, WAIT, MULT, CAP = 5, 3, 50.0, 60.0, 2.0, 2, 10.0, 4.0, 2.0, 20.0


class Err(Exception):
    def __init__(self, status_code: int | None) -> None:
        super().__init__(status_code)
        self.status_code = status_code


@dataclass
class Model:
    """The spec, written plainly: a list for the window, the open wait recomputed from scratch."""

    now: float = 0.0
    state: State = State.CLOSED
    epoch: int = 0
    since: float = 0.0
    window: list = field(default_factory=list)
    open_until: float = 0.0
    openings: int = 0
    issued: int = 0
    window_min: int = MIN  # a half-open window (kept when it reopens) needs all P probes

    def enter(self, state: State) -> None:
        # OPEN keeps the window that tripped it, for the stats; every other state starts empty
        self.state, self.epoch, self.since, self.issued = state, self.epoch + 1, self.now, 0
        if state is not State.OPEN:
            self.window = []
            self.window_min = P if state is State.HALF_OPEN else MIN

    def open(self) -> None:
        self.openings += 1
        self.open_until = self.now + min(WAIT * MULT ** (self.openings - 1), CAP)
        self.enter(State.OPEN)

    def tick(self) -> None:
        if self.state is State.OPEN and self.now >= self.open_until:
            self.enter(State.HALF_OPEN)
        elif self.state is State.HALF_OPEN and self.now - self.since >= MAX_HALF:
            self.open()

    def admits(self) -> bool:
        self.tick()
        if self.state in (State.CLOSED, State.DISABLED):
            return True
        if self.state is State.HALF_OPEN and self.issued < P:
            self.issued += 1
            return True
        return False

    def rates(self) -> tuple[float, float]:
        if len(self.window) < self.window_min:
            return -1.0, -1.0
        n = len(self.window)
        return 100.0 * sum(f for f, _ in self.window) / n, 100.0 * sum(s for _, s in self.window) / n

    def finish(self, epoch: int, start: float, kind: str) -> None:
        self.tick()
        if epoch != self.epoch or self.state in (State.DISABLED, State.FORCED_OPEN):
            return
        if kind == "cancel":
            if self.state is State.HALF_OPEN:
                self.issued -= 1
            return
        self.window.append((kind == "failure", self.now - start >= SLOW))
        if self.state is State.CLOSED:
            self.window = self.window[-N:]
        fr, sr = self.rates()
        tripped = fr >= FR or sr >= SR
        if self.state is State.CLOSED and tripped:
            self.open()
        elif self.state is State.HALF_OPEN and len(self.window) == P:
            if tripped:
                self.open()
            else:
                self.openings = 0
                self.enter(State.CLOSED)


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(0.0)
        self.model = Model()
        cfg = BreakerConfig(sliding_window_size=N, minimum_number_of_calls=MIN, failure_rate_threshold=FR,
                            slow_call_rate_threshold=SR, slow_call_duration_s=SLOW, permitted_calls_in_half_open=P,
                            max_wait_in_half_open_s=MAX_HALF, wait_in_open_s=WAIT, wait_multiplier=MULT,
                            max_wait_in_open_s=CAP, jitter=0.0)
        self.breaker = CircuitBreaker("model", cfg, clock=self.clock, rng=random.Random(0))
        self.inflight: list[tuple[Permit, int, float]] = []

    @rule()
    def start_call(self) -> None:
        admitted = self.model.admits()
        try:
            permit = self.breaker.acquire()
        except DependencyUnavailable as exc:
            assert not admitted, "breaker rejected a call the model admits"
            if self.model.state is State.OPEN:
                assert exc.retry_after == pytest.approx(self.model.open_until - self.model.now)
            return
        assert admitted, f"breaker admitted a call the model rejects in {self.model.state}"
        self.inflight.append((permit, self.model.epoch, self.model.now))

    @precondition(lambda self: self.inflight)
    @rule(data=st.data(), kind=st.sampled_from(["success", "failure", "client_error", "cancel"]))
    def finish_call(self, data, kind: str) -> None:
        i = data.draw(st.integers(0, len(self.inflight) - 1))
        permit, epoch, start = self.inflight.pop(i)
        self.model.finish(epoch, start, "success" if kind == "client_error" else kind)
        if kind == "success":
            permit.success()
        elif kind == "failure":
            permit.failure(Err(503))
        elif kind == "client_error":
            permit.failure(Err(404))
        else:
            permit.release()

    @rule(dt=st.sampled_from([0.5, 1.0, 2.0, 3.0, 4.0, 8.0, 10.0, 25.0]))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)
        self.model.now += dt

    @rule(action=st.sampled_from(["disable", "force_open", "reset"]))
    def operator(self, action: str) -> None:
        getattr(self.breaker, action)()
        target = {"disable": State.DISABLED, "force_open": State.FORCED_OPEN, "reset": State.CLOSED}[action]
        if self.model.state is not target or target is State.CLOSED:
            if target is State.CLOSED:
                self.model.openings = 0
            self.model.enter(target)

    @invariant()
    def agrees_with_model(self) -> None:
        self.model.tick()
        stats = self.breaker.get_stats()
        assert stats["state"] == self.model.state.value
        assert stats["buffered_calls"] == len(self.model.window)
        fr, sr = self.model.rates()
        assert stats["failure_rate"] == pytest.approx(fr)
        assert stats["slow_call_rate"] == pytest.approx(sr)
        if self.model.state is State.OPEN:
            assert stats["retry_after"] == pytest.approx(self.model.open_until - self.model.now)


TestBreakerModel = BreakerMachine.TestCase
TestBreakerModel.settings = settings(max_examples=300, stateful_step_count=60, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])


def _half_open_breaker(permitted: int) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    b = CircuitBreaker("race", BreakerConfig(sliding_window_size=2, minimum_number_of_calls=2, wait_in_open_s=1,
                                             permitted_calls_in_half_open=permitted, jitter=0), clock=clock)
    for _ in range(2):
        b.acquire().failure(Err(503))
    clock.advance(1)
    assert b.state is State.HALF_OPEN
    return b, clock


async def test_fifty_concurrent_asyncio_callers_in_half_open_admit_exactly_the_permitted_probes():
    """50 tasks race into HALF_OPEN with 3 permitted probes: exactly 3 calls run, 47 are rejected at once."""
    b, _ = _half_open_breaker(3)
    release = asyncio.Event()
    ran = 0

    async def probe():
        nonlocal ran
        ran += 1
        await release.wait()
        return "ok"

    async def caller():
        try:
            return await b.call(probe)
        except DependencyUnavailable:
            return "rejected"

    tasks = [asyncio.create_task(caller()) for _ in range(50)]
    while sum(t.done() for t in tasks) < 47:
        await asyncio.sleep(0)
    assert ran == 3
    release.set()
    results = await asyncio.gather(*tasks)
    assert results.count("ok") == 3 and results.count("rejected") == 47
    assert b.state is State.CLOSED


def test_fifty_threads_racing_in_half_open_get_exactly_the_permitted_permits():
    """50 threads released by a barrier call acquire() together: exactly 3 permits are granted."""
    b, _ = _half_open_breaker(3)
    barrier = threading.Barrier(50)
    granted: list[Permit] = []
    rejected = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            p = b.acquire()
        except DependencyUnavailable:
            with lock:
                rejected.append(1)
            return
        with lock:
            granted.append(p)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 3 and len(rejected) == 47
    for p in granted:
        p.success()
    assert b.state is State.CLOSED
