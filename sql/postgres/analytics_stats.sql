-- Nothing to do: autovacuum keeps PostgreSQL's planner statistics (the SQLite twin runs a sampled ANALYZE).
SELECT 1 AS skipped
