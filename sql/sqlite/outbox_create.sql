-- The durable outbox of reports for Echo Brain and the KB (reliability/outbox.py). Times are epoch seconds.
CREATE TABLE IF NOT EXISTS tower_outbox (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    correlation_id   TEXT,
    created_at       REAL NOT NULL,
    next_attempt_at  REAL NOT NULL,
    window_start_at  REAL NOT NULL,
    delivered_at     REAL,
    dead_at          REAL
);
CREATE INDEX IF NOT EXISTS tower_outbox_due ON tower_outbox (status, next_attempt_at);
