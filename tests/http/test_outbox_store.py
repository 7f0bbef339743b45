"""The OutboxStore contract, run against the in-memory store and the SQLite store; SQLite durability."""

from __future__ import annotations

import pytest
from tower_sentinel.reliability.outbox import MemoryOutboxStore, OutboxItem
from tower_sentinel.reliability.outbox_sqlite import SQLiteOutboxStore


def item(n: int, *, at: float = 100.0, key: str | None = None) -> OutboxItem:
    return OutboxItem(id=f"id{n}", kind="kb_article", payload={"title": f"t{n}", "n": n},
                      idempotency_key=key or f"key{n}", created_at=at, next_attempt_at=at, window_start_at=at,
                      correlation_id=f"c{n}")


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryOutboxStore()
    else:
        s = SQLiteOutboxStore(tmp_path / "tower.db")
        yield s
        s.close()


def test_add_is_idempotent_by_key(store):
    """Adding an item whose idempotency key is already stored returns the stored one and adds nothing."""
    first = store.add(item(1))
    again = store.add(item(2, key="key1"))
    assert again.id == first.id == "id1" and again.payload == {"title": "t1", "n": 1}
    assert store.stats(now=100)["pending"] == 1


def test_due_orders_by_next_attempt_and_limits(store):
    """due() returns pending items whose time has come, earliest first, at most `limit`."""
    for n, at in ((1, 30.0), (2, 10.0), (3, 20.0), (4, 99.0)):
        store.add(item(n, at=at))
    assert [i.id for i in store.due(50.0, 10)] == ["id2", "id3", "id1"]
    assert [i.id for i in store.due(50.0, 2)] == ["id2", "id3"]


def test_failure_delivery_dead_and_requeue(store):
    """mark_failed counts the attempt and reschedules; delivered and dead items are no longer due; requeue makes a
    dead letter due now with a fresh window; a delivered item cannot be requeued."""
    store.add(item(1))
    store.add(item(2))
    store.mark_failed("id1", "HTTP 503", 500.0)
    got = store.get("id1")
    assert (got.attempts, got.last_error, got.next_attempt_at) == (1, "HTTP 503", 500.0)
    assert [i.id for i in store.due(200.0, 10)] == ["id2"]
    store.mark_delivered("id2", now=210.0)
    store.mark_dead("id1", "gave up", now=220.0)
    assert store.due(1e9, 10) == []
    assert store.stats(now=300) == {"pending": 0, "delivered": 1, "dead": 1, "oldest_pending_age_s": None}
    assert [i.id for i in store.list("dead")] == ["id1"]
    assert store.requeue("id1", now=400.0) is True
    again = store.get("id1")
    assert (again.status, again.next_attempt_at, again.window_start_at, again.attempts) == ("pending", 400.0, 400.0, 1)
    assert store.requeue("id2", now=400.0) is False
    assert store.requeue("missing", now=400.0) is False


def test_purge_delivered(store):
    """Delivered items older than the cut are deleted; pending ones never are."""
    store.add(item(1))
    store.add(item(2))
    store.mark_delivered("id1", now=150.0)
    assert store.purge_delivered(200.0) == 1
    assert store.get("id1") is None and store.get("id2") is not None


def test_sqlite_store_survives_reopening(tmp_path):
    """What was added and its state are still there after the store (the process) is closed and reopened."""
    path = tmp_path / "tower.db"
    s = SQLiteOutboxStore(path)
    s.add(item(1))
    s.mark_failed("id1", "down", 123.0)
    s.close()
    s2 = SQLiteOutboxStore(path)
    got = s2.get("id1")
    assert got.payload == {"title": "t1", "n": 1} and got.attempts == 1 and got.correlation_id == "c1"
    s2.close()


def test_expedite_makes_a_kinds_waiting_items_due_now(store):
    """When a service recovers, its waiting items become due at once; other kinds keep their backoff."""
    store.add(item(1, at=100.0))
    store.mark_failed("id1", "503", 5_000.0)
    other = OutboxItem(id="e1", kind="echo_feedback", payload={}, idempotency_key="e1", created_at=100.0,
                       next_attempt_at=5_000.0, window_start_at=100.0)
    store.add(other)
    assert store.due(200.0, 10) == []
    assert store.expedite("kb_article", now=200.0) == 1
    assert [i.id for i in store.due(200.0, 10)] == ["id1"]
