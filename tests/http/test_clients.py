"""EchoBrainClient and KBClient against our fake services on 127.0.0.1: the happy paths, every misbehaviour,
API detection, correlation and idempotency headers, operation reporting and configuration errors."""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import pytest
from tower_sentinel.reliability._http import Response as _Response
from tower_sentinel.reliability.breaker import BreakerConfig, CircuitBreaker, State
from tower_sentinel.reliability.clients import (
    EchoBrainClient,
    KBClient,
    _check_echo_answer,
    parse_retry_after,
    refine_question,
    validate_base_url,
)
from tower_sentinel.reliability.errors import DependencyUnavailable, EchoBrainError, KBError
from tower_sentinel.reliability.retry import Retrying, RetryPolicy
from tower_sentinel.tests.fakes.clock import FakeClock
from tower_sentinel.tests.fakes.echo_brain import FakeEchoBrain, fake_enhance
from tower_sentinel.tests.fakes.kb import FakeKB


class Ops(list):
    """Collects on_operation calls."""

    def __call__(self, operation_type, start, end, success, error_details, correlation_id):
        assert end >= start
        self.append((operation_type, success, error_details, correlation_id))


class Harness:
    """A client wired with a fake-clock breaker and a retry that records its waits instead of sleeping."""

    def __init__(self, cls, url, *, attempts=3, breaker_cfg=None, **kw):
        self.clock = FakeClock()
        self.slept: list[float] = []
        self.ops = Ops()
        cfg = breaker_cfg or BreakerConfig(sliding_window_size=4, minimum_number_of_calls=4, wait_in_open_s=10,
                                           jitter=0, permitted_calls_in_half_open=2)
        self.breaker = CircuitBreaker(cls.name, cfg, clock=self.clock)
        self.transitions = []
        self.breaker.add_listener(lambda ev: self.transitions.append((ev.from_state, ev.to_state)))

        async def sleep(s):
            self.slept.append(s)
            self.clock.advance(s)

        retry = Retrying(RetryPolicy(attempts=attempts, deadline_s=600), sleep=sleep, clock=self.clock,
                         rng=random.Random(3))
        self.client = cls(url, breaker=self.breaker, retry=retry, on_operation=self.ops, **kw)


@pytest.fixture
async def echo():
    async with FakeEchoBrain() as fake:
        yield fake


@pytest.fixture
async def legacy_echo():
    async with FakeEchoBrain(legacy=True) as fake:
        yield fake


@pytest.fixture
async def kb():
    async with FakeKB() as fake:
        yield fake


@pytest.fixture
async def h_echo(echo):
    h = Harness(EchoBrainClient, echo.url, timeout_s=2.0)
    yield h
    await h.client.close()


@pytest.fixture
async def h_kb(kb):
    h = Harness(KBClient, kb.base_url, timeout_s=2.0)
    yield h
    await h.client.close()


# ---- Echo Brain, current API ------------------------------------------------------------------------------------


async def test_ask_forwards_correlation_id_and_reports_the_operation(echo, h_echo):
    """ask() posts {question, session_id} to /api/echo/ask with X-Correlation-ID and reports an
    echo_brain_request operation that succeeded."""
    answer = await h_echo.client.ask(refine_question("a girl", None), session_id="s1", correlation_id="corr-1")
    assert answer.text == fake_enhance("a girl") and answer.model == "fake-llm" and answer.api == "current"
    req = echo.requests[-1]
    assert req.path == "/api/echo/ask" and req.body["session_id"] == "s1"
    assert req.headers["X-Correlation-ID"] == "corr-1"
    assert h_echo.ops == [("echo_brain_request", True, None, "corr-1")]
    assert h_echo.client.api == "current"


async def test_query_route(echo, h_echo):
    """query() reads the `response` of /api/echo/query."""
    answer = await h_echo.client.query("Prompt: cat")
    assert answer.text == fake_enhance("cat") and answer.model == "fake-llm"
    assert echo.paths() == ["/api/echo/query"]


async def test_error_fallback_with_http_200_is_a_failure_and_opens_the_breaker(echo, h_echo):
    """HTTP 200 with model "error-fallback" raises EchoBrainError, is reported as a failed operation, counts
    against the breaker, and the breaker opens exactly at its minimum number of calls."""
    echo.misbehave("error")
    h_echo.client.retry = Retrying(RetryPolicy(attempts=1))
    for _ in range(4):
        with pytest.raises(EchoBrainError) as ei:
            await h_echo.client.query("Prompt: x")
        assert ei.value.model_used == "error-fallback"
    assert h_echo.breaker.state is State.OPEN
    assert len(echo.requests) == 4
    assert [op[1] for op in h_echo.ops] == [False] * 4
    assert h_echo.ops[0][2]["model_used"] == "error-fallback"
    with pytest.raises(DependencyUnavailable):
        await h_echo.client.query("Prompt: x")
    assert len(echo.requests) == 4  # rejected without a request


def test_confidence_zero_with_error_text_is_a_failure():
    """An answer with confidence 0 whose text is an error message is a failure even without error-fallback;
    confidence 0 with a normal answer is not."""
    check = _check_echo_answer("current")
    with pytest.raises(EchoBrainError):
        check(_Response(200, {"answer": "Error: LLM unavailable", "model": "gemma", "confidence": 0}, {}))
    with pytest.raises(EchoBrainError):
        check(_Response(200, {"response": "fine", "model_used": "gemma", "query_type": "error"}, {}))
    assert check(_Response(200, {"answer": "a cat", "model": "gemma", "confidence": 0}, {})).text == "a cat"


async def test_503_is_retried_honouring_retry_after_then_succeeds(echo, h_echo):
    """Two 503 answers with Retry-After: 4 are retried after waiting 4 s each (fake sleep), then the answer comes."""
    echo.misbehave("status", status=503, retry_after=4, times=2)
    answer = await h_echo.client.ask("Prompt: tree")
    assert answer.text == fake_enhance("tree")
    assert h_echo.slept == [4, 4]
    assert [op[1] for op in h_echo.ops] == [False, False, True]
    assert h_echo.ops[0][2]["status_code"] == 503


async def test_retry_after_keeps_the_breaker_open_at_least_that_long(echo, h_echo):
    """When 503s with Retry-After: 120 open the breaker, its open wait is 120 s, not its own 10 s."""
    echo.misbehave("status", status=503, retry_after=120)
    for _ in range(4):  # each call is one request: 120 s does not fit the budget, so no retry
        with pytest.raises((EchoBrainError, DependencyUnavailable)):
            await h_echo.client.ask("Prompt: x", budget_s=1.0)
    stats = h_echo.breaker.get_stats()
    assert stats["state"] == "open" and stats["retry_after"] >= 119
    with pytest.raises(DependencyUnavailable) as ei:
        await h_echo.client.ask("Prompt: x")
    assert ei.value.retry_after >= 119


async def test_hanging_service_times_out_per_call(echo):
    """A service that never answers costs one per-call timeout (0.3 s), then a transient EchoBrainError."""
    echo.misbehave("hang")
    client = EchoBrainClient(echo.url, timeout_s=0.3, retry=Retrying(RetryPolicy(attempts=1)))
    t0 = time.monotonic()
    with pytest.raises(EchoBrainError) as ei:
        await client.ask("Prompt: x")
    assert ei.value.transient is True and "timed out" in ei.value.message
    assert time.monotonic() - t0 < 3
    await client.close()


async def test_refused_connection_then_recovery(echo, h_echo):
    """With the fake not listening, calls fail fast as transient connection errors; once it listens again on the
    same port the client works without being rebuilt."""
    await echo.stop_listening()
    with pytest.raises(EchoBrainError) as ei:
        await h_echo.client.query("Prompt: x")
    assert ei.value.transient is True and ei.value.status_code is None
    await echo.resume_listening()
    assert (await h_echo.client.query("Prompt: y")).text == fake_enhance("y")


async def test_connection_reset_is_transient(echo, h_echo):
    """A dropped connection is a transient failure, retried."""
    echo.misbehave("reset", times=1)
    assert (await h_echo.client.query("Prompt: z")).text == fake_enhance("z")
    assert len(h_echo.slept) == 1


async def test_slow_answers_open_the_breaker_on_slow_call_rate(echo):
    """Answers slower than slow_call_duration open the breaker even though they succeed."""
    echo.misbehave("slow", delay=0.05)
    breaker = CircuitBreaker("echo_brain", BreakerConfig(sliding_window_size=3, minimum_number_of_calls=3,
                                                         slow_call_duration_s=0.04, slow_call_rate_threshold=100))
    client = EchoBrainClient(echo.url, timeout_s=2, breaker=breaker)
    for _ in range(3):
        await client.query("Prompt: s")
    assert breaker.state is State.OPEN
    assert breaker.get_stats()["slow_call_rate"] == 100.0
    await client.close()


async def test_garbage_body_is_a_failure_but_not_retried(echo, h_echo):
    """A 200 whose body is not JSON is a non-transient EchoBrainError: one request, one failure in the window."""
    echo.misbehave("garbage")
    with pytest.raises(EchoBrainError) as ei:
        await h_echo.client.ask("Prompt: g")
    assert ei.value.transient is False
    assert len(echo.requests) == 1 and h_echo.slept == []
    assert h_echo.breaker.get_stats()["failed_calls"] == 1


async def test_404_is_not_held_against_the_service(echo, h_echo):
    """A 4xx (caller's fault) is not retried and counts as success for the breaker."""
    echo.misbehave("status", status=422)
    for _ in range(6):
        with pytest.raises(EchoBrainError):
            await h_echo.client.query("Prompt: q")
    s = h_echo.breaker.get_stats()
    assert s["state"] == "closed" and s["failed_calls"] == 0 and h_echo.slept == []


async def test_rejections_against_an_open_breaker_are_fast(echo, h_echo):
    """Once the breaker opened on 503s, a client call is rejected in well under 1 ms (median of 500)."""
    echo.misbehave("status", status=503)
    with pytest.raises(EchoBrainError):
        await h_echo.client.ask("Prompt: x")
    while h_echo.breaker.state is not State.OPEN:
        with pytest.raises((EchoBrainError, DependencyUnavailable)):
            await h_echo.client.ask("Prompt: x")
    samples = []
    for _ in range(500):
        t0 = time.perf_counter()
        with pytest.raises(DependencyUnavailable):
            await h_echo.client.ask("Prompt: x")
        samples.append(time.perf_counter() - t0)
    median = statistics.median(samples)
    print(f"client rejection median {median * 1e6:.1f} us")
    assert median < 0.001


async def test_breaker_closes_through_half_open_after_recovery(echo, h_echo):
    """503s open the breaker; after the open wait (fake clock) and the fake's recovery, probes pass and the breaker
    goes OPEN -> HALF_OPEN -> CLOSED."""
    echo.misbehave("status", status=503)
    while h_echo.breaker.state is not State.OPEN:
        with pytest.raises((EchoBrainError, DependencyUnavailable)):
            await h_echo.client.query("Prompt: x")
    echo.behave()
    h_echo.clock.advance(10)
    for _ in range(2):
        await h_echo.client.query("Prompt: y")
    assert h_echo.transitions == [(State.CLOSED, State.OPEN), (State.OPEN, State.HALF_OPEN),
                                  (State.HALF_OPEN, State.CLOSED)]


async def test_send_learning_uses_mcp_with_idempotency_key(echo, h_echo):
    """Current API: a learning report goes to /mcp store_memory, with the Idempotency-Key header."""
    await h_echo.client.send_learning("echo_feedback", {"content": "rating 5"}, idempotency_key="k1",
                                      correlation_id="c")
    req = echo.requests[-1]
    assert req.path == "/mcp" and req.headers["Idempotency-Key"] == "k1"
    assert echo.learned == [{"content": "rating 5", "type": "echo_feedback"}]


# ---- Echo Brain, older API --------------------------------------------------------------------------------------


async def test_older_api_is_detected_and_remembered(legacy_echo):
    """Against a server that only speaks /chat and /anime/prompt/refine, refine_prompt finds the older route
    (after one 404) and goes straight to it next time; the 404 does not hurt the breaker."""
    client = EchoBrainClient(legacy_echo.url, timeout_s=2)
    r = await client.refine_prompt("a knight", character_name="Kai")
    assert r.enhanced_prompt == "a knight, Kai, refined anime style" and r.negative_prompt == "legacy negative, lowres"
    assert r.api == "legacy" and client.api == "legacy"
    assert legacy_echo.paths() == ["/api/echo/ask", "/api/echo/anime/prompt/refine"]
    await client.refine_prompt("a dragon")
    assert legacy_echo.paths()[2:] == ["/api/echo/anime/prompt/refine"]
    ans = await client.ask("Prompt: hi")
    assert ans.text == fake_enhance("hi") and legacy_echo.paths()[-1] == "/api/echo/chat"
    await client.send_learning("echo_learning", {"prompt": "p", "quality_scores": {"ssim": 0.8}},
                               idempotency_key="k2")
    assert legacy_echo.paths()[-1] == "/api/echo/anime/feedback/learn"
    assert legacy_echo.learned[0]["quality_scores"] == {"ssim": 0.8}
    assert client.breaker.get_stats()["failed_calls"] == 0
    await client.close()


async def test_server_switching_api_is_followed(echo):
    """A server redeployed from the older to the current API is re-detected on the first 404."""
    echo.legacy = True
    client = EchoBrainClient(echo.url, timeout_s=2)
    await client.refine_prompt("x")
    assert client.api == "legacy"
    echo.legacy = False
    r = await client.refine_prompt("y")
    assert r.api == "current" and client.api == "current" and r.enhanced_prompt == fake_enhance("y")
    await client.close()


async def test_refine_prompt_current_api_sends_the_character_sheet(echo, h_echo):
    """The current API gets a rewrite question naming the character and the sheet; the answer is the prompt."""
    r = await h_echo.client.refine_prompt("a girl running", character_name="Yuki", character_sheet="silver hair")
    assert r.enhanced_prompt == fake_enhance("a girl running") and r.api == "current"
    q = echo.requests[-1].body["question"]
    assert "Character: Yuki" in q and "silver hair" in q


# ---- health and configuration -----------------------------------------------------------------------------------


async def test_health_probes(echo, legacy_echo):
    """Health tries /api/echo/health then /health, never raises, and says down when nothing answers."""
    client = EchoBrainClient(echo.url, timeout_s=2, health_timeout_s=0.5)
    assert (await client.health())["status"] == "healthy"
    await echo.stop_listening()
    report = await client.health()
    assert report["status"] == "down" and report["reason"]
    await client.close()
    nothing = EchoBrainClient(None)
    assert (await nothing.health())["status"] == "not_configured"


@pytest.mark.parametrize("url", ["not a url", "ftp://host/x", "http://", "http://host:99999", "http://h/x?y=1"])
async def test_malformed_url_never_raises_at_construction(url):
    """A malformed ECHO_BRAIN_URL gives config_error (for health: degraded with the reason) and calls raise
    DependencyUnavailable naming it, instead of crashing startup."""
    client = EchoBrainClient.from_env({"ECHO_BRAIN_URL": url})
    assert client.config_error and not client.configured
    assert client.get_stats()["config_error"] == client.config_error
    with pytest.raises(DependencyUnavailable) as ei:
        await client.ask("x")
    assert "ECHO_BRAIN_URL" in ei.value.message
    assert (await client.health())["status"] == "degraded"


def test_from_env_reads_settings_and_tolerates_bad_numbers():
    """from_env reads URL, timeout and TLS settings; a bad number becomes a warning and the default."""
    kb = KBClient.from_env({"TOWER_KB_URL": "https://tower/kb/", "TOWER_KB_TIMEOUT_S": "abc",
                            "TOWER_KB_TLS_VERIFY": "0"})
    assert kb.base_url == "https://tower/kb" and kb.timeout_s == 10.0 and kb.config_error is None
    assert kb._ssl is False and "TOWER_KB_TIMEOUT_S" in kb.config_warnings[0]
    echo = EchoBrainClient.from_env({"ECHO_BRAIN_URL": "http://h:8309", "TOWER_ECHO_TIMEOUT_S": "45"})
    assert echo.timeout_s == 45.0 and echo.configured
    missing_ca = KBClient.from_env({"TOWER_KB_URL": "https://h/kb", "TOWER_KB_CA_FILE": "/nonexistent/ca.pem"})
    assert "CA file" in missing_ca.config_error


def test_parse_retry_after_and_validate():
    """Retry-After as seconds or HTTP date; URL validation normalises a trailing slash."""
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert validate_base_url("http://h:8309/", "X") == ("http://h:8309", None)


# ---- KB -----------------------------------------------------------------------------------------------------------


async def test_kb_create_list_get(kb, h_kb):
    """Articles are created with title/content/category/tags and Idempotency-Key, listed and read back;
    operations are reported as kb_request."""
    art = await h_kb.client.create_article("Report", "# hi", category="learning-analysis",
                                           tags=["anime-production"], idempotency_key="day-1", correlation_id="c9")
    again = await h_kb.client.create_article("Report", "# hi", category="learning-analysis", idempotency_key="day-1")
    assert art["id"] == again["id"] and len(kb.articles) == 1 and kb.posts == 2
    assert kb.requests[0].headers["Idempotency-Key"] == "day-1" and kb.requests[0].headers["X-Correlation-ID"] == "c9"
    assert [a["title"] for a in await h_kb.client.list_articles()] == ["Report"]
    assert (await h_kb.client.get_article(art["id"]))["content"] == "# hi"
    assert {op[0] for op in h_kb.ops} == {"kb_request"}


async def test_kb_422_is_the_callers_fault(kb, h_kb):
    """A rejected article (422) raises KBError(422) at once, without retry, and the breaker stays closed."""
    for _ in range(5):
        with pytest.raises(KBError) as ei:
            await h_kb.client.create_article("", "", category="")
        assert ei.value.status_code == 422
    assert h_kb.breaker.state is State.CLOSED and h_kb.slept == []


async def test_kb_character_sheet_lookup_is_cached(kb):
    """find_character_sheet picks the character-category article naming the character, fetches its content,
    and serves the next lookup from its cache."""
    kb.add_article("Yuki: notes", "misc", "general")
    kb.add_article("Yuki", "silver hair, red scarf", "character")
    clock = FakeClock()
    client = KBClient(kb.base_url, clock=clock)
    sheet = await client.find_character_sheet("yuki")
    assert sheet["content"] == "silver hair, red scarf"
    n = len(kb.requests)
    assert (await client.find_character_sheet("Yuki"))["id"] == sheet["id"]
    assert len(kb.requests) == n
    clock.advance(301)
    await client.find_character_sheet("Yuki")
    assert len(kb.requests) > n
    assert await client.find_character_sheet("nobody") is None
    await client.close()


async def test_kb_garbage_list_is_a_failure(kb, h_kb):
    """A list answer that is not JSON raises a non-transient KBError."""
    kb.misbehave("garbage")
    with pytest.raises(KBError) as ei:
        await h_kb.client.list_articles()
    assert ei.value.transient is False


async def test_client_serves_two_event_loops(echo):
    """The same client works from the server loop and from another thread's loop (one session per loop)."""
    client = EchoBrainClient(echo.url, timeout_s=2)
    assert (await client.query("Prompt: a")).text == fake_enhance("a")

    def in_thread():
        async def go():
            try:
                return (await client.query("Prompt: b")).text
            finally:
                await client.close()

        return asyncio.run(go())

    assert await asyncio.to_thread(in_thread) == fake_enhance("b")
    assert (await client.query("Prompt: c")).text == fake_enhance("c")
    await client.close()
