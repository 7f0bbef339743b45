-- Indexes no query of ours reads any more (EXPLAIN QUERY PLAN over sql/sqlite/*.sql): each is a prefix of a wider
-- covering index or superseded by it. Every index costs the writer on every insert; the seed's own indexes stay on
-- PostgreSQL, where the seed's SQL runs.
DROP INDEX IF EXISTS idx_aom_start;
DROP INDEX IF EXISTS idx_aom_nodes;
DROP INDEX IF EXISTS idx_operation_type_time;
