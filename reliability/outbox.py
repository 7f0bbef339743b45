"""The durable outbox: reports that must reach Echo Brain or the KB are stored first, then delivered.

``OutboxWorker.enqueue`` writes an :class:`OutboxItem` to an :class:`OutboxStore` and returns; nothing is sent on
the caller's path. ``run_once`` delivers the items that are due through one *sender* per kind (the clients, so
each delivery goes through retry and the dependency's breaker) with the item's ``Idempotency-Key``. A failure
reschedules the item with exponential backoff (jittered, ``Retry-After`` as a floor) until ``max_age_s``
(24 h) has passed since it was queued or requeued; then it becomes a dead letter, kept, counted in ``stats()`` and
re-deliverable with ``requeue``. A 4xx other than 408/429 (the service refuses this payload) is dead at once.
A breaker rejection stops that kind for the rest of the round (the other items stay due, untouched).

Where it runs: :class:`OutboxThread` hosts the worker in a daemon thread with its own event loop. The store is
blocking SQLite and the deliveries take seconds to hours of backoff, so neither belongs on ComfyUI's server loop
(DESIGN: no database I/O there), and a thread of our own has a clean ``stop()`` that does not depend on how
ComfyUI shuts its loop down. The clients are shared with the server loop (one session per loop), and so are
the breakers, so the outbox and ``/tower/generate`` agree on whether a dependency is up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .errors import DependencyUnavailable

__all__ = [
    "KINDS",
    "KB_ARTICLE",
    "ECHO_FEEDBACK",
    "ECHO_LEARNING",
    "FAILURE_REPORT_CATEGORY",
    "FAILURE_REPORT_TAGS",
    "OutboxItem",
    "OutboxStore",
    "MemoryOutboxStore",
    "OutboxConfig",
    "OutboxEvent",
    "DeliveryReport",
    "OutboxWorker",
    "OutboxThread",
    "Sender",
    "failure_report_payload",
    "default_senders",
]

_log = logging.getLogger("tower_sentinel.reliability.outbox")

KB_ARTICLE = "kb_article"
ECHO_FEEDBACK = "echo_feedback"
ECHO_LEARNING = "echo_learning"
KINDS = (KB_ARTICLE, ECHO_FEEDBACK, ECHO_LEARNING)
FAILURE_REPORT_CATEGORY = "learning-analysis"
FAILURE_REPORT_TAGS = ("anime-production", "failure-analysis", "learning")

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    created_at: float  # epoch seconds (wall clock: items outlive the process)
    next_attempt_at: float
    window_start_at: float  # created_at, or when it was last requeued; max_age counts from here
    status: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    correlation_id: str | None = None
    delivered_at: float | None = None
    dead_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for routes and health."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


class OutboxStore(Protocol):
    """Where items wait. Implementations are thread-safe; ``add`` with a known idempotency key returns the
    existing item instead of adding another."""

    def add(self, item: OutboxItem) -> OutboxItem: ...
    def due(self, now: float, limit: int) -> list[OutboxItem]: ...
    def mark_delivered(self, item_id: str, *, now: float | None = None) -> None: ...
    def mark_failed(self, item_id: str, error: str, next_attempt_at: float) -> None: ...
    def mark_dead(self, item_id: str, error: str | None = None, *, now: float | None = None) -> None: ...
    def get(self, item_id: str) -> OutboxItem | None: ...
    def requeue(self, item_id: str, *, now: float | None = None) -> bool: ...
    def expedite(self, kind: str, *, now: float) -> int: ...
    def list(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]: ...
    def purge_delivered(self, before: float) -> int: ...
    def stats(self, now: float | None = None) -> dict[str, Any]: ...


class MemoryOutboxStore:
    """An in-memory :class:`OutboxStore` (tests, or when no database is writable)."""

    def __init__(self) -> None:
        self._items: dict[str, OutboxItem] = {}
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, item: OutboxItem) -> OutboxItem:
        with self._lock:
            existing = self._by_key.get(item.idempotency_key)
            if existing is not None:
                return self._items[existing]
            self._items[item.id] = item
            self._by_key[item.idempotency_key] = item.id
            return item

    def due(self, now: float, limit: int) -> list[OutboxItem]:
        with self._lock:
            due = [i for i in self._items.values() if i.status == PENDING and i.next_attempt_at <= now]
        return sorted(due, key=lambda i: (i.next_attempt_at, i.created_at))[:limit]

    def _update(self, item_id: str, **changes: Any) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is not None:
                if "attempts" in changes:
                    changes["attempts"] = item.attempts + 1
                self._items[item_id] = replace(item, **changes)

    def mark_delivered(self, item_id: str, *, now: float | None = None) -> None:
        self._update(item_id, status=DELIVERED, delivered_at=time.time() if now is None else now, attempts=1,
                     last_error=None)

    def mark_failed(self, item_id: str, error: str, next_attempt_at: float) -> None:
        self._update(item_id, attempts=1, last_error=error, next_attempt_at=next_attempt_at)

    def mark_dead(self, item_id: str, error: str | None = None, *, now: float | None = None) -> None:
        changes: dict[str, Any] = {"status": DEAD, "dead_at": time.time() if now is None else now}
        if error is not None:
            changes["last_error"] = error
        self._update(item_id, **changes)

    def get(self, item_id: str) -> OutboxItem | None:
        with self._lock:
            return self._items.get(item_id)

    def requeue(self, item_id: str, *, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            item = self._items.get(item_id)
            if item is None or item.status == DELIVERED:
                return False
            self._items[item_id] = replace(item, status=PENDING, next_attempt_at=now, window_start_at=now,
                                           dead_at=None)
            return True

    def expedite(self, kind: str, *, now: float) -> int:
        with self._lock:
            due = [i for i in self._items.values() if i.status == PENDING and i.kind == kind and i.next_attempt_at > now]
            for i in due:
                self._items[i.id] = replace(i, next_attempt_at=now)
            return len(due)

    def list(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        with self._lock:
            items = [i for i in self._items.values() if status is None or i.status == status]
        return sorted(items, key=lambda i: i.created_at, reverse=True)[:limit]

    def purge_delivered(self, before: float) -> int:
        with self._lock:
            gone = [k for k, i in self._items.items() if i.status == DELIVERED and (i.delivered_at or 0) < before]
            for k in gone:
                self._by_key.pop(self._items.pop(k).idempotency_key, None)
        return len(gone)

    def stats(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        with self._lock:
            items = list(self._items.values())
        pending = [i for i in items if i.status == PENDING]
        return {
            "pending": len(pending),
            "delivered": sum(i.status == DELIVERED for i in items),
            "dead": sum(i.status == DEAD for i in items),
            "oldest_pending_age_s": max((now - i.created_at for i in pending), default=None),
        }


Sender = Callable[[OutboxItem], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    max_age_s: float = 24 * 3600.0
    base_delay_s: float = 30.0
    max_delay_s: float = 3600.0
    batch_size: int = 20
    poll_interval_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OutboxConfig:
        """``TOWER_OUTBOX_MAX_AGE_H`` (24); an unreadable value keeps the default."""
        env = os.environ if env is None else env
        try:
            hours = float(env.get("TOWER_OUTBOX_MAX_AGE_H") or 24)
        except ValueError:
            hours = 24.0
        return cls(max_age_s=(hours if hours > 0 else 24.0) * 3600.0)


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """Handed to ``on_event``: ``event`` is "queued", "delivered", "failed" or "dead"."""

    event: str
    item_id: str
    kind: str
    attempts: int
    error: str | None = None
    next_attempt_at: float | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    blocked_kinds: tuple[str, ...] = ()

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed + self.dead


def failure_report_payload(title: str, content: str) -> dict[str, Any]:
    """A failure-analysis report as a KB article, with the original's category and tags."""
    return {"title": title, "content": content, "category": FAILURE_REPORT_CATEGORY,
            "tags": list(FAILURE_REPORT_TAGS)}


def _is_permanent(exc: BaseException) -> bool:
    """The service refused this payload (a 4xx other than 408/429): retrying will not change its mind."""
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in (408, 429)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:500]


class OutboxWorker:
    """Store-first enqueue and the delivery rounds. Not re-entrant: one worker per store."""

    def __init__(
        self,
        store: OutboxStore,
        senders: Mapping[str, Sender],
        config: OutboxConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_event: Callable[[OutboxEvent], None] | None = None,
    ) -> None:
        self.store = store
        self.senders = dict(senders)
        self.config = config or OutboxConfig()
        self._clock = clock
        self._rng = rng or random.Random()
        self._on_event = on_event
        self._counters = {"delivered": 0, "failed": 0, "dead": 0, "rounds": 0, "round_errors": 0}
        self._last_round_at: float | None = None

    def enqueue(self, kind: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None,
                correlation_id: str | None = None) -> OutboxItem:
        """Store the item (blocking store I/O: call it off the server loop) and return it; a repeated
        idempotency key returns the item already queued."""
        if kind not in self.senders:
            raise ValueError(f"unknown outbox kind {kind!r}; known: {sorted(self.senders)}")
        now = self._clock()
        item = OutboxItem(id=uuid.uuid4().hex, kind=kind, payload=dict(payload),
                          idempotency_key=idempotency_key or f"{kind}:{uuid.uuid4().hex}", created_at=now,
                          next_attempt_at=now, window_start_at=now, correlation_id=correlation_id)
        stored = self.store.add(item)
        if stored.id == item.id:
            self._emit(OutboxEvent("queued", item.id, kind, 0))
        return stored

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential in the attempts already made, jittered to 50-100 %, capped; Retry-After is a floor."""
        cfg = self.config
        delay = min(cfg.max_delay_s, cfg.base_delay_s * 2.0 ** attempts) * self._rng.uniform(0.5, 1.0)
        if isinstance(retry_after, (int, float)):
            delay = max(delay, float(retry_after))
        return delay

    async def run_once(self) -> DeliveryReport:
        """Deliver what is due now (one batch)."""
        now = self._clock()
        self._counters["rounds"] += 1
        self._last_round_at = now
        delivered = failed = dead = 0
        blocked: set[str] = set()
        for item in self.store.due(now, self.config.batch_size):
            if item.kind in blocked:
                continue
            sender = self.senders.get(item.kind)
            if sender is None:
                self._dead(item, f"no sender for kind {item.kind!r}")
                dead += 1
                continue
            try:
                await sender(item)
            except DependencyUnavailable as exc:
                blocked.add(item.kind)
                outcome = self._failed(item, exc, getattr(exc, "retry_after", None))
            except Exception as exc:  # noqa: BLE001 - any delivery failure is the item's state, not a crash
                if _is_permanent(exc):
                    self._dead(item, _describe(exc))
                    outcome = DEAD
                else:
                    outcome = self._failed(item, exc, getattr(exc, "retry_after", None))
            else:
                self.store.mark_delivered(item.id, now=self._clock())
                self._counters["delivered"] += 1
                self._emit(OutboxEvent("delivered", item.id, item.kind, item.attempts + 1))
                delivered += 1
                continue
            if outcome == DEAD:
                dead += 1
            else:
                failed += 1
        return DeliveryReport(delivered, failed, dead, tuple(sorted(blocked)))

    def _failed(self, item: OutboxItem, exc: BaseException, retry_after: float | None) -> str:
        now = self._clock()
        error = _describe(exc)
        next_at = now + self.backoff(item.attempts, retry_after)
        if next_at - item.window_start_at >= self.config.max_age_s:
            self._dead(item, f"gave up after {self.config.max_age_s / 3600:g} h: {error}")
            return DEAD
        self.store.mark_failed(item.id, error, next_at)
        self._counters["failed"] += 1
        self._emit(OutboxEvent("failed", item.id, item.kind, item.attempts + 1, error, next_at))
        return PENDING

    def _dead(self, item: OutboxItem, error: str) -> None:
        self.store.mark_dead(item.id, error, now=self._clock())
        self._counters["dead"] += 1
        _log.warning("outbox_dead_letter", extra={"item_id": item.id, "kind": item.kind, "error": error})
        self._emit(OutboxEvent("dead", item.id, item.kind, item.attempts + 1, error))

    def requeue(self, item_id: str) -> bool:
        """Deliver a dead (or waiting) item again now, with a fresh max-age window."""
        return self.store.requeue(item_id, now=self._clock())

    def expedite(self, kinds: tuple[str, ...] | list[str]) -> int:
        """Make the waiting items of these kinds due now: their service recovered, the backoff has no point."""
        now = self._clock()
        return sum(self.store.expedite(k, now=now) for k in kinds)

    async def run(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Deliver until ``stop`` is set: a full batch goes straight on, else wait for ``wake`` or the poll."""
        wake = wake or asyncio.Event()
        while not stop.is_set():
            try:
                report = await self.run_once()
            except Exception:  # noqa: BLE001 - a store hiccup must not end the worker
                self._counters["round_errors"] += 1
                _log.exception("outbox_round_failed")
                report = DeliveryReport()
            if report.attempted >= self.config.batch_size:
                await asyncio.sleep(0)
                continue
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=self.config.poll_interval_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
            wake.clear()

    def get_stats(self) -> dict[str, Any]:
        return {**self.store.stats(self._clock()), "worker": {**self._counters, "last_round_at": self._last_round_at}}

    def _emit(self, event: OutboxEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001
            _log.exception("outbox_event_hook_failed")


def default_senders(*, echo: Any = None, kb: Any = None, budget_s: float = 60.0) -> dict[str, Sender]:
    """Senders for the three kinds over an :class:`EchoBrainClient` and a :class:`KBClient`."""
    senders: dict[str, Sender] = {}
    if kb is not None:
        async def send_article(item: OutboxItem) -> Any:
            p = item.payload
            return await kb.create_article(p["title"], p["content"], category=p.get("category",
                                           FAILURE_REPORT_CATEGORY), tags=p.get("tags", list(FAILURE_REPORT_TAGS)),
                                           idempotency_key=item.idempotency_key,
                                           correlation_id=item.correlation_id, budget_s=budget_s)
        senders[KB_ARTICLE] = send_article
    if echo is not None:
        async def send_learning(item: OutboxItem) -> Any:
            return await echo.send_learning(item.kind, item.payload, idempotency_key=item.idempotency_key,
                                            correlation_id=item.correlation_id, budget_s=budget_s)
        senders[ECHO_FEEDBACK] = send_learning
        senders[ECHO_LEARNING] = send_learning
    return senders


@dataclass
class OutboxThread:
    """Runs an :class:`OutboxWorker` in a daemon thread with its own event loop; ``stop()`` is clean."""

    worker: OutboxWorker
    clients: Sequence[Any] = ()  # their sessions in this thread's loop are closed on stop
    name: str = "tower-outbox"
    _thread: threading.Thread | None = field(default=None, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _stop: asyncio.Event | None = field(default=None, init=False)
    _wake: asyncio.Event | None = field(default=None, init=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def wake(self) -> None:
        """Deliver now (e.g. right after enqueue, or after a requeue); thread-safe."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the worker to finish its current delivery and end; True when the thread ended in time."""
        if self._thread is None:
            return True
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _main(self) -> None:
        asyncio.run(self._amain())

    async def _amain(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop, self._wake = asyncio.Event(), asyncio.Event()
        self._ready.set()
        try:
            await self.worker.run(self._stop, self._wake)
        finally:
            for client in self.clients:
                try:
                    await client.close(all_loops=False)
                except Exception:  # noqa: BLE001
                    _log.exception("outbox_client_close_failed")
