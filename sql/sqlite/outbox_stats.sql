SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest_created_at
FROM tower_outbox
GROUP BY status
