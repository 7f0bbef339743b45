"""The outbox worker: backoff, dead letters, requeue, and delivery through the real clients to the fakes —
no report is lost while a service answers 503, and everything drains once it recovers."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from tower_sentinel.reliability.breaker import BreakerConfig, CircuitBreaker, State
from tower_sentinel.reliability.clients import EchoBrainClient, KBClient
from tower_sentinel.reliability.errors import DependencyUnavailable, KBError
from tower_sentinel.reliability.outbox import (
    ECHO_FEEDBACK,
    ECHO_LEARNING,
    KB_ARTICLE,
    MemoryOutboxStore,
    OutboxConfig,
    OutboxThread,
    OutboxWorker,
    default_senders,
    failure_report_payload,
)
from tower_sentinel.reliability.outbox_sqlite import SQLiteOutboxStore
from tower_sentinel.reliability.retry import Retrying, RetryPolicy
from tower_sentinel.tests.fakes.clock import FakeClock
from tower_sentinel.tests.fakes.echo_brain import FakeEchoBrain
from tower_sentinel.tests.fakes.kb import FakeKB

HOUR = 3600.0


class ScriptedSender:
    """A sender that raises the scripted errors in turn, then succeeds; records the items it saw."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.seen = []

    async def __call__(self, item):
        self.seen.append(item)
        if self.errors:
            raise self.errors.pop(0)


def worker_with(sender, clock, **cfg) -> OutboxWorker:
    config = OutboxConfig(**{"base_delay_s": 30.0, "max_delay_s": HOUR, **cfg})
    return OutboxWorker(MemoryOutboxStore(), {KB_ARTICLE: sender, ECHO_FEEDBACK: sender}, config, clock=clock,
                        rng=random.Random(5))


async def test_enqueue_is_store_first_and_idempotent():
    """enqueue only writes to the store (nothing is sent); the same idempotency key twice is one item."""
    sender = ScriptedSender()
    w = worker_with(sender, FakeClock())
    a = w.enqueue(KB_ARTICLE, failure_report_payload("Daily", "# x"), idempotency_key="failure-analysis:2025-01-01")
    b = w.enqueue(KB_ARTICLE, failure_report_payload("Daily", "# x"), idempotency_key="failure-analysis:2025-01-01")
    assert a.id == b.id and sender.seen == []
    assert w.get_stats()["pending"] == 1
    assert a.payload["category"] == "learning-analysis"
    assert a.payload["tags"] == ["anime-production", "failure-analysis", "learning"]
    with pytest.raises(ValueError):
        w.enqueue("email", {})


async def test_failures_back_off_exponentially_with_retry_after_as_floor():
    """Each failure reschedules at base*2^attempts (jittered 50-100 %), and a Retry-After longer than that wins."""
    clock = FakeClock(0.0)
    sender = ScriptedSender(KBError("down", status_code=503), KBError("down", status_code=503),
                            KBError("busy", status_code=429, retry_after=900))
    w = worker_with(sender, clock)
    it = w.enqueue(KB_ARTICLE, {"title": "t", "content": "c"})
    delays = []
    for _ in range(3):
        report = await w.run_once()
        assert report.failed == 1
        nxt = w.store.get(it.id).next_attempt_at
        delays.append(nxt - clock.now)
        assert (await w.run_once()).attempted == 0  # not due yet
        clock.now = nxt
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60 and delays[2] == 900
    assert (await w.run_once()).delivered == 1
    got = w.store.get(it.id)
    assert got.status == "delivered" and got.attempts == 4


async def test_gives_up_after_max_age_and_requeue_delivers_the_dead_letter():
    """An item failing for 24 h becomes a dead letter (kept, counted); requeue() makes it deliverable again."""
    clock = FakeClock(0.0)
    sender = ScriptedSender(*(KBError("down", status_code=503) for _ in range(1000)))
    w = worker_with(sender, clock)
    it = w.enqueue(KB_ARTICLE, {"title": "t", "content": "c"})
    while w.store.get(it.id).status == "pending":
        clock.now = max(clock.now, w.store.get(it.id).next_attempt_at)
        await w.run_once()
    dead = w.store.get(it.id)
    assert dead.status == "dead" and "gave up after 24 h" in dead.last_error
    assert 22 * HOUR <= clock.now <= 24 * HOUR
    assert w.get_stats()["dead"] == 1
    sender.errors.clear()
    assert w.requeue(it.id)
    assert (await w.run_once()).delivered == 1


async def test_a_refused_payload_is_dead_at_once():
    """A 422 from the service will not change with retries: dead letter on the first attempt."""
    w = worker_with(ScriptedSender(KBError("bad", status_code=422)), FakeClock())
    it = w.enqueue(KB_ARTICLE, {"title": "t", "content": "c"})
    assert (await w.run_once()).dead == 1
    assert w.store.get(it.id).status == "dead"


async def test_open_breaker_blocks_the_kind_for_the_round():
    """A breaker rejection reschedules that item at the breaker's retry_after and leaves the kind's other items
    untouched (not hammered, not counted) for this round."""
    clock = FakeClock(0.0)
    sender = ScriptedSender(DependencyUnavailable("kb", retry_after=120))
    w = worker_with(sender, clock)
    first = w.enqueue(KB_ARTICLE, {"n": 1})
    clock.advance(1)
    others = [w.enqueue(KB_ARTICLE, {"n": n}) for n in range(2, 5)]
    report = await w.run_once()
    assert report.failed == 1 and report.blocked_kinds == (KB_ARTICLE,) and len(sender.seen) == 1
    assert w.store.get(first.id).next_attempt_at >= 120
    assert all(w.store.get(o.id).attempts == 0 for o in others)


# ---- through the real clients against the fakes -----------------------------------------------------------------


async def test_no_report_is_lost_while_503_and_everything_drains_after_recovery(tmp_path):
    """KB and Echo Brain answer 503 for an hour while 5 failure reports and 4 learning/feedback items are queued in
    the SQLite outbox: nothing is delivered, nothing is lost, both breakers open. When the fakes recover, the outbox
    drains, each report exists exactly once (Idempotency-Key held across attempts), and each breaker closed
    through HALF_OPEN."""
    clock = FakeClock(1_000_000.0)

    async def fake_sleep(s):
        clock.advance(s)

    def breaker(name):
        b = CircuitBreaker(name, BreakerConfig(sliding_window_size=4, minimum_number_of_calls=4, wait_in_open_s=60,
                                               max_wait_in_open_s=600, permitted_calls_in_half_open=2, jitter=0.1),
                           clock=clock, rng=random.Random(1))
        return b

    transitions = {"kb": [], "echo_brain": []}
    async with FakeKB() as kb_fake, FakeEchoBrain() as echo_fake:
        kb = KBClient(kb_fake.base_url, timeout_s=2, breaker=breaker("kb"),
                      retry=Retrying(RetryPolicy(attempts=2, deadline_s=30), sleep=fake_sleep, clock=clock))
        echo = EchoBrainClient(echo_fake.url, timeout_s=2, breaker=breaker("echo_brain"),
                               retry=Retrying(RetryPolicy(attempts=2, deadline_s=30), sleep=fake_sleep, clock=clock))
        for c in (kb, echo):
            c.breaker.add_listener(lambda ev, n=c.name: transitions[n].append((ev.from_state, ev.to_state)))
        store = SQLiteOutboxStore(tmp_path / "tower.db")
        w = OutboxWorker(store, default_senders(echo=echo, kb=kb, budget_s=30),
                         OutboxConfig(base_delay_s=30, max_delay_s=600), clock=clock, rng=random.Random(2))
        kb_fake.misbehave("status", status=503)
        echo_fake.misbehave("status", status=503)
        ids = [w.enqueue(KB_ARTICLE, failure_report_payload(f"Failure analysis {d}", f"# day {d}"),
                         idempotency_key=f"failure-analysis:{d}").id for d in range(5)]
        ids += [w.enqueue(kind, {"content": f"{kind} {n}"}).id for n in range(2) for kind in (ECHO_FEEDBACK,
                                                                                         ECHO_LEARNING)]
        while clock.now < 1_000_000.0 + HOUR:
            await w.run_once()
            clock.advance(20)
        assert kb_fake.articles == [] and echo_fake.learned == []
        assert kb.breaker.state is not State.CLOSED and echo.breaker.state is not State.CLOSED
        assert (State.CLOSED, State.OPEN) in transitions["kb"] and (State.CLOSED, State.OPEN) in transitions[
            "echo_brain"]
        stats = w.get_stats()
        assert stats["pending"] == 9 and stats["dead"] == 0 and stats["delivered"] == 0
        kb_posts_while_down = kb_fake.posts

        kb_fake.behave()
        echo_fake.behave()
        deadline = clock.now + 2 * HOUR
        while w.get_stats()["pending"] and clock.now < deadline:
            await w.run_once()
            clock.advance(20)
        stats = w.get_stats()
        assert stats["delivered"] == 9 and stats["pending"] == 0 and stats["dead"] == 0
        assert sorted(a["title"] for a in kb_fake.articles) == [f"Failure analysis {d}" for d in range(5)]
        assert all(a["category"] == "learning-analysis" for a in kb_fake.articles)
        assert all(a["tags"] == ["anime-production", "failure-analysis", "learning"] for a in kb_fake.articles)
        assert len(echo_fake.learned) == 4
        for name, client in (("kb", kb), ("echo_brain", echo)):
            assert client.breaker.state is State.CLOSED
            assert transitions[name][-2:] == [(State.OPEN, State.HALF_OPEN), (State.HALF_OPEN, State.CLOSED)]
        keys = {r.headers["Idempotency-Key"] for r in kb_fake.requests if r.method == "POST"}
        assert keys == {f"failure-analysis:{d}" for d in range(5)}
        assert kb_posts_while_down < 5 * 60  # the breaker kept the outbox from hammering the dead KB
        for i in ids:
            assert store.get(i).status == "delivered"
        store.close()
        await kb.close()
        await echo.close()


async def test_reports_survive_a_restart_of_the_process(tmp_path):
    """Items queued while the KB was unreachable are delivered by a new worker on a reopened SQLite store."""
    path = tmp_path / "tower.db"
    async with FakeKB() as kb_fake:
        await kb_fake.stop_listening()
        kb = KBClient(kb_fake.base_url, timeout_s=1, retry=Retrying(RetryPolicy(attempts=1)))
        store = SQLiteOutboxStore(path)
        w = OutboxWorker(store, default_senders(kb=kb), OutboxConfig(base_delay_s=0.001, max_delay_s=0.001))
        w.enqueue(KB_ARTICLE, failure_report_payload("Before restart", "x"), idempotency_key="r1")
        assert (await w.run_once()).failed == 1
        store.close()
        await kb.close()

        await kb_fake.resume_listening()
        kb2 = KBClient(kb_fake.base_url, timeout_s=1)
        store2 = SQLiteOutboxStore(path)
        w2 = OutboxWorker(store2, default_senders(kb=kb2))
        assert (await w2.run_once()).delivered == 1
        assert [a["title"] for a in kb_fake.articles] == ["Before restart"]
        store2.close()
        await kb2.close()


async def test_outbox_thread_delivers_and_stops_cleanly():
    """The worker in its own daemon thread delivers an item woken by enqueue, and stop() ends the thread."""
    async with FakeKB() as kb_fake:
        kb = KBClient(kb_fake.base_url, timeout_s=2)
        w = OutboxWorker(MemoryOutboxStore(), default_senders(kb=kb), OutboxConfig(poll_interval_s=60))
        thread = OutboxThread(w, clients=[kb])
        thread.start()
        try:
            w.enqueue(KB_ARTICLE, failure_report_payload("From the thread", "x"))
            thread.wake()
            deadline = time.monotonic() + 10
            while not kb_fake.articles and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert [a["title"] for a in kb_fake.articles] == ["From the thread"]
        finally:
            assert await asyncio.to_thread(thread.stop, 5.0)
        assert not thread.alive
