SELECT * FROM anime_error_logs WHERE error_id = :error_id
