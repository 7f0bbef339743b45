-- Sampled statistics (issue 5): the analytics' group-ordered indexes are read by skip-scan, which SQLite only
-- plans with ANALYZE statistics; a sample of a few hundred rows per index is enough and takes milliseconds.
PRAGMA analysis_limit = 400
