-- Flags of the most recent quality scores in [since, until) (counted by the caller).
SELECT flags FROM tower_quality_scores
WHERE created_at >= CAST(:since AS TIMESTAMP) AND created_at < CAST(:until AS TIMESTAMP) AND flags IS NOT NULL
ORDER BY created_at DESC
LIMIT :limit
