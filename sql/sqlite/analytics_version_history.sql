-- Each (ComfyUI, extension) version pair recorded in [from_ts, until), with its first and last sighting (the
-- caller keeps a watermark and merges, so each call reads only the rows recorded since the previous one).
SELECT comfyui_version, extension_version, MIN(ts) AS first_seen, MAX(ts) AS last_seen
FROM (
    SELECT comfyui_version, extension_version, timestamp AS ts FROM anime_error_logs
    WHERE timestamp >= :from_ts AND timestamp < :until
    UNION ALL
    SELECT comfyui_version, extension_version, queued_at AS ts FROM tower_prompts
    WHERE queued_at >= :from_ts AND queued_at < :until
      AND (comfyui_version IS NOT NULL OR extension_version IS NOT NULL)
) v
GROUP BY comfyui_version, extension_version
