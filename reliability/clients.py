"""Outbound clients for Echo Brain and the Tower KB: timeout inside breaker inside retry, one boundary for errors.

Every attempt is one HTTP request with a per-call timeout, ``X-Correlation-ID`` (and ``Idempotency-Key`` when
given) forwarded, reported to ``on_operation(operation_type, start, end, success, error_details, correlation_id)``
(``start``/``end`` UTC datetimes), run through the dependency's :class:`CircuitBreaker`; attempts are repeated by
:class:`Retrying` within the caller's budget. aiohttp's exceptions, non-2xx answers, bodies that are not the
expected JSON, and Echo Brain's "error with HTTP 200" answers all become :class:`EchoBrainError`/:class:`KBError`
here and nowhere else::

    EchoBrainError / KBError
      status_code=None, transient=True    timeout, refused/reset connection, TLS handshake failure
      status_code=5xx/408/429             the service failed (retry_after from Retry-After)
      status_code=4xx other               our request was wrong (breaker: success; retry: never)
      transient=False                     garbage body (breaker: failure; retry: never)
      model_used="error-fallback"         Echo Brain's HTTP-200 error (breaker: failure; retry: yes)
    DependencyUnavailable                 breaker open, or the service is not configured

A client owns one ``aiohttp.ClientSession`` per event loop that uses it, created lazily inside that loop (the
server loop and the outbox thread's loop each get one). A malformed URL never raises at construction: the client
reports ``config_error`` and every call raises :class:`DependencyUnavailable` with that reason.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._http import HttpClient, OperationHook, Response, env_float, parse_retry_after, validate_base_url
from .errors import EchoBrainError, KBError

__all__ = [
    "OperationHook",
    "EchoAnswer",
    "RefinedPrompt",
    "EchoBrainClient",
    "KBClient",
    "validate_base_url",
    "parse_retry_after",
    "refine_question",
    "ECHO_OPERATION",
    "KB_OPERATION",
]

_log = logging.getLogger("tower_sentinel.reliability.clients")

ECHO_OPERATION = "echo_brain_request"
KB_OPERATION = "kb_request"


@dataclass(frozen=True, slots=True)
class EchoAnswer:
    text: str
    model: str | None
    confidence: float | None
    api: str  # "current" | "legacy"
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class RefinedPrompt:
    enhanced_prompt: str
    negative_prompt: str | None
    style_keywords: tuple[str, ...]
    api: str
    model: str | None

# ---- Echo Brain -----------------------------------------------------------------------------------------------------

_ERROR_WORDS = ("error", "unavailable", "failed", "exception")


def _check_echo_answer(api: str) -> Callable[[Response], EchoAnswer]:
    def check(resp: Response) -> EchoAnswer:
        data = resp.data
        if not isinstance(data, dict):
            raise EchoBrainError(f"Echo Brain answered {type(data).__name__}, not an object", transient=False)
        model = data.get("model") or data.get("model_used")
        text = data.get("answer") or data.get("response")
        confidence = data.get("confidence")
        looks_like_error = isinstance(text, str) and any(w in text.lower() for w in _ERROR_WORDS)
        if model == "error-fallback" or data.get("query_type") == "error" or (confidence == 0 and looks_like_error):
            raise EchoBrainError(f"Echo Brain answered an error with HTTP 200: {str(text)[:200]}",
                                 model_used=model, status_code=resp.status, transient=True)
        if not isinstance(text, str) or not text.strip():
            raise EchoBrainError("Echo Brain answered without text", model_used=model, transient=False)
        conf = float(confidence) if isinstance(confidence, (int, float)) else None
        return EchoAnswer(text.strip(), model, conf, api, data)

    return check


def _check_refined(resp: Response) -> RefinedPrompt:
    data = resp.data
    if not isinstance(data, dict) or not isinstance(data.get("enhanced_prompt"), str) or not data["enhanced_prompt"]:
        raise EchoBrainError("Echo Brain's prompt/refine answer has no enhanced_prompt", transient=False)
    keywords = data.get("style_keywords") or ()
    return RefinedPrompt(data["enhanced_prompt"].strip(), data.get("negative_prompt") or None,
                         tuple(str(k) for k in keywords if isinstance(k, str)), "legacy", None)


def _check_object(resp: Response) -> dict[str, Any]:
    if not isinstance(resp.data, dict):
        raise EchoBrainError("Echo Brain answered something that is not an object", transient=False)
    if resp.data.get("error"):
        raise EchoBrainError(f"Echo Brain refused: {str(resp.data['error'])[:200]}", transient=False)
    return resp.data


def refine_question(prompt: str, character: str | None, sheet: str | None = None) -> str:
    """The question the current API gets; the answer is taken as the enhanced prompt."""
    lines = ["Rewrite this Stable Diffusion prompt for a high-quality anime image. Keep its subject, add style, "
             "lighting and composition terms. Answer with the prompt only, no explanation."]
    if character:
        lines.append(f"Character: {character}")
    if sheet:
        lines.append(f"Character sheet: {' '.join(sheet.split())[:800]}")
    lines.append(f"Prompt: {' '.join(prompt.split())}")
    return "\n".join(lines)


class EchoBrainClient(HttpClient):
    """Echo Brain, current API (``/api/echo/ask``, ``/mcp``) or older (``/chat``, ``/anime/...``), detected by 404."""

    name = "echo_brain"
    operation_type = ECHO_OPERATION
    env_url = "ECHO_BRAIN_URL"
    error_cls = EchoBrainError

    def __init__(self, base_url: str | None, *, timeout_s: float = 30.0, **kw: Any) -> None:
        super().__init__(base_url, timeout_s=timeout_s, **kw)
        self.api: str | None = None  # learned from the server: "current" | "legacy"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kw: Any) -> EchoBrainClient:
        """``ECHO_BRAIN_URL`` and ``TOWER_ECHO_TIMEOUT_S``; never raises on bad values (see ``config_error``)."""
        env = os.environ if env is None else env
        warnings: list[str] = []
        timeout = env_float(env, "TOWER_ECHO_TIMEOUT_S", 30.0, warnings)
        return cls(env.get("ECHO_BRAIN_URL"), timeout_s=timeout, config_warnings=warnings, **kw)

    def _apis(self) -> list[str]:
        return ["legacy", "current"] if self.api == "legacy" else ["current", "legacy"]

    async def _detect(self, calls: Mapping[str, Callable[[], Awaitable[Any]]]) -> Any:
        """Try the API we believe in first; a 404 means "not this one". Remember the one that answered."""
        last: EchoBrainError | None = None
        for api in self._apis():
            try:
                result = await calls[api]()
            except EchoBrainError as err:
                if err.status_code != 404:
                    raise
                last = err
                continue
            if self.api != api:
                _log.info("echo_brain_api_detected", extra={"api": api, "url": self.base_url})
            self.api = api
            return result
        assert last is not None
        raise EchoBrainError(f"Echo Brain at {self.base_url} speaks neither the current nor the older API",
                             status_code=404, transient=False, correlation_id=last.correlation_id) from last

    async def ask(self, question: str, *, session_id: str | None = None, correlation_id: str | None = None,
                  timeout_s: float | None = None, budget_s: float | None = None) -> EchoAnswer:
        """A free-form question: ``/api/echo/ask`` (current) or ``/api/echo/chat`` (older)."""
        kw = {"correlation_id": correlation_id, "timeout_s": timeout_s, "budget_s": budget_s}
        current_body: dict[str, Any] = {"question": question}
        legacy_body: dict[str, Any] = {"query": question, "user_id": "anime_production"}
        if session_id:
            current_body["session_id"] = session_id
            legacy_body["conversation_id"] = session_id
        return await self._detect({
            "current": lambda: self._call("POST", "/api/echo/ask", _check_echo_answer("current"),
                                          json_body=current_body, **kw),
            "legacy": lambda: self._call("POST", "/api/echo/chat", _check_echo_answer("legacy"),
                                         json_body=legacy_body, **kw),
        })

    async def query(self, query: str, *, session_id: str | None = None, correlation_id: str | None = None,
                    timeout_s: float | None = None, budget_s: float | None = None) -> EchoAnswer:
        """``/api/echo/query`` (both eras answer it with ``response``/``model_used``)."""
        body: dict[str, Any] = {"query": query}
        if session_id:
            body["session_id"] = session_id
        return await self._call("POST", "/api/echo/query", _check_echo_answer(self.api or "current"), json_body=body,
                                correlation_id=correlation_id, timeout_s=timeout_s, budget_s=budget_s)

    async def refine_prompt(self, raw_prompt: str, *, character_name: str | None = None,
                            character_sheet: str | None = None, correlation_id: str | None = None,
                            timeout_s: float | None = None, budget_s: float | None = None) -> RefinedPrompt:
        """An enhanced prompt: ``/api/echo/ask`` with a rewrite question, or the older ``/anime/prompt/refine``."""
        kw = {"correlation_id": correlation_id, "timeout_s": timeout_s, "budget_s": budget_s}
        legacy_body: dict[str, Any] = {"session_id": correlation_id or "tower-sentinel", "raw_prompt": raw_prompt,
                                       "context_tags": []}
        if character_name:
            legacy_body["character_name"] = character_name

        async def current() -> RefinedPrompt:
            answer = await self._call("POST", "/api/echo/ask", _check_echo_answer("current"),
                                      json_body={"question": refine_question(raw_prompt, character_name,
                                                                             character_sheet)}, **kw)
            text = answer.text.strip().strip('"').strip()
            return RefinedPrompt(text, None, (), "current", answer.model)

        async def legacy() -> RefinedPrompt:
            return await self._call("POST", "/api/echo/anime/prompt/refine", _check_refined, json_body=legacy_body,
                                    **kw)

        return await self._detect({"current": current, "legacy": legacy})

    async def send_learning(self, kind: str, payload: Mapping[str, Any], *, idempotency_key: str,
                            correlation_id: str | None = None, budget_s: float | None = None) -> dict[str, Any]:
        """Feedback or a learning summary: ``/mcp`` ``store_memory`` (current) or ``/anime/feedback/learn``."""
        content = payload.get("content") or json.dumps(dict(payload), sort_keys=True, default=str)
        mcp = {"method": "tools/call",
               "params": {"name": "store_memory", "arguments": {"content": content, "type": kind}}}
        legacy_body = {
            "session_id": payload.get("session_id") or correlation_id or "tower-sentinel",
            "prompt_used": payload.get("prompt_used") or payload.get("prompt") or "",
            "quality_scores": payload.get("quality_scores") or {},
            "generation_id": str(payload.get("generation_id") or payload.get("prompt_id") or idempotency_key),
            "context_tags": list(payload.get("context_tags") or [kind]),
            "user_feedback": payload.get("user_feedback") or payload.get("comment") or content,
        }
        kw = {"correlation_id": correlation_id, "idempotency_key": idempotency_key, "budget_s": budget_s}
        return await self._detect({
            "current": lambda: self._call("POST", "/mcp", _check_object, json_body=mcp, **kw),
            "legacy": lambda: self._call("POST", "/api/echo/anime/feedback/learn", _check_object,
                                         json_body=legacy_body, **kw),
        })

    async def health(self, *, correlation_id: str | None = None) -> dict[str, Any]:
        """A live probe (``/api/echo/health``, else ``/health``) that never raises; plus the breaker's state."""
        report = await self._probe(("/api/echo/health", "/health"), correlation_id)
        return {**report, "breaker": self.breaker.state.value, "api": self.api}

    def get_stats(self) -> dict[str, Any]:
        return {**super().get_stats(), "api": self.api}


# ---- Tower KB -------------------------------------------------------------------------------------------------------


def _check_article(resp: Response) -> dict[str, Any]:
    if not isinstance(resp.data, dict):
        raise KBError("the KB answered something that is not an article", transient=False)
    return resp.data


def _check_article_list(resp: Response) -> list[dict[str, Any]]:
    data = resp.data
    if isinstance(data, dict):
        data = data.get("articles") or data.get("items") or data.get("results")
    if not isinstance(data, list):
        raise KBError("the KB's article list is not a list", transient=False)
    return [a for a in data if isinstance(a, dict)]


class KBClient(HttpClient):
    """The Tower KB's article API; TLS can trust a CA file, or (explicitly) skip verification."""

    name = "kb"
    operation_type = KB_OPERATION
    env_url = "TOWER_KB_URL"
    error_cls = KBError

    def __init__(self, base_url: str | None, *, timeout_s: float = 10.0, sheet_ttl_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, **kw: Any) -> None:
        super().__init__(base_url, timeout_s=timeout_s, **kw)
        self._sheet_ttl_s = sheet_ttl_s
        self._clock = clock
        self._sheets: dict[str, tuple[float, dict[str, Any] | None]] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kw: Any) -> KBClient:
        """``TOWER_KB_URL``, ``TOWER_KB_TIMEOUT_S``, ``TOWER_KB_CA_FILE``, ``TOWER_KB_TLS_VERIFY`` (0 = skip)."""
        env = os.environ if env is None else env
        warnings: list[str] = []
        timeout = env_float(env, "TOWER_KB_TIMEOUT_S", 10.0, warnings)
        verify_raw = (env.get("TOWER_KB_TLS_VERIFY") or "1").strip().lower()
        verify = verify_raw not in ("0", "false", "no", "off")
        return cls(env.get("TOWER_KB_URL"), timeout_s=timeout, ca_file=env.get("TOWER_KB_CA_FILE") or None,
                   verify_tls=verify, config_warnings=warnings, **kw)

    async def create_article(self, title: str, content: str, *, category: str, tags: list[str] | tuple[str, ...] = (),
                             idempotency_key: str | None = None, correlation_id: str | None = None,
                             budget_s: float | None = None) -> dict[str, Any]:
        body = {"title": title, "content": content, "category": category, "tags": list(tags)}
        return await self._call("POST", "/api/articles", _check_article, json_body=body,
                                idempotency_key=idempotency_key, correlation_id=correlation_id, budget_s=budget_s)

    async def list_articles(self, *, limit: int | None = None, correlation_id: str | None = None,
                            budget_s: float | None = None) -> list[dict[str, Any]]:
        params = {"limit": str(limit)} if limit else None
        return await self._call("GET", "/api/articles", _check_article_list, params=params,
                                correlation_id=correlation_id, budget_s=budget_s)

    async def get_article(self, article_id: int | str, *, correlation_id: str | None = None,
                          budget_s: float | None = None) -> dict[str, Any]:
        return await self._call("GET", f"/api/articles/{article_id}", _check_article, correlation_id=correlation_id,
                                budget_s=budget_s)

    async def find_character_sheet(self, name: str, *, correlation_id: str | None = None,
                                   budget_s: float | None = None) -> dict[str, Any] | None:
        """The article whose title names the character (a character category wins), with its content; cached."""
        key = name.strip().lower()
        if not key:
            return None
        cached = self._sheets.get(key)
        if cached is not None and self._clock() - cached[0] < self._sheet_ttl_s:
            return cached[1]
        articles = await self.list_articles(correlation_id=correlation_id, budget_s=budget_s)
        matches = [a for a in articles if key in str(a.get("title", "")).lower()]
        matches.sort(key=lambda a: ("character" not in str(a.get("category", "")).lower(),
                                    len(str(a.get("title", "")))))
        sheet = None
        if matches:
            sheet = matches[0]
            if not sheet.get("content") and sheet.get("id") is not None:
                sheet = await self.get_article(sheet["id"], correlation_id=correlation_id, budget_s=budget_s)
        self._sheets[key] = (self._clock(), sheet)
        return sheet

    async def health(self, *, correlation_id: str | None = None) -> dict[str, Any]:
        """A live probe (``GET /api/articles?limit=1``) that never raises; plus the breaker's state."""
        report = await self._probe(("/api/articles?limit=1",), correlation_id)
        return {**report, "breaker": self.breaker.state.value}
