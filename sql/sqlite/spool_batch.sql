-- seq is the rowid (INTEGER PRIMARY KEY): a range scan of the table's own b-tree, no sort. :after lets the shipper
-- read the next batch while the previous one is still being committed (and not yet deleted).
SELECT seq, event_id, kind, payload FROM tower_spool WHERE seq > :after ORDER BY seq LIMIT :limit
