UPDATE tower_outbox
SET attempts = attempts + 1, last_error = :error, next_attempt_at = :next_attempt_at
WHERE id = :id
