"""The recorder: a non-blocking hand-off on the hot path and one writer thread that batches into the store.

``record(event)`` is a ``put_nowait`` on a bounded queue: it never blocks and never raises; an event that does not
fit is counted in ``dropped``. The writer thread drains up to ``batch_size`` events, writes them in one
transaction, and then calls the ``on_committed`` listeners (websocket broadcast, Prometheus counters) with the
events it stored, so a listener only ever announces what is already on disk. A failed write is retried with a
capped backoff; events are never silently discarded while the store can still take them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .events import Event

__all__ = ["Recorder"]

log = logging.getLogger("tower_sentinel.recorder")


class _Store(Protocol):
    def write_batch(self, events: Sequence[Event]) -> None: ...


_FLUSH = object()


class Recorder:
    def __init__(
        self,
        store: _Store,
        *,
        max_queue: int = 100_000,
        batch_size: int = 5_000,
        linger_s: float = 0.02,
        on_committed: Sequence[Callable[[Sequence[Event]], None]] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._q: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._linger = linger_s
        self._listeners = list(on_committed)
        self._clock = clock
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.enqueued = 0
        self.dropped = 0
        self.written = 0
        self.write_errors = 0
        self.listener_errors = 0
        self.last_error: str | None = None
        self.last_write_at: float | None = None

    # --- hot path ---------------------------------------------------------------------------------------------
    def record(self, event: Event) -> bool:
        try:
            self._q.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            return False
        self.enqueued += 1
        return True

    # --- lifecycle --------------------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[Sequence[Event]], None]) -> None:
        self._listeners.append(fn)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tower-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the writer."""
        if self._thread is None:
            return
        self.flush(timeout)
        self._stop.set()
        try:
            self._q.put_nowait(_FLUSH)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until every event recorded before this call is committed (tests, shutdown). Not for hot paths."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        try:
            self._q.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    # --- writer thread ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.05
        pending: list[Event] = []
        waiters: list[threading.Event] = []
        while True:
            if not pending:
                try:
                    item = self._q.get(timeout=0.5)
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
                self._take(item, pending, waiters)
            # group commit: after the first event, linger briefly so a burst shares one transaction (far less
            # CPU per event than a commit each); a flush request or a full batch ends the wait at once
            deadline = time.monotonic() + self._linger
            while len(pending) < self._batch_size and not waiters:
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._stop.is_set():
                        break
                    try:
                        item = self._q.get(timeout=remaining)
                    except queue.Empty:
                        break
                self._take(item, pending, waiters)
            if pending:
                try:
                    self._store.write_batch(pending)
                except Exception as exc:  # noqa: BLE001 - keep the events and retry
                    self.write_errors += 1
                    if self.last_error != repr(exc):
                        log.error("tower.recorder.write_failed", extra={"error": repr(exc), "batch": len(pending)})
                    self.last_error = repr(exc)
                    if self._stop.is_set():
                        return
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                backoff = 0.05
                self.written += len(pending)
                self.last_write_at = self._clock()
                self.last_error = None
                batch, pending = pending, []
                for fn in self._listeners:
                    try:
                        fn(batch)
                    except Exception as exc:  # noqa: BLE001 - a listener bug never stops recording
                        self.listener_errors += 1
                        log.warning("tower.recorder.listener_failed", extra={"error": repr(exc)})
            for w in waiters:
                w.set()
            waiters.clear()
            if self._stop.is_set() and self._q.empty():
                return

    @staticmethod
    def _take(item: Any, pending: list[Event], waiters: list[threading.Event]) -> None:
        if item is _FLUSH:
            return
        if isinstance(item, threading.Event):
            waiters.append(item)
        else:
            pending.append(item)

    def get_stats(self) -> dict[str, Any]:
        return {
            "queue_depth": self._q.qsize(),
            "queue_capacity": self._q.maxsize,
            "enqueued": self.enqueued,
            "dropped": self.dropped,
            "written": self.written,
            "write_errors": self.write_errors,
            "listener_errors": self.listener_errors,
            "last_error": self.last_error,
            "running": bool(self._thread and self._thread.is_alive()),
        }
