"""A fake Echo Brain speaking either the current API or, with ``legacy=True``, only the older one.

Current (Era C): ``POST /api/echo/ask``, ``POST /api/echo/query``, ``POST /mcp``, ``GET /api/echo/health``,
``GET /health``; ``/api/echo/chat`` and the anime routes answer 404. Legacy (Era A + anime router):
``POST /api/echo/chat``, ``POST /api/echo/anime/prompt/refine``, ``POST /api/echo/anime/feedback/learn`` and the
health routes; ``/api/echo/ask`` and ``/mcp`` answer 404. The error mode answers like the real service: HTTP 200
with ``model``/``model_used`` ``"error-fallback"``, ``query_type`` ``"error"`` and ``confidence`` 0.

The fake's "LLM" is deterministic: it enhances the line after ``Prompt:`` in the question into
``"masterpiece, best quality, <prompt>, detailed anime style"``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .server import FakeServer

ENHANCED_PREFIX = "masterpiece, best quality, "
ENHANCED_SUFFIX = ", detailed anime style"


def fake_enhance(prompt: str) -> str:
    return f"{ENHANCED_PREFIX}{prompt}{ENHANCED_SUFFIX}"


def _prompt_of(question: str) -> str:
    for line in question.splitlines():
        if line.startswith("Prompt:"):
            return line.removeprefix("Prompt:").strip()
    return question.strip()


@dataclass
class FakeEchoBrain(FakeServer):
    legacy: bool = False
    learned: list[dict[str, Any]] = field(default_factory=list)
    seen_keys: set[str] = field(default_factory=set)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/api/echo/health", self._health)
        app.router.add_post("/api/echo/ask", self._current(self._ask))
        app.router.add_post("/api/echo/query", self._current(self._query))
        app.router.add_post("/mcp", self._current(self._mcp))
        app.router.add_post("/api/echo/chat", self._legacy(self._chat))
        app.router.add_post("/api/echo/anime/prompt/refine", self._legacy(self._refine))
        app.router.add_post("/api/echo/anime/feedback/learn", self._legacy(self._learn))

    def error_response(self, request: web.Request) -> web.StreamResponse:
        text = "I encountered an error processing your request: model backend unavailable"
        return web.json_response({"answer": text, "response": text, "model": "error-fallback",
                                  "model_used": "error-fallback", "agent": "fallback", "query_type": "error",
                                  "confidence": 0.0, "sources": [], "execution_time_ms": 1})

    def _current(self, handler):
        async def route(request: web.Request) -> web.StreamResponse:
            if self.legacy:
                raise web.HTTPNotFound()
            return await handler(request)
        return route

    def _legacy(self, handler):
        async def route(request: web.Request) -> web.StreamResponse:
            if not self.legacy:
                raise web.HTTPNotFound()
            return await handler(request)
        return route

    def _remember(self, request: web.Request, item: dict[str, Any]) -> None:
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self.seen_keys:
            return
        if key is not None:
            self.seen_keys.add(key)
        self.learned.append(item)

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "healthy", "version": "legacy" if self.legacy else "0.6.2",
                                  "timestamp": time.time()})

    async def _ask(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        answer = fake_enhance(_prompt_of(body["question"]))
        return web.json_response({"answer": answer, "model": "fake-llm", "agent": "general", "query_type": "general",
                                  "confidence": 0.87, "sources": [], "actions_taken": [], "execution_time_ms": 3,
                                  "session_id": body.get("session_id"), "timestamp": time.time()})

    async def _query(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        answer = fake_enhance(_prompt_of(body["query"]))
        return web.json_response({"response": answer, "answer": answer, "model_used": "fake-llm",
                                  "query_type": "general", "confidence": 0.8, "execution_time_ms": 3})

    async def _mcp(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("method") != "tools/call" or body["params"]["name"] != "store_memory":
            return web.json_response({"detail": "unknown tool"}, status=422)
        self._remember(request, body["params"]["arguments"])
        return web.json_response({"stored": True, "id": len(self.learned)})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        answer = fake_enhance(_prompt_of(body["query"]))
        return web.json_response({"response": answer, "model_used": "fake-legacy-llm", "intelligence_level": "auto",
                                  "processing_time": 0.01, "conversation_id": "c1", "confidence": 0.7})

    async def _refine(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        raw = body["raw_prompt"]
        character = body.get("character_name")
        enhanced = f"{raw}, {character}, refined anime style" if character else f"{raw}, refined anime style"
        return web.json_response({"enhanced_prompt": enhanced, "style_keywords": ["anime", "cel shading"],
                                  "negative_prompt": "legacy negative, lowres", "cinematic_terms": [],
                                  "character_consistency_hints": []})

    async def _learn(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self._remember(request, body)
        return web.json_response({"learned_elements": ["x"], "updated_confidence_scores": {},
                                  "recommendations_for_next": []})
