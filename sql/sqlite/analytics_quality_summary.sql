-- Quality scores created in [since, until): count, mean score, gated and passed counts.
SELECT COUNT(*) AS n, AVG(score) AS avg_score,
       SUM(CASE WHEN passed IS NOT NULL THEN 1 ELSE 0 END) AS n_gated,
       SUM(CASE WHEN passed THEN 1 ELSE 0 END) AS n_passed
FROM tower_quality_scores
WHERE created_at >= :since AND created_at < :until
