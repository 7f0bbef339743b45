INSERT INTO tower_outbox (id, kind, payload, idempotency_key, status, attempts, last_error, correlation_id,
                          created_at, next_attempt_at, window_start_at, delivered_at, dead_at)
VALUES (:id, :kind, :payload, :idempotency_key, :status, :attempts, :last_error, :correlation_id,
        :created_at, :next_attempt_at, :window_start_at, :delivered_at, :dead_at)
ON CONFLICT (idempotency_key) DO NOTHING
