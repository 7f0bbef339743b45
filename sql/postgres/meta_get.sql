SELECT value FROM tower_meta WHERE key = :key
