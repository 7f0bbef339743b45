-- Each (ComfyUI, extension) version pair ever recorded before :until, with when it was first and last seen.
SELECT comfyui_version, extension_version, MIN(ts) AS first_seen, MAX(ts) AS last_seen
FROM (
    SELECT comfyui_version, extension_version, timestamp AS ts FROM anime_error_logs
    WHERE timestamp < :until
    UNION ALL
    SELECT comfyui_version, extension_version, queued_at AS ts FROM tower_prompts
    WHERE queued_at < :until AND (comfyui_version IS NOT NULL OR extension_version IS NOT NULL)
) v
GROUP BY comfyui_version, extension_version
