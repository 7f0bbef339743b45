-- Exception type, failing node class and template of the errors without a fingerprint of one category over
-- [prev_since, until) (their pattern is 'category=<category>'; fingerprinted patterns read these from an example).
SELECT MAX(exception_type) AS exception_type, MAX(node_class) AS node_class, MAX(template) AS template
FROM anime_error_logs
WHERE fingerprint IS NULL AND category = :category
  AND timestamp >= CAST(:prev_since AS TIMESTAMP) AND timestamp < CAST(:until AS TIMESTAMP)
