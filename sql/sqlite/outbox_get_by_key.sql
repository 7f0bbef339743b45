SELECT * FROM tower_outbox WHERE idempotency_key = :idempotency_key
