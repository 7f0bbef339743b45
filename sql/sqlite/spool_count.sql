SELECT COUNT(*) FROM tower_spool
