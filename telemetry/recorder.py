"""The recorder: a non-blocking hand-off on the hot path and one writer thread that batches into the store.

``record(event)`` is an append to a bounded deque: it never blocks and never raises; an event that does not fit
is counted in ``dropped``. The writer thread drains up to ``batch_size`` events, writes them in one
transaction, and then calls the ``on_committed`` listeners (websocket broadcast, Prometheus counters) with the
events it stored, so a listener only ever announces what is already on disk. A failed write is retried with a
capped backoff; events are never silently discarded while the store can still take them. A hook may also hand
over ``Deferred`` work (references and clock readings): the writer expands it into events before the transaction,
so parsing and event building happen here instead of on ComfyUI's threads. Inside ComfyUI the writer is "polite"
(``telemetry/gil.py``: it pauses every few items while it keeps up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from . import gil
from .events import EXPANDERS, Deferred, Event

__all__ = ["Recorder", "QUIET_S", "WRITER_CHUNK"]

WRITER_CHUNK = 128  # items per transaction inside ComfyUI while the writer keeps up (see Recorder.chunk)
QUIET_S = 0.02  # "ComfyUI is quiet": no event recorded for this long

log = logging.getLogger("tower_sentinel.recorder")


class _Store(Protocol):
    def write_batch(self, events: Sequence[Event]) -> None: ...



class Recorder:
    def __init__(
        self,
        store: _Store,
        *,
        max_queue: int = 100_000,
        batch_size: int = 5_000,
        linger_s: float = 0.3,
        on_committed: Sequence[Callable[[Sequence[Event]], None]] = (),
        clock: Callable[[], float] = time.monotonic,
        polite: bool = False,
        max_delay_s: float = 0.0,
        quiet_s: float = QUIET_S,
        chunk: int = 0,
    ) -> None:
        self._store = store
        # a deque, not a queue.Queue: append/popleft are single C calls under the GIL (no lock, no condition
        # variable per event); the bound is checked by record() and the writer is woken only when it sleeps
        self._q: deque[Any] = deque()
        self._max = max_queue
        self._batch_size = batch_size
        self._linger = linger_s
        self._listeners = list(on_committed)
        self._polls: list[Callable[[], Sequence[Any]]] = []
        self._clock = clock
        self._polite = polite
        self._max_delay = max(max_delay_s, linger_s)
        # while it keeps up, the writer commits what it found in transactions of at most ``chunk`` items, so the
        # objects it builds for them die young instead of being promoted to the oldest generation, where they
        # would bring on ComfyUI's full garbage collections (0: one transaction up to batch_size)
        self._chunk = chunk
        self._quiet = quiet_s if max_delay_s > linger_s else 0.0
        self.polite_batches = 0
        self.quiet_waits = 0
        self._quiet_mark = 0  # times the writer let a busy ComfyUI go first (see _await_quiet)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._idle = False
        self._flushes = 0  # flush requests in the queue (under _flush_lock): the writer does not linger then
        self._flush_lock = threading.Lock()
        self.enqueued = 0
        self.dropped = 0
        self.written = 0
        self.write_errors = 0
        self.listener_errors = 0
        self.expand_errors = 0
        self.last_error: str | None = None
        self.last_write_at: float | None = None

    # --- hot path ---------------------------------------------------------------------------------------------
    def record(self, event: Event) -> bool:
        q = self._q
        if len(q) >= self._max:
            self.dropped += 1
            return False
        q.append(event)
        self.enqueued += 1
        if self._idle:  # the writer announced it sleeps: wake it (at most once per sleep)
            self._idle = False
            self._wake.set()
        return True

    # --- lifecycle --------------------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[Sequence[Event]], None]) -> None:
        self._listeners.append(fn)

    def add_poll(self, fn: Callable[[], Sequence[Any]]) -> None:
        """``fn()`` is called by the writer before each batch and whenever it wakes; what it returns (events or
        deferred work) is recorded. For state the hooks only note, such as the prompt in progress."""
        self._polls.append(fn)

    def _poll(self) -> None:
        for fn in self._polls:
            try:
                for item in fn():
                    self.record(item)
            except Exception as exc:  # noqa: BLE001 - a poll bug never stops recording
                self.expand_errors += 1
                if self.expand_errors == 1:
                    log.error("tower.recorder.poll_failed", extra={"error": repr(exc)})

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
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until every event recorded before this call is committed (tests, shutdown). Not for hot paths."""
        if self._thread is None or not self._thread.is_alive():
            return False
        done = threading.Event()
        with self._flush_lock:
            self._flushes += 1
            self._q.append(done)
        self._wake.set()
        return done.wait(timeout)

    # --- writer thread ----------------------------------------------------------------------------------------
    def _sleep(self, timeout: float) -> None:
        self._wake.clear()
        self._idle = True
        if not self._q:  # re-checked after announcing idle: an append before it is seen here, one after wakes us
            self._wake.wait(timeout)
        self._idle = False

    def _run(self) -> None:
        backoff = 0.05
        q = self._q
        pending: list[Event] = []
        waiters: list[threading.Event] = []
        drain = 0  # items left of what the last wait found: written chunk after chunk, without waiting again
        idle_mark = 0
        quiet = False
        while True:
            if self._polls:
                self._poll()
            if not pending and not q:
                if self._stop.is_set():
                    return
                if self.written != idle_mark:  # wrote since it last slept: tell the store it goes idle
                    idle_mark = self.written
                    on_idle = getattr(self._store, "on_idle", None)
                    if on_idle is not None:
                        try:
                            on_idle()
                        except Exception:  # noqa: BLE001 - housekeeping, never a reason to stop recording
                            pass
                self._sleep(0.5)
                continue
            # group commit: after the first event, linger briefly so a burst shares one transaction (far less
            # CPU per event than a commit each); a flush request or a full batch ends the wait at once
            if drain <= 0:
                quiet = False
                if not pending and len(q) < self._batch_size and not self._flushes and not self._stop.is_set():
                    self._wake.clear()
                    t_first = time.monotonic()
                    self._wake.wait(self._linger)
                    if self._quiet:
                        quiet = self._await_quiet(t_first + self._max_delay)
                drain = len(q)
            keeping_up = len(q) < self._batch_size
            limit = self._chunk if self._chunk and keeping_up else self._batch_size
            n = min(len(q), limit - len(pending))
            # keeping up inside ComfyUI: hand the GIL over every few items; after a quiet gap only once events
            # arrive again (ComfyUI busy again), since each pause costs a few µs of CPU
            pause = None
            if self._polite and keeping_up:
                pause = self._pause_if_busy if quiet else gil.pause
                self.polite_batches += 1
            self._quiet_mark = self.enqueued
            set_pause = getattr(self._store, "set_pause", None)
            if set_pause is not None:
                set_pause(pause)
            for i in range(n):
                if pause is not None and i % gil.EVERY == gil.EVERY - 1:
                    pause()
                item = q.popleft()
                drain -= 1
                t = type(item)
                if t is tuple or t is Deferred:
                    self._expand(item, pending)
                    continue
                if isinstance(item, threading.Event):
                    waiters.append(item)
                    with self._flush_lock:
                        self._flushes -= 1
                    break  # commit what came before the flush request, then answer it
                pending.append(item)
            if pending:
                try:
                    self._store.write_batch(pending)
                except Exception as exc:  # noqa: BLE001 - keep the events and retry
                    self.write_errors += 1
                    if self.last_error != repr(exc):
                        log.error("tower.recorder.write_failed", extra={"error": repr(exc), "batch": len(pending)})
                    self.last_error = repr(exc)
                    if self._stop.is_set() and not waiters:
                        return
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                backoff = 0.05
                self.written += len(pending)
                self.last_write_at = self._clock()
                self.last_error = None
                batch, pending = pending, []
                # polite: listeners get the batch in slices with a pause between (rendering a hundred log lines
                # in one go would hold the GIL for milliseconds)
                step = gil.LISTENER_SLICE if pause is not None else max(1, len(batch))
                for fn in self._listeners:
                    for k in range(0, len(batch), step):
                        if pause is not None:
                            pause()
                        try:
                            fn(batch[k:k + step] if step < len(batch) else batch)
                        except Exception as exc:  # noqa: BLE001 - a listener bug never stops recording
                            self.listener_errors += 1
                            log.warning("tower.recorder.listener_failed", extra={"error": repr(exc)})
            for w in waiters:
                w.set()
            waiters.clear()

    def _pause_if_busy(self) -> None:
        if self.enqueued != self._quiet_mark:
            gil.pause()

    def _await_quiet(self, give_up: float) -> bool:
        """Let a busy ComfyUI go first: while events keep arriving (prompts being posted and run), wait for a
        ``quiet_s`` gap in them, at most until ``give_up`` (then write anyway, politely). Under a flood of short
        prompts the batch is then built and committed in the gaps instead of competing for the GIL with the event
        loop and the prompt worker; with real prompts (nodes that run for tenths of seconds) a gap comes at once.
        A flush, a stop or a full batch ends the wait. True when a quiet gap was found."""
        q = self._q
        while not self._flushes and not self._stop.is_set() and len(q) < self._batch_size:
            seen = self.enqueued
            self._wake.wait(self._quiet)  # cleared by the caller; only flush() and stop() set it here
            if self.enqueued == seen:
                return True
            if time.monotonic() >= give_up:
                return False
            self.quiet_waits += 1
        return False

    def _expand(self, item: Deferred | tuple[Any, ...], pending: list[Event]) -> None:
        """A hook's deferred work (a Deferred, or a ``(code, *args)`` tuple, see ``events.register_expander``):
        its events join the batch; a bug in it is counted and logged once, and the events before and after it
        are written as usual."""
        fn = None
        try:
            if type(item) is tuple:
                fn = EXPANDERS[item[0]]
                pending.extend(fn(*item[1:]) or ())
            else:
                fn = item.fn
                pending.extend(item.expand())
        except Exception as exc:  # noqa: BLE001
            self.expand_errors += 1
            if self.expand_errors == 1:
                log.error("tower.recorder.deferred_failed", extra={"error": repr(exc),
                                                                    "fn": getattr(fn, "__qualname__", "?")})

    def get_stats(self) -> dict[str, Any]:
        return {
            "queue_depth": len(self._q),
            "queue_capacity": self._max,
            "enqueued": self.enqueued,
            "dropped": self.dropped,
            "written": self.written,
            "write_errors": self.write_errors,
            "listener_errors": self.listener_errors,
            "deferred_errors": self.expand_errors,
            "polite": self._polite,
            "quiet_waits": self.quiet_waits,
            "max_delay_s": self._max_delay,
            "last_error": self.last_error,
            "running": bool(self._thread and self._thread.is_alive()),
        }
