-- Prompts queued in [since, until) by status.
SELECT status, COUNT(*) AS prompts
FROM tower_prompts
WHERE queued_at >= :since AND queued_at < :until
GROUP BY status
