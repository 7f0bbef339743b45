"""The shipper: a daemon thread that moves spooled events from the embedded SQLite spool into PostgreSQL.

Exactly once, by construction: a batch is read from the spool in ``seq`` order, applied to PostgreSQL in one
transaction whose statements are idempotent (event id as the key, ``ON CONFLICT DO NOTHING``; prompts through a
merge that converges on replay), and deleted from the spool only after PostgreSQL committed. A crash anywhere
leaves the batch in the spool, and the replay inserts nothing twice.

A dead or paused server never hangs the thread: connections carry a connect timeout, a statement timeout and TCP
keepalives/user timeout, and a watchdog shuts the socket down when one apply runs past ``op_timeout`` (a SIGSTOPped
server's kernel still acknowledges packets, so only a client-side deadline notices). Reconnects back off
exponentially with jitter, capped low (1 s) so a returning database is found within a second or so.

Throughput: while PostgreSQL commits batch N, a spool I/O thread reads batch N+1 (``seq > last committed``) and then
deletes batch N by its seq range; the SQLite and PostgreSQL work overlap instead of taking turns. The delete is
submitted only after the commit (and after the ``after_commit`` fault point), so the order that makes shipping
exactly-once is unchanged: a crash before the delete leaves the batch spooled and its replay inserts nothing.
While a backlog exists (a batch came back full) batches grow up to ``max_batch``; after a short batch or a failure
they go back to ``batch_size``.

A large batch's operation rows (the bulk, and free of ordering: each is its own key) are split over ``parallel``
connections, each share in its own transaction, committed concurrently; prompts, errors, quality and feedback stay
on the first connection in their order. The spool delete waits for every share's commit, so a failure in any share
replays the whole batch, which the idempotent statements absorb.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from .pg_store import PostgresStore, SpoolRecord, classify_error, safe_message

__all__ = ["Shipper", "SimulatedCrash"]

log = logging.getLogger("tower_sentinel.shipper")


class _Spool(Protocol):
    def spool_batch(self, limit: int, after: int = 0) -> list[SpoolRecord]: ...
    def spool_delete_upto(self, seq: int) -> None: ...
    def spool_depth(self) -> int: ...


class SimulatedCrash(Exception):
    """Raised by a test's fault hook to stand for the process dying at that point."""


class Shipper:
    """Spool → PostgreSQL. ``fault(point)`` is a test hook called at ``"after_commit"`` (before the spool delete)."""

    def __init__(
        self,
        spool: _Spool,
        pg: PostgresStore,
        *,
        batch_size: int = 5_000,
        max_batch: int = 20_000,
        parallel: int = 3,
        parallel_min: int = 2_000,
        idle_wait: float = 0.2,
        backoff_base: float = 0.1,
        backoff_cap: float = 1.0,
        op_timeout: float | None = None,
        fault: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spool = spool
        self._pg = pg
        self.batch_size = batch_size
        self.max_batch = max(batch_size, max_batch)
        self._limit = batch_size
        self.parallel = max(1, parallel)
        self.parallel_min = parallel_min  # operation rows in a batch before they are split over connections
        self._extra: list[Any] = []  # connections 2..parallel
        self._apply_pool: ThreadPoolExecutor | None = None
        self._after = 0  # highest seq known committed to PostgreSQL (its delete may still be pending)
        self._io: ThreadPoolExecutor | None = None
        self._prefetch: tuple[int, int, Future[list[SpoolRecord]]] | None = None  # (after, limit, read)
        self._delete: Future[None] | None = None
        self._idle_wait = idle_wait
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._op_timeout = op_timeout if op_timeout is not None else pg.statement_timeout + 5.0
        self._fault = fault
        self._rng = rng or random.Random()
        self._clock = clock
        self._conn: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.state = "starting"  # starting | ok | down
        self.reason: str | None = None
        self.last_error: str | None = None
        self.shipped = 0
        self.inserted = 0
        self.batches = 0
        self.errors = 0
        self.reconnects = 0
        self.watchdog_aborts = 0
        self.spool_depth = 0
        self.last_ship_at: float | None = None
        self.down_since: float | None = None
        self._attempt = 0
        self.seconds = {"spool_read": 0.0, "apply": 0.0, "spool_delete": 0.0}
        self._last_ping = 0.0
        self.ping_interval = 5.0

    # --- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tower-shipper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._settle()
        io, self._io = self._io, None
        if io is not None:
            io.shutdown(wait=True, cancel_futures=True)
        ap, self._apply_pool = self._apply_pool, None
        if ap is not None:
            ap.shutdown(wait=True, cancel_futures=True)
        self._prefetch = None
        self._close()

    def wake(self) -> None:
        """New events were spooled (a recorder listener): ship now instead of at the next poll."""
        self._wake.set()

    # --- one step (the thread's body; tests call it directly) ---------------------------------------------------
    def ship_once(self) -> int:
        """Ship one batch; returns how many spool records it shipped (0: the spool was empty)."""
        t0 = self._clock()
        limit = self._limit
        records = self._take_prefetch(limit)
        if records is None:
            records = self._spool.spool_batch(limit, after=self._after)
        if not records:
            self._settle()  # the last delete has landed: the spool is really empty
            self.spool_depth = self._spool.spool_depth()
            self._limit = self.batch_size
            return 0
        full = len(records) >= limit
        next_limit = min(self.max_batch, limit * 2) if full else self.batch_size
        try:
            conn = self._connection()
            if full:  # a backlog: read the next batch while this one is applied
                self._prefetch = (records[-1][0], next_limit,
                                  self._io_pool().submit(self._spool.spool_batch, next_limit, records[-1][0]))
            t1 = self._clock()
            inserted = self._apply(conn, records)
            t2 = self._clock()
            if self._fault is not None:
                self._fault("after_commit")
        except BaseException:
            self._limit = self.batch_size
            raise
        # committed: only now may the batch leave the spool (by its seq range, on the I/O thread)
        self._after = records[-1][0]
        self._check_delete()
        self._delete = self._io_pool().submit(self._spool.spool_delete_upto, self._after)
        self._limit = next_limit
        self.seconds["spool_read"] += t1 - t0
        self.seconds["apply"] += t2 - t1
        self.shipped += len(records)
        self.inserted += inserted
        self.batches += 1
        self.last_ship_at = self._clock()
        self.spool_depth = max(0, self.spool_depth - len(records))
        return len(records)

    def _apply(self, conn: Any, records: list[SpoolRecord]) -> int:
        """Apply one batch: on ``conn`` alone, or with its operation rows shared out over extra connections."""
        ops = [r for r in records if r[2] == "operation"] if self.parallel > 1 else []
        if len(ops) < self.parallel_min:
            with self._watchdog(conn):
                return self._pg.apply_records(records, conn)
        rest = [r for r in records if r[2] != "operation"]
        n = self.parallel
        # Shares by event id, so a repeated id always lands in one share (two transactions inserting the same keys
        # in opposite orders could deadlock); the first share also carries the ordered kinds, so it takes fewer ops.
        to_first = max(0.0, (len(records) / n - len(rest)) / len(ops))
        buckets: list[list[SpoolRecord]] = [[] for _ in range(n)]
        for r in ops:
            h = hash(r[1]) & 0x7FFFFFFF
            buckets[0 if (h % 10_007) < to_first * 10_007 else 1 + (h // 10_007) % (n - 1)].append(r)
        parts = [rest + buckets[0], *buckets[1:]]
        extra = self._extra_connections(len(parts) - 1)
        if self._apply_pool is None:
            self._apply_pool = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="tower-ship-apply")
        futs = [self._apply_pool.submit(self._apply_part, c, part) for c, part in zip(extra, parts[1:], strict=True)]
        inserted = 0
        error: BaseException | None = None
        try:
            inserted += self._apply_part(conn, parts[0])
        except BaseException as exc:  # noqa: BLE001 - wait for the other shares before raising
            error = exc
        for fut in futs:
            try:
                inserted += fut.result()
            except BaseException as exc:  # noqa: BLE001
                error = error or exc
        if error is not None:
            raise error
        return inserted

    def _apply_part(self, conn: Any, part: list[SpoolRecord]) -> int:
        if not part:
            return 0
        with self._watchdog(conn):
            return self._pg.apply_records(part, conn)

    def _extra_connections(self, k: int) -> list[Any]:
        self._extra = [c for c in self._extra if not c.closed]
        while len(self._extra) < k:
            self._extra.append(self._pg.connect(autocommit=True))
        return self._extra[:k]

    def _io_pool(self) -> ThreadPoolExecutor:
        if self._io is None:
            self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tower-spool-io")
        return self._io

    def _take_prefetch(self, limit: int) -> list[SpoolRecord] | None:
        """The batch read ahead, if it starts right after the last commit (a failed apply voids it)."""
        pre, self._prefetch = self._prefetch, None
        if pre is None:
            return None
        after, pre_limit, fut = pre
        try:
            records = fut.result()
        except Exception:  # noqa: BLE001 - a failed read-ahead is just read again
            return None
        if after != self._after or pre_limit != limit:
            return None
        return records

    def _check_delete(self) -> None:
        """Account for the previous spool delete (a failed one is covered by the next, which deletes by prefix)."""
        fut, self._delete = self._delete, None
        if fut is None:
            return
        t = self._clock()
        try:
            fut.result()
        except Exception as exc:  # noqa: BLE001
            log.warning("tower.shipper.spool_delete_failed", extra={"error": safe_message(exc)})
        self.seconds["spool_delete"] += self._clock() - t

    def _settle(self) -> None:
        """Wait for the pending spool delete (``spool_depth`` is exact afterwards)."""
        self._check_delete()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self._connection()
                n = self.ship_once()
                if n == 0 and self._clock() - self._last_ping >= self.ping_interval:
                    with self._watchdog(conn):  # idle: still notice a database that went away
                        conn.execute("SELECT 1").fetchone()
                    self._last_ping = self._clock()
            except Exception as exc:  # noqa: BLE001 - any failure: keep the spool, back off, retry
                self._failed(exc)
                self._stop.wait(self._next_backoff())
                continue
            self._ok()
            if n < self.batch_size:
                self._wake.wait(self._idle_wait)
                self._wake.clear()

    # --- connection -------------------------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self._close()
        conn = self._pg.connect(autocommit=True)
        try:
            if not self._pg.migrated:
                with self._watchdog(conn):
                    self._pg.migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        extra, self._extra = self._extra, []
        for c in extra:
            try:
                c.close()
            except Exception:  # noqa: BLE001, S110 - see below
                pass
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001, S110 - a broken connection may fail to close; it is gone either way
                pass

    @contextmanager
    def _watchdog(self, conn: Any):  # noqa: ANN202
        """Shut the socket down if the operation outlives ``op_timeout`` (the server stopped answering)."""
        timer = threading.Timer(self._op_timeout, self._abort, args=(conn,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _abort(self, conn: Any) -> None:
        self.watchdog_aborts += 1
        log.warning("tower.shipper.watchdog_abort", extra={"after_s": self._op_timeout})
        try:
            s = socket.socket(fileno=os.dup(conn.fileno()))
            try:
                s.shutdown(socket.SHUT_RDWR)
            finally:
                s.close()
        except OSError:
            pass

    # --- state ------------------------------------------------------------------------------------------------
    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self._close()
        reason = classify_error(exc)
        message = safe_message(exc, self._pg.password)
        if self.state != "down" or reason != self.reason:
            log.warning("tower.shipper.down", extra={"reason": reason, "error": message})
        if self.state != "down":
            self.down_since = self._clock()
        self.state, self.reason, self.last_error = "down", reason, message
        self._attempt += 1

    def _ok(self) -> None:
        if self.state == "down":
            self.reconnects += 1
            log.info("tower.shipper.up", extra={"down_s": round(self._clock() - (self.down_since or 0), 3)})
        self.state, self.reason, self.down_since = "ok", None, None
        self._attempt = 0

    def _next_backoff(self) -> float:
        delay = min(self._backoff_cap, self._backoff_base * 2 ** min(self._attempt - 1, 16))
        return delay * (0.5 + 0.5 * self._rng.random())

    def healthy(self) -> bool:
        return self.state == "ok"

    def health(self) -> dict[str, Any]:
        """The ``postgres`` health check: ok, or degraded with a reason (never the password)."""
        out: dict[str, Any] = {"status": "ok" if self.state == "ok" else "degraded", "state": self.state,
                               "dsn": self._pg.masked_dsn}
        if self.state != "ok":
            out["reason"] = self.reason or "connecting"
            out["error"] = self.last_error
            if self.down_since is not None:
                out["down_s"] = round(self._clock() - self.down_since, 1)
        return out

    def get_stats(self) -> dict[str, Any]:
        return {
            "state": self.state, "reason": self.reason, "last_error": self.last_error,
            "shipped": self.shipped, "inserted": self.inserted, "batches": self.batches, "errors": self.errors,
            "reconnects": self.reconnects, "watchdog_aborts": self.watchdog_aborts, "spool_depth": self.spool_depth,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "running": bool(self._thread and self._thread.is_alive()),
        }
