SELECT seq, event_id, kind, payload FROM tower_spool ORDER BY seq LIMIT :limit
