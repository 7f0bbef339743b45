"""enhance_prompt against the fakes: it enhances when it can and degrades — never fails — when it cannot."""

from __future__ import annotations

import asyncio
import time

import pytest
from tower_sentinel.reliability.breaker import BreakerConfig, CircuitBreaker
from tower_sentinel.reliability.clients import EchoBrainClient, KBClient
from tower_sentinel.reliability.enhance import DEFAULT_NEGATIVE_PROMPT, enhance_prompt
from tower_sentinel.reliability.retry import Retrying, RetryPolicy
from tower_sentinel.tests.fakes.echo_brain import FakeEchoBrain, fake_enhance
from tower_sentinel.tests.fakes.kb import FakeKB


@pytest.fixture
async def fakes():
    async with FakeEchoBrain() as echo_fake, FakeKB() as kb_fake:
        kb_fake.add_article("Yuki", "silver hair, red scarf, amber eyes", "character")
        yield echo_fake, kb_fake


@pytest.fixture
async def clients(fakes):
    echo_fake, kb_fake = fakes
    echo = EchoBrainClient(echo_fake.url, timeout_s=2, retry=Retrying(RetryPolicy(attempts=1)))
    kb = KBClient(kb_fake.base_url, timeout_s=2, retry=Retrying(RetryPolicy(attempts=1)))
    yield echo, kb
    await echo.close()
    await kb.close()


async def test_both_up_enhances_and_finds_the_sheet(fakes, clients):
    """With both services up: Echo's rewrite, the character's sheet, nothing degraded; the sheet reached Echo."""
    echo_fake, _ = fakes
    echo, kb = clients
    r = await enhance_prompt("a girl in the rain", "Yuki", echo=echo, kb=kb, budget_s=5, correlation_id="c1")
    assert r.enhanced_prompt == fake_enhance("a girl in the rain") and r.enhanced
    assert r.character_sheet["content"].startswith("silver hair") and r.degraded == []
    assert r.negative_prompt == DEFAULT_NEGATIVE_PROMPT
    ask = [q for q in echo_fake.requests if q.path == "/api/echo/ask"][0]
    assert "silver hair" in ask.body["question"] and ask.headers["X-Correlation-ID"] == "c1"


@pytest.mark.parametrize("mode", ["status", "error", "garbage", "reset"])
async def test_echo_misbehaving_degrades_to_the_original_prompt(fakes, clients, mode):
    """Echo answering 503, error-fallback with 200, garbage or dropping the connection: the original prompt is
    used, degraded == ["echo_brain"], the KB part still works."""
    echo_fake, _ = fakes
    echo_fake.misbehave(mode)
    echo, kb = clients
    r = await enhance_prompt("a knight", "Yuki", echo=echo, kb=kb, budget_s=5)
    assert r.enhanced_prompt == "a knight" and not r.enhanced
    assert r.degraded == ["echo_brain"] and r.details["echo_brain"]["status"] == "error"
    assert r.character_sheet is not None


async def test_hanging_echo_is_cut_at_the_budget(fakes, clients):
    """An Echo Brain that never answers costs the budget (0.5 s), not its 2 s timeout, and is reported as timeout."""
    echo_fake, _ = fakes
    echo_fake.misbehave("hang")
    echo, kb = clients
    t0 = time.monotonic()
    r = await enhance_prompt("a cat", None, echo=echo, kb=kb, budget_s=0.5)
    elapsed = time.monotonic() - t0
    assert r.degraded == ["echo_brain"] and r.enhanced_prompt == "a cat"
    assert r.details["echo_brain"]["status"] in ("timeout", "error")
    assert elapsed < 1.5


async def test_kb_down_degrades_kb_only(fakes, clients):
    """A KB that refuses connections gives degraded == ["kb"] and no sheet; Echo still enhances."""
    _, kb_fake = fakes
    await kb_fake.stop_listening()
    echo, kb = clients
    r = await enhance_prompt("a dragon", "Yuki", echo=echo, kb=kb, budget_s=5)
    assert r.degraded == ["kb"] and r.character_sheet is None
    assert r.enhanced_prompt == fake_enhance("a dragon")


async def test_both_down_still_answers(fakes, clients):
    """Both services unreachable: no exception, both names in degraded, the original prompt."""
    echo_fake, kb_fake = fakes
    await echo_fake.stop_listening()
    await kb_fake.stop_listening()
    echo, kb = clients
    r = await enhance_prompt("a robot", "Yuki", echo=echo, kb=kb, budget_s=5)
    assert sorted(r.degraded) == ["echo_brain", "kb"] and r.enhanced_prompt == "a robot"


async def test_open_breaker_degrades_immediately(fakes):
    """With Echo's breaker open the request does not wait: degraded as "unavailable" in milliseconds."""
    echo_fake, _ = fakes
    breaker = CircuitBreaker("echo_brain", BreakerConfig())
    breaker.force_open()
    echo = EchoBrainClient(echo_fake.url, breaker=breaker)
    t0 = time.monotonic()
    r = await enhance_prompt("x", None, echo=echo, kb=None, budget_s=5)
    assert time.monotonic() - t0 < 0.2
    assert r.degraded == ["echo_brain"] and r.details["echo_brain"]["status"] == "unavailable"
    assert echo_fake.requests == []


async def test_not_configured_is_degraded_with_the_reason():
    """No clients (URLs not set): degraded with status not_configured, nothing raised."""
    r = await enhance_prompt("x", "Yuki", echo=None, kb=None, budget_s=1)
    assert sorted(r.degraded) == ["echo_brain", "kb"]
    assert r.details["echo_brain"]["status"] == "not_configured"
    bad = EchoBrainClient.from_env({"ECHO_BRAIN_URL": "::nonsense::"})
    r2 = await enhance_prompt("x", None, echo=bad, kb=None, budget_s=1)
    assert r2.degraded == ["echo_brain"] and "ECHO_BRAIN_URL" in r2.details["echo_brain"]["error"]


async def test_older_api_enhances(fakes):
    """Against a fake that speaks only the older API, enhancement goes through /anime/prompt/refine and uses its
    negative prompt."""
    echo_fake, kb_fake = fakes
    echo_fake.legacy = True
    echo = EchoBrainClient(echo_fake.url, timeout_s=2)
    kb = KBClient(kb_fake.base_url, timeout_s=2)
    r = await enhance_prompt("a knight", "Yuki", echo=echo, kb=kb, budget_s=5)
    assert r.degraded == [] and r.enhanced_prompt == "a knight, Yuki, refined anime style"
    assert r.negative_prompt == "legacy negative, lowres" and r.details["echo_brain"]["api"] == "legacy"
    await echo.close()
    await kb.close()


async def test_many_generation_requests_during_an_outage_all_succeed_degraded(fakes):
    """30 concurrent enhancements while Echo answers 503: all return (degraded), the breaker opens within its
    minimum number of calls, and later requests do not reach the service."""
    echo_fake, _ = fakes
    echo_fake.misbehave("status", status=503)
    breaker = CircuitBreaker("echo_brain", BreakerConfig(sliding_window_size=5, minimum_number_of_calls=5))
    echo = EchoBrainClient(echo_fake.url, timeout_s=2, breaker=breaker, retry=Retrying(RetryPolicy(attempts=1)))
    first = await asyncio.gather(*(enhance_prompt(f"p{i}", None, echo=echo, kb=None, budget_s=5) for i in range(5)))
    assert breaker.state.value == "open"
    reached = len(echo_fake.requests)
    rest = await asyncio.gather(*(enhance_prompt(f"q{i}", None, echo=echo, kb=None, budget_s=5) for i in range(25)))
    assert all(r.degraded == ["echo_brain"] for r in first + rest)
    assert reached == 5 and len(echo_fake.requests) == 5
    await echo.close()


async def test_caller_cancellation_propagates(fakes, clients):
    """Cancelling the caller cancels the enhancement (CancelledError is not swallowed into `degraded`)."""
    echo_fake, _ = fakes
    echo_fake.misbehave("hang")
    echo, kb = clients
    task = asyncio.create_task(enhance_prompt("x", "Yuki", echo=echo, kb=kb, budget_s=5))
    deadline = time.monotonic() + 5
    while not echo_fake.requests and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
