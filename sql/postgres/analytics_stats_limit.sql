-- Nothing to do (see analytics_stats).
SELECT 1 AS skipped
