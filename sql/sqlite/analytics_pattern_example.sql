-- The most recent error of one fingerprint in [since, until), with its prompt's recorded inputs (and the exception
-- type, node class and template every error of the fingerprint shares).
SELECT e.error_id, e.prompt_id, e.timestamp, e.message, e.node_id, e.comfyui_version, e.extension_version,
       e.exception_type, e.node_class, e.template,
       p.inputs
FROM anime_error_logs e
LEFT JOIN tower_prompts p ON p.prompt_id = e.prompt_id
WHERE e.fingerprint = :fingerprint AND e.timestamp >= :since AND e.timestamp < :until
ORDER BY e.timestamp DESC, e.error_id DESC
LIMIT 1
