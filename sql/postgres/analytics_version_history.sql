-- Each (ComfyUI, extension) version pair recorded in [from_ts, until), with its first and last sighting (the
-- caller keeps a watermark and merges, so each call reads only the rows recorded since the previous one).
SELECT comfyui_version, extension_version, MIN(ts) AS first_seen, MAX(ts) AS last_seen
FROM (
    SELECT comfyui_version, extension_version, timestamp AS ts FROM anime_error_logs
    WHERE timestamp >= CAST(:from_ts AS TIMESTAMP) AND timestamp < CAST(:until AS TIMESTAMP)
    UNION ALL
    SELECT comfyui_version, extension_version, queued_at AS ts FROM tower_prompts
    WHERE queued_at >= CAST(:from_ts AS TIMESTAMP) AND queued_at < CAST(:until AS TIMESTAMP)
      AND (comfyui_version IS NOT NULL OR extension_version IS NOT NULL)
) v
GROUP BY comfyui_version, extension_version
