-- Prompts queued in [since, until) by status.
SELECT status, COUNT(*) AS prompts
FROM tower_prompts
WHERE queued_at >= CAST(:since AS TIMESTAMP) AND queued_at < CAST(:until AS TIMESTAMP)
GROUP BY status
