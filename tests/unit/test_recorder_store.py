"""The recorder and the embedded store: idempotent writes, forward-only prompt status, bounded queue, flush."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

from tower_sentinel.telemetry.events import ErrorEvent, OperationEvent, PromptEvent, new_id
from tower_sentinel.telemetry.recorder import Recorder
from tower_sentinel.telemetry.store import SQLiteStore

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _op(i: int = 0, **kw) -> OperationEvent:
    return OperationEvent(kw.pop("event_id", new_id()), operation_type="comfyui_execution", start_time=T0,
                          end_time=T0 + timedelta(seconds=i), success=True, **kw)


def test_same_event_twice_leaves_one_row(tmp_path):
    """Writing an event a second time (a retry, a replay) leaves exactly one row."""
    store = SQLiteStore(tmp_path / "s.db")
    ev = _op(3)
    err = ErrorEvent(new_id(), message="m", category="generation", severity="high", timestamp=T0)
    store.write_batch([ev, err])
    store.write_batch([ev, err])
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("SELECT COUNT(*), MAX(duration_seconds) FROM anime_operation_metrics").fetchone() == (1, 3.0)
    assert db.execute("SELECT COUNT(*) FROM anime_error_logs").fetchone()[0] == 1


def test_prompt_status_only_moves_forward(tmp_path):
    """A late `queued` or `running` never overwrites a terminal status; fields merge across events."""
    store = SQLiteStore(tmp_path / "s.db")
    pid = "p1"
    store.write_batch([PromptEvent(new_id(), prompt_id=pid, status="success", at=T0 + timedelta(seconds=5),
                                   finished_at=T0 + timedelta(seconds=5), execution_seconds=2.0)])
    store.write_batch([PromptEvent(new_id(), prompt_id=pid, status="queued", at=T0, correlation_id="c-1",
                                   queued_at=T0, queue_position=3),
                       PromptEvent(new_id(), prompt_id=pid, status="running", at=T0 + timedelta(seconds=1),
                                   started_at=T0 + timedelta(seconds=1), queue_wait_seconds=1.0)])
    rec = store.get_generation(pid)
    assert rec["status"] == "success"
    assert rec["correlation_id"] == "c-1" and rec["queue_position"] == 3
    assert rec["execution_seconds"] == 2.0 and rec["queue_wait_seconds"] == 1.0


def test_migrations_apply_once(tmp_path):
    """Opening the store again does not re-apply migrations; the tables and the indexes our queries read exist."""
    SQLiteStore(tmp_path / "s.db")
    SQLiteStore(tmp_path / "s.db")
    db = sqlite3.connect(tmp_path / "s.db")
    from tower_sentinel.telemetry.sqlfiles import migrations

    assert db.execute("SELECT COUNT(*) FROM tower_schema_migrations").fetchone()[0] == len(migrations("sqlite")) >= 1
    idx = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"idx_category_timestamp", "idx_severity_resolved", "idx_aom_window", "idx_tp_window"} <= idx
    # redundant for our queries, dropped for the writer's sake (migrations 008, 009); they stay on PostgreSQL
    assert not {"idx_aom_start", "idx_success_time", "idx_tp_queued"} & idx


def test_recorder_writes_in_background_and_flushes(tmp_path):
    """Events recorded from many threads are all committed; listeners see them only after commit."""
    store = SQLiteStore(tmp_path / "s.db")
    seen = []
    rec = Recorder(store, on_committed=[lambda evs: seen.extend(evs)])
    rec.start()
    try:
        def work(n):
            for i in range(n):
                assert rec.record(_op(i))
        threads = [threading.Thread(target=work, args=(500,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert rec.flush(10)
        n = sqlite3.connect(tmp_path / "s.db").execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0]
        assert n == 2000 and len(seen) == 2000
        assert rec.get_stats()["written"] == 2000 and rec.get_stats()["dropped"] == 0
    finally:
        rec.stop()


def test_full_queue_counts_drops_instead_of_blocking(tmp_path):
    """With the writer stopped and the queue full, record() returns False at once and counts the drop."""
    rec = Recorder(SQLiteStore(tmp_path / "s.db"), max_queue=10)
    results = [rec.record(_op(i)) for i in range(15)]
    assert results.count(True) == 10 and results.count(False) == 5
    assert rec.get_stats()["dropped"] == 5


def test_write_failure_keeps_events_and_retries(tmp_path):
    """A failing store write is counted and retried; nothing is lost once the store recovers."""
    store = SQLiteStore(tmp_path / "s.db")
    calls = {"n": 0}
    real = store.write_batch

    def flaky(events):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise sqlite3.OperationalError("database is locked")
        real(events)

    store.write_batch = flaky
    rec = Recorder(store)
    rec.start()
    try:
        for i in range(50):
            rec.record(_op(i))
        assert rec.flush(10)
        assert rec.get_stats()["write_errors"] == 2
        n = sqlite3.connect(tmp_path / "s.db").execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0]
        assert n == 50
    finally:
        rec.stop()


def test_coalesced_prompt_batch_equals_one_write_per_event(tmp_path):
    """A batch holding a prompt's queued/running/finished (and a late duplicate) stores the same row as writing
    each event in its own transaction."""
    evs = [
        PromptEvent(new_id(), prompt_id="p", status="queued", at=T0, correlation_id="c", queued_at=T0,
                    queue_position=2, inputs={"K.steps": 20}),
        PromptEvent(new_id(), prompt_id="p", status="running", at=T0 + timedelta(seconds=1),
                    started_at=T0 + timedelta(seconds=1), queue_wait_seconds=1.0, correlation_id="other"),
        PromptEvent(new_id(), prompt_id="p", status="error", at=T0 + timedelta(seconds=3), error_id="e1",
                    category="generation", finished_at=T0 + timedelta(seconds=3), execution_seconds=2.0),
        PromptEvent(new_id(), prompt_id="p", status="running", at=T0 + timedelta(seconds=2), queue_position=9),
        PromptEvent(new_id(), prompt_id="q", status="queued", at=T0, queued_at=T0),
    ]
    one_by_one, batched = SQLiteStore(tmp_path / "a.db"), SQLiteStore(tmp_path / "b.db")
    for ev in evs:
        one_by_one.write_batch([ev])
    batched.write_batch(evs)
    for pid in ("p", "q"):
        assert one_by_one.get_generation(pid) == batched.get_generation(pid)
    rec = batched.get_generation("p")
    assert rec["status"] == "error" and rec["correlation_id"] == "c" and rec["queue_position"] == 2


def _poll(fn, deadline_s=10.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.01)
    return fn()


def test_idle_writer_wakes_for_one_event(tmp_path):
    """An event recorded while the writer sleeps is committed within the linger time, without a flush."""
    store = SQLiteStore(tmp_path / "s.db")
    rec = Recorder(store, linger_s=0.01)
    rec.start()
    try:
        db = sqlite3.connect(tmp_path / "s.db")
        count = lambda: db.execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0]  # noqa: E731
        for expected in (1, 2):  # twice: the second event finds the writer asleep again
            assert _poll(lambda: rec._idle)  # the writer announced it sleeps
            t0 = time.monotonic()
            rec.record(_op(expected))
            assert _poll(lambda: count() == expected, 2.0), f"event {expected} not committed"
            assert time.monotonic() - t0 < 0.45  # woken, not found by the 0.5 s idle timeout
    finally:
        rec.stop()


def test_writer_tells_the_store_when_it_goes_idle_and_polls_its_sources(tmp_path):
    """After writing, the writer tells the store it goes idle (the SQLite store checkpoints then) once per write,
    not every time it wakes; what a poll returns is recorded, each time the writer wakes."""
    store = SQLiteStore(tmp_path / "s.db")
    idles = []
    store.on_idle = lambda: idles.append(time.monotonic())
    rec = Recorder(store, linger_s=0.01)
    polled = []

    def poll():  # one event, once the writer has gone idle a first time
        polled.append(len(idles))
        return (_op(100),) if idles and polled.count(1) == 1 else ()

    rec.add_poll(poll)
    rec.start()
    try:
        rec.record(_op(1))
        assert _poll(lambda: len(idles) == 1)
        assert _poll(lambda: rec.written == 2 and len(idles) == 2)  # the polled event, written, then idle again
        assert _poll(lambda: len(polled) >= 6)  # woken by its 0.5 s timeout: polls again, not idle again
        assert len(idles) == 2
    finally:
        rec.stop()


def test_flush_waits_only_for_events_before_it(tmp_path):
    """flush() returns once what was recorded before it is committed, and events after it are written too."""
    store = SQLiteStore(tmp_path / "s.db")
    rec = Recorder(store, batch_size=7)
    rec.start()
    try:
        for i in range(100):
            rec.record(_op(i))
        assert rec.flush(10)
        db = sqlite3.connect(tmp_path / "s.db")
        assert db.execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0] == 100
        for i in range(5):
            rec.record(_op(i))
        rec.stop()
        assert db.execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0] == 105
    finally:
        rec.stop()


def test_checkpoints_run_off_the_writer_thread(tmp_path, monkeypatch):
    """The writer's own auto-checkpoint is only a large backstop; the checkpointer thread moves the WAL into the
    database, so the WAL does not grow without bound and the rows are in the main file."""
    from tower_sentinel.telemetry import store as store_mod

    monkeypatch.setattr(store_mod, "CHECKPOINT_EVERY_ROWS", 500)
    store = SQLiteStore(tmp_path / "s.db")
    for k in range(10):
        store.write_batch([_op(i) for i in range(k * 100, k * 100 + 100)])
    conn = store._conn()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == store_mod.WRITER_AUTOCHECKPOINT_PAGES
    assert _poll(lambda: store.checkpoints >= 1)
    thread = store._ckpt_thread
    assert thread is not None and thread.is_alive() and thread is not threading.current_thread()
    # the recorder's writer going idle checkpoints what is left at once, not at a later random moment
    before = store.checkpoints
    store.write_batch([_op(i) for i in range(2000, 2010)])
    store.on_idle()
    assert _poll(lambda: store.checkpoints > before, deadline_s=5)
    store.close()
    assert not thread.is_alive()
    # everything checkpointed: a reader of the main file alone (WAL removed) sees the rows
    ro = sqlite3.connect(f"file:{tmp_path / 's.db'}?mode=ro", uri=True)
    assert ro.execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0] >= 500


def test_positional_statements_match_named(tmp_path):
    """The writer's positional form of a named statement binds the same values as the named one."""
    from tower_sentinel.telemetry.sqlfiles import positional, sql

    text, params = positional("sqlite", "insert_operation")
    assert "?" in text and ":" not in text.split("VALUES")[1]
    row = _op(2, prompt_id="p", node_class="K").to_row()
    a, b = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for db in (a, b):
        db.execute("CREATE TABLE anime_operation_metrics (operation_id PRIMARY KEY, operation_type, start_time, "
                    "end_time, duration_seconds, success, error_details, context, correlation_id, prompt_id, "
                    "instance_id, node_id, node_class, status, category, cached, comfyui_version)")
    a.execute(text, params(row))
    b.execute(sql("sqlite", "insert_operation"), row)
    q = "SELECT * FROM anime_operation_metrics"
    assert a.execute(q).fetchall() == b.execute(q).fetchall()
    assert positional("sqlite", "spool_insert")[1]({"event_id": "e", "kind": "k", "payload": "{}"}) == ("e", "k", "{}")


def test_outcome_in_the_same_batch_supersedes_running(tmp_path):
    """The running update is skipped when the prompt's outcome (carrying the start) is in the batch: the stored
    row equals writing every event on its own, and a running update without such an outcome still lands."""
    from tower_sentinel.telemetry.store import drop_superseded_running

    t = 1_780_000_000.0
    evs = [
        PromptEvent(new_id(), prompt_id="p", status="queued", at=t, correlation_id="c", queued_at=t, queue_position=1,
                    prompt={"1": {"class_type": "K", "inputs": {"steps": 4}}}),
        PromptEvent(new_id(), prompt_id="p", status="running", at=t + 1, started_at=t + 1, queue_wait_seconds=1.0,
                    correlation_id="c", client_id="cl"),
        PromptEvent(new_id(), prompt_id="p", status="success", at=t + 2, started_at=t + 1, finished_at=t + 2,
                    queue_wait_seconds=1.0, execution_seconds=1.0, correlation_id="c", client_id="cl"),
        PromptEvent(new_id(), prompt_id="r", status="running", at=t + 1, started_at=t + 1, queue_wait_seconds=0.5),
    ]
    kept = drop_superseded_running(evs)
    assert [(e.prompt_id, e.status) for e in kept] == [("p", "queued"), ("p", "success"), ("r", "running")]
    one_by_one, batched = SQLiteStore(tmp_path / "a.db"), SQLiteStore(tmp_path / "b.db")
    for ev in evs:
        one_by_one.write_batch([ev])
    batched.write_batch(evs)
    for pid in ("p", "r"):
        a, b = one_by_one.get_generation(pid), batched.get_generation(pid)
        assert a == b and a is not None
    assert b["status"] == "running" and batched.get_generation("p")["inputs"] == {"K.steps": 4}


def test_operation_params_match_rows():
    """The writer's tuple for an operation is the row's values in the insert's column order."""
    from tower_sentinel.telemetry import store as store_mod

    assert store_mod._OPS_DIRECT
    for ev in (_op(2, prompt_id="p", node_class="K", context={"a": [1]}, error_details={"e": 1}, cached=True),
               OperationEvent(new_id(), operation_type="node_execution", start_time=1.5, end_time=2.25, success=False),
               OperationEvent(new_id(), operation_type="x", start_time=T0)):
        row = ev.to_row()
        assert ev.to_params() == tuple(row[c] for c in OperationEvent.COLUMNS)


def test_deferred_work_expands_on_the_writer_and_a_bug_in_it_loses_nothing_else(tmp_path):
    """A hook's Deferred item becomes its events on the writer thread, in queue order; one that raises is counted
    (health shows it) and the events around it are still written."""
    from tower_sentinel.telemetry.events import Deferred

    store = SQLiteStore(tmp_path / "s.db")
    rec = Recorder(store, linger_s=0.01)
    threads = []

    def expand(i):
        threads.append(threading.current_thread().name)
        return [_op(i, event_id=f"d{i}")]

    def broken():
        raise KeyError("capture bug")

    rec.start()
    try:
        rec.record(_op(1, event_id="a"))
        rec.record(Deferred(expand, (2,)))
        rec.record(Deferred(broken, ()))
        rec.record(_op(3, event_id="b"))
        assert rec.flush(10)
        db = sqlite3.connect(tmp_path / "s.db")
        ids = [r[0] for r in db.execute("SELECT operation_id FROM anime_operation_metrics ORDER BY id")]
        assert ids == ["a", "d2", "b"]
        assert threads == ["tower-recorder"]
        assert rec.get_stats()["deferred_errors"] == 1
    finally:
        rec.stop()


def test_polite_writer_pauses_only_while_it_keeps_up(tmp_path, monkeypatch):
    """Inside ComfyUI the writer pauses every few items (handing the GIL over) and gives listeners slices of the
    batch; with a backlog of a full batch or more it writes flat out. Either way every event is written once and
    every listener sees each committed event exactly once."""
    from tower_sentinel.telemetry import gil

    pauses = []
    monkeypatch.setattr(gil, "pause", lambda: pauses.append(1))
    store = SQLiteStore(tmp_path / "s.db")
    polite_calls = []
    real_set = store.set_pause
    store.set_pause = lambda p: (polite_calls.append(p is not None), real_set(p))
    seen, slices = [], []

    def listener(evs):
        slices.append(len(evs))
        seen.extend(evs)

    rec = Recorder(store, polite=True, batch_size=500, linger_s=0.01, on_committed=[listener])
    rec.start()
    try:
        for i in range(100):  # a shallow queue: polite
            rec.record(_op(i))
        assert rec.flush(10)
        assert rec.polite_batches >= 1 and pauses and polite_calls[-1] is True
        assert max(slices) <= gil.LISTENER_SLICE
        rec.stop()
        # a backlog of more than a batch, recorded before the writer starts: no pauses for those batches
        rec2 = Recorder(store, polite=True, batch_size=500, on_committed=[listener])
        for i in range(2000):
            rec2.record(_op(i))
        pauses.clear()
        polite_calls.clear()
        rec2.start()
        assert rec2.flush(20)
        assert polite_calls[0] is False
        rec2.stop()
        db = sqlite3.connect(tmp_path / "s.db")
        assert db.execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0] == 2100
        assert len(seen) == 2100 and len({e.event_id for e in seen}) == 2100
    finally:
        rec.stop()


class _Producer:
    """Records an event every millisecond on its own thread, as ComfyUI's hooks do under a flood of prompts."""

    def __init__(self, rec: Recorder) -> None:
        self.rec, self.stop, self.n = rec, threading.Event(), 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.rec.record(_op(self.n))
            self.n += 1
            time.sleep(0.001)

    def __enter__(self) -> _Producer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def test_writer_waits_for_a_quiet_gap_but_not_past_its_limit(tmp_path):
    """While events keep arriving the writer waits (up to its limit) instead of competing with ComfyUI's threads;
    a gap of quiet_s ends the wait at once."""
    rec = Recorder(SQLiteStore(tmp_path / "s.db"), linger_s=0.0, max_delay_s=5.0, quiet_s=0.5)
    t0 = time.monotonic()
    assert rec._await_quiet(t0 + 5.0) is True  # nothing arrives: quiet after one quiet_s
    assert time.monotonic() - t0 < 2.5
    with _Producer(rec) as p:
        t0 = time.monotonic()
        assert rec._await_quiet(t0 + 1.5) is False  # never quiet: gives up at the limit
        waited = time.monotonic() - t0
        assert p.n > 100
    assert 1.5 <= waited < 4.0
    assert rec.get_stats()["quiet_waits"] >= 2


def test_flush_is_not_held_up_by_the_quiet_wait(tmp_path):
    """A flush (tests, shutdown) ends the writer's wait for quiet: it returns long before the wait's limit, with
    everything recorded before it written."""
    store = SQLiteStore(tmp_path / "s.db")
    rec = Recorder(store, linger_s=0.01, max_delay_s=30.0, quiet_s=0.5)
    rec.start()
    try:
        with _Producer(rec):
            deadline = time.monotonic() + 10
            while rec.enqueued < 50 and time.monotonic() < deadline:
                time.sleep(0.01)
            t0 = time.monotonic()
            mark = rec.enqueued
            assert rec.flush(20)
            assert time.monotonic() - t0 < 10
        db = sqlite3.connect(tmp_path / "s.db")
        assert db.execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0] >= mark
    finally:
        rec.stop()


def test_after_a_quiet_gap_the_writer_pauses_only_once_events_arrive_again(tmp_path, monkeypatch):
    """Pausing costs CPU: after a quiet gap the writer runs flat out, and goes back to pausing for the GIL as soon
    as ComfyUI records something again."""
    from tower_sentinel.telemetry import gil

    pauses = []
    monkeypatch.setattr(gil, "pause", lambda: pauses.append(1))
    rec = Recorder(SQLiteStore(tmp_path / "s.db"), polite=True, max_delay_s=2.0)
    rec._quiet_mark = rec.enqueued
    rec._pause_if_busy()
    assert pauses == []
    rec.record(_op(1))
    rec._pause_if_busy()
    assert pauses == [1]


def test_writer_commits_in_chunks_while_it_keeps_up(tmp_path):
    """With ``chunk`` set (inside ComfyUI), what the writer found after its wait is committed in transactions of
    at most ``chunk`` items, one after another without waiting again; a backlog of a full batch or more is written
    in full batches. Nothing is lost or written twice."""
    store = SQLiteStore(tmp_path / "s.db")
    sizes = []
    real = store.write_batch
    store.write_batch = lambda evs: (sizes.append(len(evs)), real(evs))
    rec = Recorder(store, linger_s=1.0, chunk=16, batch_size=1000)
    for i in range(100):
        rec.record(_op(i))
    rec.start()
    try:
        deadline = time.monotonic() + 5  # 7 chunks with a 1 s linger before each would take 7 s
        while rec.written < 100 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rec.written == 100
        assert max(sizes) <= 16 and sum(sizes) == 100 and len(sizes) == 7
        sizes.clear()
        rec.stop()
        big = Recorder(store, chunk=16, batch_size=200)
        for i in range(450):
            big.record(_op(i))
        big.start()
        assert big.flush(10)
        assert max(sizes) == 200
        big.stop()
        db = sqlite3.connect(tmp_path / "s.db")
        assert db.execute("SELECT COUNT(*) FROM anime_operation_metrics").fetchone()[0] == 550
    finally:
        rec.stop()
