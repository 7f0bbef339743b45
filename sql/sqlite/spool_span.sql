-- The spool is deleted only by prefix (seq <= n), so what is left is contiguous: its depth without a scan.
SELECT COALESCE(MAX(seq) - MIN(seq) + 1, 0) FROM tower_spool
