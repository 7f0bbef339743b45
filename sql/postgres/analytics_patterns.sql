-- Errors grouped by fingerprint over [prev_since, until): counts in the window [since, until) and in the
-- previous window [prev_since, since). Rows without a fingerprint group by category (a fingerprint hashes its
-- category, so grouping by both is grouping by fingerprint). Exception type, node class and template (also
-- hashed into the fingerprint) come from analytics_pattern_example for the patterns reported.
SELECT COALESCE(fingerprint, 'category=' || category) AS fingerprint,
       category, MAX(severity) AS severity,
       SUM(CASE WHEN timestamp >= CAST(:since AS TIMESTAMP) THEN 1 ELSE 0 END) AS count,
       SUM(CASE WHEN timestamp < CAST(:since AS TIMESTAMP) THEN 1 ELSE 0 END) AS previous_count,
       COUNT(DISTINCT CASE WHEN timestamp >= CAST(:since AS TIMESTAMP) THEN prompt_id END) AS prompts_affected,
       MIN(CASE WHEN timestamp >= CAST(:since AS TIMESTAMP) THEN timestamp END) AS first_seen,
       MAX(timestamp) AS last_seen
FROM anime_error_logs
WHERE timestamp >= CAST(:prev_since AS TIMESTAMP) AND timestamp < CAST(:until AS TIMESTAMP)
GROUP BY fingerprint, category
HAVING SUM(CASE WHEN timestamp >= CAST(:since AS TIMESTAMP) THEN 1 ELSE 0 END) > 0
