"""Run the fakes (and a websocket listener) on their own event loop in a background thread, for sync tests that
drive a real ComfyUI process (tests/comfy)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")


class LoopThread:
    """One event loop in a daemon thread; ``run(coro)`` waits for a coroutine's result from the calling thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fakes-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        async def wrapper() -> T:
            return fn()
        return self.run(wrapper(), timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


class WebSocketListener:
    """Collects ComfyUI websocket messages (``{"type", "data"}``) of the given types; thread-safe reads."""

    def __init__(self, lt: LoopThread, url: str, types: tuple[str, ...]) -> None:
        self.messages: list[dict[str, Any]] = []
        self._types = types
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._task = asyncio.run_coroutine_threadsafe(self._listen(url), lt.loop)
        if not self._connected.wait(30):
            raise TimeoutError(f"websocket {url} did not connect")

    async def _listen(self, url: str) -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(url, heartbeat=None) as ws:
            self._connected.set()
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if data.get("type") in self._types:
                    with self._lock:
                        self.messages.append(data)

    def of(self, type_: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m["data"] for m in self.messages if m["type"] == type_]

    def close(self) -> None:
        self._task.cancel()
