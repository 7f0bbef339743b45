SELECT * FROM tower_outbox
WHERE status = 'pending' AND next_attempt_at <= :now
ORDER BY next_attempt_at, created_at
LIMIT :limit
