-- Refresh the planner's statistics (sampled: analytics_stats_limit runs first on the same connection).
ANALYZE
