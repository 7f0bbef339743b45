"""The HTTP plumbing the Echo Brain and KB clients share: configuration checks, one aiohttp session per event
loop, the attempt/breaker/retry pipeline with its single error-translation boundary, operation reports and health
probes. The error tree it produces is drawn in ``clients.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .breaker import BreakerConfig, CircuitBreaker
from .errors import DependencyUnavailable, EchoBrainError, KBError, TowerError
from .retry import Retrying, RetryPolicy

__all__ = ["OperationHook", "validate_base_url", "parse_retry_after", "HttpClient", "Response", "env_float"]

_log = logging.getLogger("tower_sentinel.reliability.clients")

OperationHook = Callable[[str, datetime, datetime, bool, "dict[str, Any] | None", "str | None"], None]



def validate_base_url(url: str | None, env_name: str) -> tuple[str | None, str | None]:
    """(normalised url, None) or (None, reason): http(s) with a host, no query or fragment."""
    if not url or not url.strip():
        return None, f"{env_name} is not set"
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return None, f"{env_name} is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, f"{env_name} must be an http(s) URL with a host, got {url!r}"
    if parts.query or parts.fragment:
        return None, f"{env_name} must not have a query or fragment"
    return url.rstrip("/"), None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def env_float(env: Mapping[str, str], name: str, default: float, errors: list[str]) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
        if value <= 0:
            raise ValueError
        return value
    except ValueError:
        errors.append(f"{name}={raw!r} is not a positive number; using {default}")
        return default


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    data: Any
    headers: Mapping[str, str]



class HttpClient:
    """What both clients share: configuration, sessions per loop, the attempt/breaker/retry pipeline, stats."""

    name = "dependency"
    operation_type = "request"
    env_url = "URL"
    error_cls: type[EchoBrainError] | type[KBError] = KBError

    def __init__(
        self,
        base_url: str | None,
        *,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        health_timeout_s: float = 5.0,
        breaker: CircuitBreaker | None = None,
        retry: Retrying | None = None,
        on_operation: OperationHook | None = None,
        ca_file: str | None = None,
        verify_tls: bool = True,
        config_warnings: list[str] | None = None,
    ) -> None:
        self.base_url, self.config_error = validate_base_url(base_url, self.env_url)
        self.configured = self.base_url is not None
        if base_url is None or not base_url.strip():
            self.config_error = None  # not configured is a choice, not an error
        self.config_warnings = list(config_warnings or [])
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.health_timeout_s = health_timeout_s
        self.breaker = breaker or CircuitBreaker(self.name, self._default_breaker_config())
        self.retry = retry or Retrying(self._default_retry_policy())
        self.on_operation = on_operation
        self._ssl: ssl.SSLContext | bool = True
        if ca_file:
            try:
                self._ssl = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                self.config_error = f"cannot load CA file {ca_file!r}: {exc}"
                self.configured = False
        elif not verify_tls:
            self._ssl = False
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
            weakref.WeakKeyDictionary()
        )
        self._sessions_lock = threading.Lock()

    def _default_breaker_config(self) -> BreakerConfig:
        return BreakerConfig(sliding_window_size=10, minimum_number_of_calls=5, slow_call_duration_s=self.timeout_s * 0.8,
                             max_wait_in_half_open_s=self.timeout_s * 2 + 5, wait_in_open_s=10.0)

    def _default_retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=3, deadline_s=self.timeout_s * 2, base_delay_s=0.25, max_delay_s=5.0)

    # ---- lifecycle and stats ----------------------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        with self._sessions_lock:
            for other in [lp for lp in self._sessions if lp.is_closed()]:
                self._sessions.pop(other, None)  # its loop is gone; nothing left to close it with
            session = self._sessions.get(loop)
            if session is None or session.closed:
                connector = aiohttp.TCPConnector(ssl=self._ssl, limit=20)
                session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": "tower-sentinel"})
                self._sessions[loop] = session
            return session

    async def close(self, *, all_loops: bool = True) -> None:
        """Close this loop's session and (``all_loops``) ask other live loops to close theirs."""
        current = asyncio.get_running_loop()
        with self._sessions_lock:
            sessions = [(lp, s) for lp, s in self._sessions.items() if all_loops or lp is current]
            for lp, _ in sessions:
                self._sessions.pop(lp, None)
        for loop, session in sessions:
            if loop is current:
                await session.close()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(lambda s=session: asyncio.ensure_future(s.close()))

    def get_stats(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.base_url,
            "configured": self.configured,
            "config_error": self.config_error,
            "config_warnings": self.config_warnings,
            "breaker": self.breaker.get_stats(),
        }

    # ---- the pipeline -----------------------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        check: Callable[[Response], Any],
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
        timeout_s: float | None = None,
        budget_s: float | None = None,
    ) -> Any:
        """retry(breaker(timeout(request + check)))."""
        if not self.configured:
            raise DependencyUnavailable(self.name, message=f"{self.name} is not configured: "
                                        f"{self.config_error or self.env_url + ' is not set'}",
                                        correlation_id=correlation_id)

        async def attempt() -> Any:
            return await self.breaker.call(self._attempt, method, path, check, json_body, params, correlation_id,
                                           idempotency_key, timeout_s)

        return await self.retry.call(attempt, deadline_s=budget_s)

    async def _attempt(self, method: str, path: str, check: Callable[[Response], Any], json_body: Any,
                       params: Mapping[str, str] | None, correlation_id: str | None, idempotency_key: str | None,
                       timeout_s: float | None) -> Any:
        start = datetime.now(timezone.utc)
        try:
            result = check(await self._request(method, path, json_body, params, correlation_id, idempotency_key,
                                               timeout_s or self.timeout_s))
        except TowerError as err:
            self._report(start, False, {"type": type(err).__name__, "message": err.message, "method": method,
                                        "path": path, **{k: v for k, v in err.context.items() if v is not None}},
                         correlation_id)
            raise
        self._report(start, True, None, correlation_id)
        return result

    async def _request(self, method: str, path: str, json_body: Any, params: Mapping[str, str] | None,
                       correlation_id: str | None, idempotency_key: str | None, timeout_s: float) -> Response:
        headers = {"Accept": "application/json"}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(self.connect_timeout_s, timeout_s))
        url = f"{self.base_url}{path}"
        try:
            async with self._session().request(method, url, json=json_body, params=params, headers=headers,
                                               timeout=timeout) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except asyncio.TimeoutError as exc:
            raise self._error(f"{self.name} {method} {path} timed out after {timeout_s:g}s", correlation_id,
                              transient=True) from exc
        except aiohttp.ClientError as exc:
            raise self._error(f"{self.name} {method} {path} failed: {type(exc).__name__}: {exc}", correlation_id,
                              transient=True) from exc
        if status >= 400:
            detail = raw[:200].decode("utf-8", "replace")
            raise self._error(f"{self.name} {method} {path} answered HTTP {status}: {detail}", correlation_id,
                              status_code=status, retry_after=parse_retry_after(resp_headers.get("Retry-After")))
        try:
            data = json.loads(raw) if raw else None
        except ValueError as exc:
            raise self._error(f"{self.name} {method} {path} answered a body that is not JSON", correlation_id,
                              transient=False) from exc
        return Response(status, data, resp_headers)

    def _error(self, message: str, correlation_id: str | None, **kw: Any) -> EchoBrainError | KBError:
        return self.error_cls(message, correlation_id=correlation_id, **kw)

    def _report(self, start: datetime, success: bool, details: dict[str, Any] | None,
                correlation_id: str | None) -> None:
        hook = self.on_operation
        if hook is None:
            return
        try:
            hook(self.operation_type, start, datetime.now(timezone.utc), success, details, correlation_id)
        except Exception:  # noqa: BLE001 - telemetry never breaks a call
            _log.exception("operation_hook_failed", extra={"dependency": self.name})

    async def _probe(self, paths: tuple[str, ...], correlation_id: str | None) -> dict[str, Any]:
        """Health: no breaker, no retry; the first path that is not 404 decides."""
        if not self.configured:
            return {"status": "not_configured" if self.config_error is None else "degraded",
                    "reason": self.config_error or f"{self.env_url} is not set"}
        last: TowerError | None = None
        for path in paths:
            t0 = time.monotonic()
            try:
                resp = await self._request("GET", path, None, None, correlation_id, None, self.health_timeout_s)
            except TowerError as err:
                last = err
                if getattr(err, "status_code", None) == 404:
                    continue
                break
            body = resp.data if isinstance(resp.data, dict) else {}
            status = body.get("status", "healthy")
            return {"status": "healthy" if status in ("healthy", "ok", "connected") else "degraded",
                    "path": path, "latency_s": time.monotonic() - t0, "service_status": status}
        return {"status": "down", "reason": last.message if last else "no health route"}
