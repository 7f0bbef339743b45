-- Flags of the most recent quality scores in [since, until) (counted by the caller).
SELECT flags FROM tower_quality_scores
WHERE created_at >= :since AND created_at < :until AND flags IS NOT NULL
ORDER BY created_at DESC
LIMIT :limit
