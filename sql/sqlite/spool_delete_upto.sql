DELETE FROM tower_spool WHERE seq <= :seq
